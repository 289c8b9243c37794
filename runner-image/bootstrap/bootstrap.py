# codeexec runner bootstrap.
#
# The runner's sandbox helper execs `python3 -I -B -c <this file>` after it
# has applied the rlimits, the namespaces and the uid drop. This file then:
#   1. reads its task from fd 3 (header lines, then the user's code) and
#      closes it;
#   2. loads the --input tables with pandas (only when there are inputs);
#   3. compiles the code as "<code>" (SyntaxError -> CompilationError);
#   4. installs an audit hook that refuses process creation, sockets,
#      ctypes calls and writes outside the scratch dir (defence in depth:
#      the kernel limits are the boundary, the hook gives the clear reason);
#   5. runs the code in a fresh __main__ with `pd` and `np` as lazy modules;
#   6. converts `result` to strict JSON and writes it as one frame on the
#      result channel, an fd moved to a random number and closed on exec.
#
# Frames are `CX1 <nonce> <kind> <length>\n<payload>`; the nonce comes from
# the runner over fd 3, so output printed by user code, or bytes it writes
# blindly to file descriptors, never pass for a frame. The runner trusts a
# frame only as far as the process exit status agrees with it.
#
# Everything lives inside _main so that user code finds no helpers in
# module globals, and every builtin the bootstrap needs after user code ran
# is bound to a local before user code runs (poisoned builtins do not
# reach it).


