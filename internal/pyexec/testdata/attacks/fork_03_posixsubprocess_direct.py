# expect: fork
# why: _posixsubprocess.fork_exec forks and execs without any audit event of its own, so a hook that only watches subprocess.Popen and os.fork misses it; os.posix_spawn and pty.fork are two more doors
# effect: /tmp/cx_marker_posixsub does not exist; no cx_orphan_posixsub process survives
import os
import sys

tried = {}
try:
    import _posixsubprocess
    r, w = os.pipe()
    pid = _posixsubprocess.fork_exec(
        [b"/bin/sh", b"-c", b"echo x > /tmp/cx_marker_posixsub; sleep 600 cx_orphan_posixsub"],
        [b"/bin/sh"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, None, None, None, -1, None, False)
    tried["fork_exec"] = pid
except Exception as e:  # noqa: BLE001
    tried["fork_exec"] = type(e).__name__
try:
    tried["posix_spawn"] = os.posix_spawn("/bin/sh", ["sh", "-c", "echo x > /tmp/cx_marker_posixsub"], {})
except Exception as e:  # noqa: BLE001
    tried["posix_spawn"] = type(e).__name__
try:
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execv("/bin/sh", ["sh", "-c", "echo x > /tmp/cx_marker_posixsub; sleep 600 cx_orphan_posixsub"])
    tried["pty"] = pid
except Exception as e:  # noqa: BLE001
    tried["pty"] = type(e).__name__
result = tried
