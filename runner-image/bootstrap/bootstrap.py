# codeexec runner bootstrap.
#
# The runner's sandbox helper execs `python3 -I -B -S -c <this file>` after it
# has applied the rlimits, the namespaces and the uid drop. This file then:
#   1. reads its task from fd 3 (header lines, then the user's code) and
#      closes it;
#   2. loads the --input tables with pandas (only when there are inputs);
#   3. compiles the code as "<code>" (SyntaxError -> CompilationError);
#   4. installs an audit hook that refuses process creation, sockets,
#      ctypes calls and writes outside the scratch dir (defence in depth:
#      the kernel limits are the boundary, the hook gives the clear reason);
#   5. runs the code in a fresh __main__ with `pd` and `np` as lazy modules;
#   6. converts `result` to strict JSON (scalars here, the rest with
#      convert.py, compiled only then) and writes it as one frame on the
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
    _bool, _compile, _exec = bool, compile, exec
    _builtins_dict = dict(builtins.__dict__)
    _dict_update = dict.update
    _memoryview, _enumerate, _max, _import, _ord = memoryview, enumerate, max, __import__, ord

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
    if len(fields) != 8 or fields[0] != b"CX1":
        _exit(70)
    nonce = fields[1]
    chan_fd = _int(fields[2])
    max_output = _int(fields[3])
    audit = fields[4] == b"1"
    nin = _int(fields[5])
    nofile = _int(fields[6])
    convert_len = _int(fields[7])
    line, _, rest = rest.partition(b"\n")
    scratch = _bytes_fromhex(line.decode()).decode("utf-8", "surrogateescape")
    input_specs = []
    for _ in _range(nin):
        line, _, rest = rest.partition(b"\n")
        fd, fmt, name = line.split(b" ")
        input_specs.append((_int(fd), fmt.decode(), _bytes_fromhex(name.decode()).decode("utf-8", "surrogateescape")))
    convert_src = rest[:convert_len]
    code = rest[convert_len:]
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
                # _import: bound before user code, which may poison
                # builtins.__import__ or sys.modules["_json"].
                encode_basestring_ascii = _import("_json").encode_basestring_ascii
            except _BaseException:
                def encode_basestring_ascii(x):
                    out = ['"']
                    for ch in x:
                        o = _ord(ch)
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

    # `result` is over the output budget: the runner decides that on its
    # own count, so it gets the first max_output + 1 bytes of the JSON (an
    # "over" frame), not a claim.
    def send_over(data):
        send(b"over", data[:max_output + 1])

    def send_error(reason, etype, message, **extra):
        d = {"reason": reason, "type": etype, "message": message}
        d.update(extra)
        send(b"error", simple_json(d))

    # ---- site, on demand ----------------------------------------------
    # python runs with -S: the site module (site-packages on sys.path, .pth
    # files, sitecustomize) costs a few ms that `result = 1` does not need.
    # It runs the first time an import is not found in the standard library,
    # before the inputs load, or when the code asks for help() and friends.
    site_ready = []

    def ensure_site():
        if not site_ready:
            site_ready.append(1)
            _import("site").main()

    path_finder = None
    for f in sys.meta_path:
        if _getattr(f, "__name__", "") == "PathFinder":
            path_finder = f

    class SiteFinder:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if site_ready or path is not None or path_finder is None:
                return None
            ensure_site()
            return path_finder.find_spec(name, None, target)

    sys.meta_path.append(SiteFinder)

    class Quitter:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

        def __call__(self, code=None):
            raise SystemExit(code)

    class SiteBuiltin:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            ensure_site()
            return _repr(builtins.__dict__[self.name])

        def __call__(self, *a, **k):
            ensure_site()
            return builtins.__dict__[self.name](*a, **k)

    builtins.exit, builtins.quit = Quitter("exit"), Quitter("quit")
    for name in ("help", "copyright", "credits", "license"):
        builtins.__dict__[name] = SiteBuiltin(name)

    # ---- 2. inputs ----------------------------------------------------
    parent_dataframes = []
    inputs = {}
    if input_specs:
        try:
            ensure_site()
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
            linecache = _import("linecache")
            traceback = _import("traceback")
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
            frames = [fr for fr in frames[start:] if fr.filename not in ("<string>", "<convert>")]
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
    # The code is over: undo what it did to builtins, which pandas and
    # numpy (and so the conversion of their objects) rely on.
    try:
        _dict_update(builtins.__dict__, _builtins_dict)
    except _BaseException:
        pass
    value = g["result"]
    t = _type(value)
    data = None
    if value is None:
        data = b"null"
    elif t is _bool:
        data = b"true" if value else b"false"
    elif t is _int and -(1 << 53) <= value <= (1 << 53):
        data = _encode(_int_repr(value))
    elif t is _float and value - value == 0:
        data = _encode(_float_repr(value))
    elif t is _str and _len(value) < 4096 and value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        data = _encode('"' + value + '"')
    if data is not None:
        if _len(data) > max_output:
            send_over(data)
        else:
            send(b"result", data)
        _exit(0)
    try:
        sys.setrecursionlimit(_max(sys.getrecursionlimit(), 3000))
    except _BaseException:
        pass
    class ConvertError(_Exception):
        pass

    try:
        cns = {"__name__": "cx_convert", "__builtins__": _builtins_dict}
        _exec(_compile(convert_src, "<convert>", "exec", dont_inherit=True), cns)
        ConvertError = cns["ConvertError"]
        data = cns["convert"](value, max_output, esc, _modules, _ConvertError=ConvertError)
    except ConvertError as e:
        prefix = _getattr(e, "prefix", None)
        if e.reason == "OutputLimitExceeded" and prefix is not None:
            send_over(_encode(prefix, "ascii", "replace"))
        else:
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


if __name__ == "__main__":
    _main()