def _main():
    import builtins
    import os
    import sys

    _os_read, _os_write, _os_close, _exit = os.read, os.write, os.close, os._exit
    _getpid, _realpath, _fsdecode, _getcwd = os.getpid, os.path.realpath, os.fsdecode, os.getcwd
    _type, _isinstance, _len, _id, _str, _int, _float = type, isinstance, len, id, str, int, float
    _repr, _getattr, _sorted, _min, _range = repr, getattr, sorted, min, range
    _int_repr, _float_repr, _str_str = int.__repr__, float.__repr__, str.__str__
    _dict_items, _list_copy, _tuple_iter = dict.items, list.copy, tuple.__iter__
    _join, _encode = "".join, str.encode
    _modules = sys.modules
    _BaseException, _Exception, _MemoryError = BaseException, Exception, MemoryError
    _SystemExit, _RecursionError, _PermissionError = SystemExit, RecursionError, PermissionError
    _bytes_fromhex = bytes.fromhex
    _memoryview, _enumerate, _max, _import = memoryview, enumerate, max, __import__
    _ConvertError, _convert = ConvertError, convert

    # ---- 1. the task --------------------------------------------------
    chunks = []
    while True:
        b = _os_read(3, 1 << 20)
        if not b:
            break
        chunks.append(b)
    _os_close(3)
    task = b"".join(chunks)
    chunks = None
    head, _, rest = task.partition(b"\n")
    fields = head.split(b" ")
    if len(fields) != 7 or fields[0] != b"CX1":
        _exit(70)
    nonce = fields[1]
    chan_fd = _int(fields[2])
    max_output = _int(fields[3])
    audit = fields[4] == b"1"
    nin = _int(fields[5])
    nofile = _int(fields[6])
    line, _, rest = rest.partition(b"\n")
    scratch = _bytes_fromhex(line.decode()).decode("utf-8", "surrogateescape")
    input_specs = []
    for _ in _range(nin):
        line, _, rest = rest.partition(b"\n")
        fd, fmt, name = line.split(b" ")
        input_specs.append((_int(fd), fmt.decode(), _bytes_fromhex(name.decode()).decode("utf-8", "surrogateescape")))
    code = rest
    task = rest = None

    # Move the result channel out of the way: a random fd number, closed
    # on exec, so that subprocesses never inherit it and blind writes to
    # small fds never reach it.
    hi = 64 + _int.from_bytes(os.urandom(2), "little") % _min(1024, max(nofile - 65, 1))
    try:
        os.dup2(chan_fd, hi, inheritable=False)
        _os_close(chan_fd)
        chan_fd = hi
    except OSError:
        os.set_inheritable(chan_fd, False)

    my_pid = _getpid()
    frame_prefix = b"CX1 " + nonce + b" "

    def send(kind, payload):
        # Only the original process reports; forked copies stay silent.
        if _getpid() != my_pid:
            return
        data = frame_prefix + kind + b" " + _encode(_str(_len(payload))) + b"\n" + payload
        view = _memoryview(data)
        while view:
            n = _os_write(chan_fd, view)
            view = view[n:]

    # The one allocation-free report for MemoryError.
    mem_frame = b'{"reason":"MemoryLimitExceeded","type":"MemoryError","message":"MemoryError: the code ran out of memory"}'

    # ---- JSON encoding helpers (no json import: it costs ~15 ms) ------
    esc_holder = []

    def esc(s):
        if not esc_holder:
            try:
                from _json import encode_basestring_ascii
            except ImportError:  # pragma: no cover - CPython always has it
                def encode_basestring_ascii(x):
                    out = ['"']
                    for ch in x:
                        o = ord(ch)
                        if ch == '"' or ch == "\\":
                            out.append("\\" + ch)
                        elif 0x20 <= o < 0x7F:
                            out.append(ch)
                        elif o < 0x10000:
                            out.append("\\u%04x" % o)
                        else:
                            o -= 0x10000
                            out.append("\\u%04x\\u%04x" % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF)))
                    out.append('"')
                    return "".join(out)
            esc_holder.append(encode_basestring_ascii)
        return esc_holder[0](s)

    def simple_json(d):
        parts = []
        for k, v in _dict_items(d):
            if v is None:
                continue
            if _type(v) is _int:
                vs = _int_repr(v)
            else:
                vs = esc(_str(v))
            parts.append(esc(k) + ":" + vs)
        return _encode("{" + ",".join(parts) + "}", "ascii")

    def send_error(reason, etype, message, **extra):
        d = {"reason": reason, "type": etype, "message": message}
        d.update(extra)
        send(b"error", simple_json(d))

    # ---- 2. inputs ----------------------------------------------------
    parent_dataframes = []
    inputs = {}
    if input_specs:
        try:
            import pandas
        except _BaseException as e:
            send_error("InvalidInput", _type(e).__name__, "cannot import pandas to load the inputs: %s" % (e,))
            _exit(0)
        for fd, fmt, name in input_specs:
            try:
                with open(fd, "rb", closefd=True) as f:
                    if fmt == "json":
                        df = pandas.read_json(f)
                    else:
                        df = pandas.read_csv(f)
            except _BaseException as e:
                send_error("InvalidInput", _type(e).__name__, "input %s: %s: %s" % (name, _type(e).__name__, _str(e)[:2000]))
                _exit(0)
            parent_dataframes.append(df)
            inputs[name] = df

    # ---- 3. compile ---------------------------------------------------
    try:
        code_obj = compile(code, "<code>", "exec", dont_inherit=True)
    except SyntaxError as e:
        line = e.lineno or 1
        col = e.offset or 1
        msg = "%s: %s (line %d:%d)" % (_type(e).__name__, e.msg, line, col)
        text = ""
        if e.text:
            t = e.text.rstrip("\n")
            text = '  File "<code>", line %d\n    %s\n    %s^\n%s: %s\n' % (
                line, t, " " * _min(max(col - 1, 0), _len(t)), _type(e).__name__, e.msg)
        send_error("CompilationError", _type(e).__name__, msg, line=line, col=col, traceback=text)
        _exit(0)
    except (ValueError, TypeError) as e:  # null bytes, bad encoding declarations
        send_error("CompilationError", _type(e).__name__, "%s: %s (line 1:1)" % (_type(e).__name__, e), line=1, col=1)
        _exit(0)

    # ---- 4. the audit hook --------------------------------------------
    class SecurityViolation(_PermissionError):
        """Raised when the sandbox refuses an operation."""

    SecurityViolation.__qualname__ = "SecurityViolation"
    SecurityViolation.__module__ = "builtins"

    violations = [0]
    scratch_real = _realpath(scratch)
    scratch_prefix = scratch_real.rstrip("/") + "/"
    write_ok = ("/dev/null", "/dev/stdout", "/dev/stderr")

    def refuse(event, detail):
        violations[0] += 1
        msg = "%s refused: %s" % (event, detail)
        if violations[0] == 1:
            try:
                send(b"violation", simple_json({"event": event, "message": msg[:1000]}))
            except _BaseException:
                pass
        raise SecurityViolation(msg)

    def outside(path):
        if _type(path) is _int:
            return False
        try:
            p = _fsdecode(path)
        except _BaseException:
            return True
        if p in write_ok:
            return False
        if not p.startswith("/"):
            p = _getcwd() + "/" + p
        r = _realpath(p)
        return not (r == scratch_real or r.startswith(scratch_prefix))

    def check_paths(event, paths):
        for p in paths:
            if outside(p):
                refuse(event, "%r is outside the scratch dir" % (p,))

    process_events = frozenset((
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "pty.spawn", "os.startfile",
    ))
    refused_events = frozenset((
        "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.string_at",
        "ctypes.wstring_at", "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.set_errno",
        "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
        "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
        "socket.gethostbyaddr", "socket.getnameinfo", "socket.sethostname",
        "resource.setrlimit", "resource.prlimit", "os.chroot", "sqlite3.enable_load_extension",
        "sqlite3.load_extension", "sys.remote_exec", "os.setxattr", "os.removexattr",
        "ctypes.PyObj_FromPtr",
    ))
    path1_events = frozenset((
        "os.mkdir", "os.rmdir", "os.remove", "os.truncate", "os.chmod", "os.chown",
        "os.utime", "os.chflags", "os.lchflags", "os.lchmod", "os.mkfifo", "os.mknod",
    ))
    path2_events = frozenset(("os.rename", "os.link"))
    watched = process_events | refused_events | path1_events | path2_events | frozenset((
        "open", "os.symlink", "ctypes.dlopen", "socket.__new__", "os.kill", "os.killpg",
        "sqlite3.connect",
    ))
    write_modes = frozenset("wax+")

    def hook(event, args):
        if event not in watched:
            return
        if event == "open":
            path, mode, flags = args
            if mode is not None:
                if _type(mode) is _str:
                    for ch in mode:
                        if ch in write_modes:
                            check_paths("open", (path,))
                            return
                return
            if _type(flags) is _int and flags & 0o1103:  # O_WRONLY|O_RDWR|O_CREAT|O_TRUNC
                check_paths("open", (path,))
            return
        if event in process_events:
            a = args[1] if _len(args) > 1 else args
            if event == "subprocess.Popen" and a in (["uname", "-p"], ("uname", "-p")):
                # platform.processor(), probed by pandas' import: refuse quietly.
                raise _PermissionError("process creation is not available")
            refuse(event, _repr(args)[:300])
        if event in refused_events:
            refuse(event, _repr(args)[:300])
        if event in path1_events:
            check_paths(event, args[:1])
            return
        if event in path2_events:
            check_paths(event, args[:2])
            return
        if event == "os.symlink":
            check_paths(event, args[1:2])
            return
        if event == "ctypes.dlopen":
            if args[0] is not None:  # `import ctypes` opens the main program
                refuse(event, _repr(args)[:300])
            return
        if event == "socket.__new__":
            if args[1] != 1:  # AF_UNIX (socketpair for asyncio) is allowed
                refuse(event, "family %r" % (args[1],))
            return
        if event == "os.kill" or event == "os.killpg":
            if event == "os.killpg" or args[0] != _getpid():
                refuse(event, _repr(args)[:300])
            return
        if event == "sqlite3.connect":
            db = args[0]
            if db in (":memory:", "", b":memory:", b""):
                return
            if _isinstance(db, (_str, bytes)) and _fsdecode(db).startswith("file:"):
                refuse(event, "URI databases are refused")
            check_paths(event, (db,))

    if audit:
        # _posixsubprocess.fork_exec forks without an audit event of its own.
        try:
            import _posixsubprocess

            def fork_exec(*a, **k):
                refuse("_posixsubprocess.fork_exec", _repr(a[:1])[:300])

            _posixsubprocess.fork_exec = fork_exec
        except ImportError:  # pragma: no cover
            pass
        sys.addaudithook(hook)

    # Python ignores SIGXCPU when it is PID 1 of a namespace (the kernel
    # drops default-action signals to a namespace's init): exit on it.
    if my_pid == 1:
        import _signal
        _signal.signal(24, lambda s, f: _exit(152))

    # ---- 5. run the code ----------------------------------------------
    ModuleType = _type(sys)

    class LazyModule(ModuleType):
        def __getattr__(self, attr):
            real = _import(self.__dict__["_cx_module"])
            g = self.__dict__["_cx_globals"]
            if g.get(self.__name__) is self:
                g[self.__name__] = real
            return _getattr(real, attr)

        def __repr__(self):
            return "<lazy module %r>" % (self.__dict__["_cx_module"],)

    main_mod = ModuleType("__main__")
    g = main_mod.__dict__
    g["__builtins__"] = builtins
    for alias, real in (("pd", "pandas"), ("np", "numpy")):
        m = LazyModule(alias)
        m.__dict__["_cx_module"] = real
        m.__dict__["_cx_globals"] = g
        g[alias] = m
    g["parent_dataframes"] = parent_dataframes
    g["inputs"] = inputs
    _modules["__main__"] = main_mod
    sys.argv = ["<code>"]
    out, err = sys.stdout, sys.stderr
    try:
        out.reconfigure(line_buffering=True)
    except _BaseException:
        pass

    def flush():
        for s in (out, err):
            try:
                s.flush()
            except _BaseException:
                pass

    def user_traceback(e):
        try:
            import linecache
            import traceback
            src = code.decode("utf-8", "replace").splitlines(True)
            linecache.cache["<code>"] = (_len(code), None, src, "<code>")
            frames = traceback.extract_tb(e.__traceback__)
            start = 0
            for i, fr in _enumerate(frames):
                if fr.filename == "<code>":
                    start = i
                    break
            # The bootstrap's own frames ("<string>": the audit hook, the
            # runner of the code) are not the user's business.
            frames = [fr for fr in frames[start:] if fr.filename != "<string>"]
            line = 0
            for fr in frames:
                if fr.filename == "<code>":
                    line = fr.lineno or 0
            if _len(frames) > 20:
                frames = frames[-20:]
            text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
            text += "".join(traceback.format_exception_only(_type(e), e))
            return line, text[-8000:]
        except _BaseException:
            return 0, ""

    def exc_text(e):
        try:
            s = _str(e)
        except _BaseException:
            s = "<unprintable %s>" % (_type(e).__name__,)
        if _type(s) is not _str:
            s = "<unprintable>"
        return s[:2000]

    exit_status = None
    try:
        exec(code_obj, g)
    except _MemoryError:
        # Free what the code held before reporting.
        g.clear()
        flush()
        send(b"error", mem_frame)
        _exit(0)
    except _SystemExit as e:
        c = e.code
        if c is None or c == 0 or c is False:
            exit_status = 0
        else:
            exit_status = c
    except _BaseException as e:
        flush()
        name = _type(e).__name__
        line, tb = user_traceback(e)
        msg = "%s: %s" % (name, exc_text(e))
        if line:
            msg += " (line %d)" % line
        reason = "RuntimeError"
        if _isinstance(e, _RecursionError):
            msg += ": maximum recursion depth exceeded"
        if _isinstance(e, SecurityViolation):
            reason = "SecurityViolation"
        send_error(reason, name, msg, line=line or None, traceback=tb)
        _exit(0)
    flush()
    if exit_status is not None and exit_status != 0:
        try:
            st = _str(exit_status)[:200]
        except _BaseException:
            st = "?"
        send_error("RuntimeError", "SystemExit", "the code exited with status %s" % st)
        _exit(0)
    if "result" not in g:
        send_error("RuntimeError", "NameError", "the code finished without setting `result`")
        _exit(0)

    # ---- 6. convert the result ----------------------------------------
    value = g["result"]
    try:
        sys.setrecursionlimit(_max(sys.getrecursionlimit(), 3000))
    except _BaseException:
        pass
    try:
        data = _convert(value, max_output, esc, _modules, _ConvertError=_ConvertError)
    except _ConvertError as e:
        send_error(e.reason, e.etype, e.message)
        _exit(0)
    except _MemoryError:
        g.clear()
        value = None
        send(b"error", mem_frame)
        _exit(0)
    except _BaseException as e:
        send_error("RuntimeError", _type(e).__name__,
                   "converting `result` to JSON: %s: %s" % (_type(e).__name__, exc_text(e)))
        _exit(0)
    send(b"result", data)
    _exit(0)


