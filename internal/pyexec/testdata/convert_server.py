# Serves the bootstrap's result converter (convert.py) to convert_test.go: one Python
# expression per line in, one line out ("ok <json>", "err <message>" for a
# ConvertError, "crash <exception>" for anything else, which is a bug).
import datetime
import sys

src = open(sys.argv[1]).read()
ns = {"__name__": "cx_convert"}
exec(compile(src, "<convert>", "exec"), ns)
convert, ConvertError = ns["convert"], ns["ConvertError"]
from _json import encode_basestring_ascii as esc  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def cyc():
    a = [1]
    a.append([a])
    return a


def cycd():
    d = {"k": 1}
    d["self"] = {"again": d}
    return d


def deep(n):
    x = []
    for _ in range(n):
        x = [x]
    return x


env = {"deep": deep, "np": np, "pd": pd, "datetime": datetime, "nan": float("nan"), "inf": float("inf"),
       "cyc": cyc, "cycd": cycd}
sys.setrecursionlimit(3000)  # as the bootstrap does before converting
for line in sys.stdin:
    try:
        v = eval(line, env)
        out = convert(v, 1 << 24, esc, sys.modules, _ConvertError=ConvertError)
        sys.stdout.write("ok " + out.decode("ascii") + "\n")
    except ConvertError as e:
        sys.stdout.write("err " + e.message.replace("\n", " ") + "\n")
    except BaseException as e:  # noqa: BLE001
        sys.stdout.write("crash %s: %s\n" % (type(e).__name__, str(e).replace("\n", " ")))
    sys.stdout.flush()
