# expect: cpu
# why: ignores SIGXCPU (the soft CPU limit) and burns CPU in threads and the main thread for longer than the wall clock allows; only the hard RLIMIT_CPU (SIGKILL) stops it before the timeout, and the runner must still name the CPU limit
# effect: reason CPU-limit
import hashlib
import signal
import threading

signal.signal(signal.SIGXCPU, signal.SIG_IGN)
data = b"\x01" * (4 * 1024 * 1024)


def burn():
    h = hashlib.sha256()
    while True:
        h.update(data)


for _ in range(3):
    threading.Thread(target=burn, daemon=True).start()
x = 0
while True:
    x += 1
