# expect: fs-write
# why: writes the audit hook never sees (issue 12): os.open with dir_fd, sqlite ATTACH and VACUUM INTO, readline.write_history_file, _posixshmem.shm_open. The kernel (read-only root, no /tmp, no /dev/shm in the sandbox's root) must stop them, not the hook.
# effect: no cx_marker_* file outside the scratch dir, nothing in /dev/shm
import os
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "done"
    except BaseException as e:
        out[name] = "%s: %s" % (type(e).__name__, e)
for d in ("/tmp", "/var/tmp", "/"):
    def dirfd_write(d=d):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        w = os.open("cx_marker_dirfd", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(w, b"x")
    attempt("dir_fd " + d, dirfd_write)
def sqlite_attach():
    import sqlite3
    c = sqlite3.connect(":memory:")
    c.execute("ATTACH DATABASE '/tmp/cx_marker_attach' AS x")
    c.execute("CREATE TABLE x.t(a)")
    c.commit()
attempt("sqlite attach", sqlite_attach)
def sqlite_vacuum():
    import sqlite3
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE t(a)")
    c.execute("VACUUM INTO '/tmp/cx_marker_vacuum'")
attempt("sqlite vacuum into", sqlite_vacuum)
def history():
    import readline
    readline.add_history("x")
    readline.write_history_file("/tmp/cx_marker_history")
attempt("readline history", history)
def shm():
    import _posixshmem
    fd = _posixshmem.shm_open("/cx_marker_shm", os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"x")
attempt("shm_open", shm)
result = out
