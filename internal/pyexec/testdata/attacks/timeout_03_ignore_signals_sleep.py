# expect: timeout
# why: ignores SIGTERM, SIGINT, SIGHUP and SIGXCPU, then blocks in a C-level sleep without CPU; only a SIGKILL from the runner's wall clock ends it
# effect: reason Timeout; nothing left running
import signal
import time

for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
    signal.signal(s, signal.SIG_IGN)
print("cx-ignoring", flush=True)
while True:
    time.sleep(3600)
