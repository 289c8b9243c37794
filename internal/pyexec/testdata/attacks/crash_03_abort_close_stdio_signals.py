# expect: crash
# why: signals the runner (its parent), every process (kill -1), closes its own stdio, and aborts; the runner must survive and answer with one valid result
# effect: the runner answers; reason is not Completed
import os
import signal

print("cx-before-abort", flush=True)
for target in (os.getppid(), -1, 0):
    for sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGSTOP):
        try:
            os.kill(target, sig)
        except Exception:  # noqa: BLE001
            pass
os.close(1)
os.close(2)
os.abort()
