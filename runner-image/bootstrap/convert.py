# codeexec runner bootstrap: the result converter.
#
# Compiled by bootstrap.py only when `result` is not a plain scalar (the
# runner sends this source over the task pipe), so that `result = 1` does
# not pay for compiling it. convert() turns `result` into strict JSON by the
# rules of shared/corpus/README.md.


class ConvertError(Exception):
    def __init__(self, reason, etype, message, prefix=None):
        Exception.__init__(self, message)
        self.reason = reason
        self.etype = etype
        self.message = message
        # For OutputLimitExceeded: the JSON converted so far, longer than
        # the budget. The bootstrap hands it to the runner, whose own count
        # of these bytes is the evidence (a claim alone is not).
        self.prefix = prefix


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
            over_budget()

    # Big pandas and numpy values are converted a chunk at a time and the
    # conversion stops as soon as the JSON passes the budget: `result =
    # pd.Series(np.zeros(3_000_000))` converts about max_bytes of JSON, not
    # millions of Python objects. What was converted goes to the runner,
    # which counts it: OutputLimitExceeded is decided there, on its count.
    CHUNK = 4096

    def over_budget():
        raise ConvertError("OutputLimitExceeded", "OutputLimitExceeded",
                           "`result` is over the output limit of %d bytes" % max_bytes,
                           prefix=_join(parts))

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
            if kind == "c":
                fail(path, "a numpy array of complex numbers has no JSON form")
            if v.ndim == 0:
                if kind in "Mm":
                    emit(scalar(v[()], path) or "null")
                else:
                    conv(v.tolist(), path, depth)
                return
            container(v, path, depth, arr, ndarray_items(v, kind))
            return
        if pd is not None:
            if _isinstance(v, pd.DataFrame):
                container(v, path, depth, records, v)
                return
            if _isinstance(v, pd.Series):
                container(v, path, depth, obj, series_pairs(v))
                return
        fail(path, "a value of type %s has no JSON form (convert it to a supported type)" % tname(v))

    def ndarray_items(a, kind):
        # Elements of the first axis, converted to Python a chunk at a time.
        n = _len(a)
        for start in _range(0, n, CHUNK):
            block = a[start:start + CHUNK]
            if kind in "Mm":
                for i in _range(_len(block)):
                    yield block[i]
            else:
                for item in block.tolist():
                    yield item

    def series_pairs(ser):
        idx = ser.index
        n = _len(ser)
        for start in _range(0, n, CHUNK):
            ks = idx[start:start + CHUNK].tolist()
            vs = ser.iloc[start:start + CHUNK].tolist()
            for pair in _zip(ks, vs):
                yield pair

    def records(df, path, depth):
        cols = [key(c, path) for c in df.columns.tolist()]
        seen = _set()
        for c in cols:
            if c in seen:
                raise ConvertError("RuntimeError", "ValueError",
                                   "`%s`: duplicate key after conversion: %s (DataFrame columns)" % (where(path), esc(c)))
            seen.add(c)
        n = _len(df.index)
        emit("[")
        keys = [esc(c) + ":" for c in cols]
        for start in _range(0, n, CHUNK):
            block = df.iloc[start:start + CHUNK]
            columns = [block.iloc[:, j].tolist() for j in _range(_len(cols))]
            for r in _range(_len(block.index)):
                i = start + r
                if i:
                    emit(",")
                emit("{")
                path.append("[%d]" % i)
                for j in _range(_len(cols)):
                    if j:
                        emit(",")
                    emit(keys[j])
                    path.append("[%s]" % esc(cols[j]))
                    conv(columns[j][r], path, depth + 2)
                    path.pop()
                path.pop()
                emit("}")
        emit("]")

    conv(value, [], 0)
    return _encode(_join(parts), "ascii")