class ConvertError(Exception):
    def __init__(self, reason, etype, message):
        Exception.__init__(self, message)
        self.reason = reason
        self.etype = etype
        self.message = message


def convert(value, max_bytes, esc, modules, _type=type, _isinstance=isinstance, _len=len, _id=id,
            _int=int, _float=float, _str=str, _bool=bool, _dict=dict, _list=list, _tuple=tuple,
            _int_repr=int.__repr__, _float_repr=float.__repr__, _str_str=str.__str__,
            _dict_items=dict.items, _list_copy=list.copy, _tuple_iter=tuple.__iter__,
            _join="".join, _encode=str.encode, _set=set, _range=range, _zip=zip, _chr=chr,
            _ValueError=ValueError, _Exception=Exception, _ConvertError=None):
    """Returns the strict JSON (ASCII bytes) of value by the corpus rules:
    None, pd.NA, pd.NaT, NaN and +-Inf -> null; ints exact; floats as
    numbers; Timestamp/datetime/date/datetime64 -> ISO 8601; Timedelta and
    timedelta -> seconds; list/tuple/ndarray -> array; dict -> object with
    stringified keys; Series -> object keyed by the index; DataFrame ->
    records. Raises ConvertError naming the type, the path and the rule."""
    ConvertError = _ConvertError
    np = modules.get("numpy")
    pd = modules.get("pandas")
    dt = modules.get("datetime")
    parts = []
    size = [0]
    on_path = _set()
    MAX_DEPTH = 400

    def emit(s):
        parts.append(s)
        size[0] += _len(s)
        if size[0] > max_bytes:
            raise ConvertError("OutputLimitExceeded", "OutputLimitExceeded",
                               "`result` is over the output limit of %d bytes" % max_bytes)

    def tname(v):
        t = _type(v)
        try:
            mod = t.__module__
            name = t.__qualname__
        except _Exception:
            return "?"
        if mod in ("builtins", None):
            return _str(name)
        return "%s.%s" % (mod, name)

    def where(path):
        return "result" + _join(path)

    def fail(path, msg):
        raise ConvertError("RuntimeError", "TypeError", "`%s`: %s" % (where(path), msg))

    def float_json(f):
        if f - f == 0:
            return _float_repr(f)
        return "null"

    def int_json(i, path):
        try:
            return _int_repr(i)
        except _ValueError:
            fail(path, "integer with too many digits for JSON")

    def scalar(v, path):
        """JSON text of a scalar, or None when v is not a scalar."""
        t = _type(v)
        if v is None:
            return "null"
        if t is _bool:
            return "true" if v else "false"
        if t is _int:
            return int_json(v, path)
        if t is _float:
            return float_json(v)
        if t is _str:
            return esc(v)
        if _isinstance(v, _bool):
            return "true" if v else "false"
        if _isinstance(v, _int):
            return int_json(v, path)
        if _isinstance(v, _float):
            return float_json(v)
        if _isinstance(v, _str):
            return esc(_str_str(v))
        if pd is not None:
            if v is pd.NA or v is pd.NaT:
                return "null"
            if _isinstance(v, pd.Timestamp):
                return esc(v.isoformat())
            if _isinstance(v, pd.Timedelta):
                return float_json(v.total_seconds())
        if np is not None and _isinstance(v, np.generic):
            if _isinstance(v, np.bool_):
                return "true" if v else "false"
            if _isinstance(v, np.datetime64):
                if np.isnat(v):
                    return "null"
                if pd is not None:
                    return esc(pd.Timestamp(v).isoformat())
                item = v.astype("datetime64[us]").item()
                if _isinstance(item, _int):
                    fail(path, "datetime64 value out of range")
                return esc(item.isoformat())
            if _isinstance(v, np.timedelta64):
                if np.isnat(v):
                    return "null"
                return float_json(_float(v / np.timedelta64(1, "s")))
            if _isinstance(v, np.integer):
                return int_json(_int(v), path)
            if _isinstance(v, np.floating):
                return float_json(_float(v))
            return None
        if dt is not None:
            if _isinstance(v, (dt.datetime, dt.date, dt.time)):
                return esc(v.isoformat())
            if _isinstance(v, dt.timedelta):
                return float_json(v.total_seconds())
        return None

    def key(k, path):
        if _type(k) is _str:
            return k
        if _isinstance(k, _tuple):
            return "_".join([key(p, path) for p in _tuple_iter(k)])
        s = scalar(k, path)
        if s is None:
            fail(path, "a dict key of type %s has no JSON form" % tname(k))
        if s[:1] == '"':
            return _str_str(k) if _isinstance(k, _str) else _plain(s)
        return s

    def _plain(quoted):
        # The text inside an encoded ASCII JSON string, decoded back.
        body = quoted[1:-1]
        if "\\" not in body:
            return body
        out = []
        i = 0
        n = _len(body)
        while i < n:
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            c2 = body[i + 1]
            if c2 == "u":
                out.append(_chr(_int(body[i + 2:i + 6], 16)))
                i += 6
            else:
                out.append({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(c2, c2))
                i += 2
        return _join(out)

    def obj(pairs, path, depth):
        emit("{")
        seen = _set()
        first = True
        for k, v in pairs:
            ks = key(k, path)
            if ks in seen:
                raise ConvertError("RuntimeError", "ValueError",
                                   "`%s`: duplicate key after conversion: %s" % (where(path), esc(ks)))
            seen.add(ks)
            if not first:
                emit(",")
            first = False
            emit(esc(ks))
            emit(":")
            path.append("[%s]" % esc(ks))
            conv(v, path, depth + 1)
            path.pop()
        emit("}")

    def arr(items, path, depth):
        emit("[")
        i = 0
        for v in items:
            if i:
                emit(",")
            path.append("[%d]" % i)
            conv(v, path, depth + 1)
            path.pop()
            i += 1
        emit("]")

    def container(v, path, depth, fn, *a):
        i = _id(v)
        if i in on_path:
            raise ConvertError("RuntimeError", "ValueError",
                               "`%s`: circular reference (a container contains itself)" % where(path))
        if depth > MAX_DEPTH:
            raise ConvertError("RuntimeError", "ValueError",
                               "`%s`: nested deeper than %d levels" % (where(path), MAX_DEPTH))
        on_path.add(i)
        fn(*a, path, depth)
        on_path.discard(i)

    def conv(v, path, depth):
        t = _type(v)
        if t is _str:
            emit(esc(v))
            return
        if t is _int:
            emit(int_json(v, path))
            return
        if t is _float:
            emit(float_json(v))
            return
        if v is None:
            emit("null")
            return
        if t is _bool:
            emit("true" if v else "false")
            return
        if t is _list or t is _tuple:
            container(v, path, depth, arr, v)
            return
        if t is _dict:
            container(v, path, depth, obj, _dict_items(v))
            return
        s = scalar(v, path)
        if s is not None:
            emit(s)
            return
        if _isinstance(v, _dict):
            container(v, path, depth, obj, _list(_dict_items(v)))
            return
        if _isinstance(v, _list):
            container(v, path, depth, arr, _list_copy(v))
            return
        if _isinstance(v, _tuple):
            container(v, path, depth, arr, _list(_tuple_iter(v)))
            return
        if np is not None and _isinstance(v, np.ndarray):
            kind = v.dtype.kind
            if kind in "Mm":
                if v.ndim == 0:
                    emit(scalar(v[()], path) or "null")
                    return
                container(v, path, depth, arr, [v[i] for i in _range(_len(v))])
                return
            if kind == "c":
                fail(path, "a numpy array of complex numbers has no JSON form")
            items = v.tolist()
            if _type(items) is not _list:  # 0-d array
                conv(items, path, depth)
                return
            container(v, path, depth, arr, items)
            return
        if pd is not None:
            if _isinstance(v, pd.DataFrame):
                container(v, path, depth, records, v)
                return
            if _isinstance(v, pd.Series):
                container(v, path, depth, obj, _list(_zip(v.index.tolist(), v.tolist())))
                return
        fail(path, "a value of type %s has no JSON form (convert it to a supported type)" % tname(v))

    def records(df, path, depth):
        cols = [key(c, path) for c in df.columns.tolist()]
        seen = _set()
        for c in cols:
            if c in seen:
                raise ConvertError("RuntimeError", "ValueError",
                                   "`%s`: duplicate key after conversion: %s (DataFrame columns)" % (where(path), esc(c)))
            seen.add(c)
        columns = [df.iloc[:, j].tolist() for j in _range(_len(cols))]
        n = _len(df.index)
        emit("[")
        keys = [esc(c) + ":" for c in cols]
        for i in _range(n):
            if i:
                emit(",")
            emit("{")
            path.append("[%d]" % i)
            for j in _range(_len(cols)):
                if j:
                    emit(",")
                emit(keys[j])
                path.append("[%s]" % esc(cols[j]))
                conv(columns[j][i], path, depth + 2)
                path.pop()
            path.pop()
            emit("}")
        emit("]")

    conv(value, [], 0)
    return _encode(_join(parts), "ascii")


if __name__ == "__main__":
    _main()
