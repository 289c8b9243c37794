# expect: fs-read-secret
# why: looks for the runner's secret in every place it could leak: os.environ, /proc/self/environ, every /proc/<pid>/environ and cmdline, the parent's memory maps
# effect: the reply contains neither the value of CX_SECRET nor "CX_SECRET="
import os

found = {"environ": {k: v for k, v in os.environ.items()}}
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for leaf in ("environ", "cmdline"):
        try:
            with open("/proc/%s/%s" % (pid, leaf), "rb") as f:
                data = f.read(1 << 16)
            if b"CX_SECRET" in data or b"cx-secret" in data:
                found["%s/%s" % (pid, leaf)] = data.decode("utf-8", "replace")
        except OSError:
            pass
try:
    with open("/proc/%d/maps" % os.getppid()) as f:
        found["ppid_maps"] = f.read(200)
except OSError as e:
    found["ppid_maps"] = type(e).__name__
print(found)
result = found
