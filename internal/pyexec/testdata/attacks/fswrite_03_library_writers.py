# expect: fs-write
# why: writes outside the scratch dir through numpy, pandas, sqlite3 (which opens files in C, without Python's open), os.open, a symlink planted in the scratch dir, and a hard link; each must be refused
# effect: no /tmp/cx_marker_* file exists; /tmp/cx_victim.txt unchanged
import os
import sqlite3

import numpy as np
import pandas as pd

tried = {}
def attempt(name, fn):
    try:
        fn()
        tried[name] = "done"
    except Exception as e:  # noqa: BLE001
        tried[name] = type(e).__name__

attempt("np.save", lambda: np.save("/tmp/cx_marker_np.npy", np.arange(3)))
attempt("np.tofile", lambda: np.arange(3).tofile("/tmp/cx_marker_tofile"))
attempt("to_csv", lambda: pd.DataFrame({"a": [1]}).to_csv("/tmp/cx_marker_pd.csv"))
attempt("sqlite", lambda: sqlite3.connect("/tmp/cx_marker_sqlite.db").execute("create table t(x)"))
attempt("sqlite_uri", lambda: sqlite3.connect("file:/tmp/cx_marker_sqlite_uri.db", uri=True).execute("create table t(x)"))
attempt("os.open", lambda: os.close(os.open("/tmp/cx_marker_osopen", os.O_WRONLY | os.O_CREAT, 0o644)))
attempt("victim", lambda: open("/tmp/cx_victim.txt", "a").write("pwned"))
def via_symlink():
    os.symlink("/tmp/cx_marker_symlink", "link")
    with open("link", "w") as f:
        f.write("x")
attempt("symlink", via_symlink)
def via_rename():
    with open("inside", "w") as f:
        f.write("x")
    os.rename("inside", "/tmp/cx_marker_rename")
attempt("rename", via_rename)
attempt("mkdir", lambda: os.mkdir("/tmp/cx_marker_dir"))
result = tried
