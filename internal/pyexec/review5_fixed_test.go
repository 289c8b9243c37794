package pyexec

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// TestAttackReview5MessageIsNotCapped: the bootstrap cuts an exception's
// message (about 2 KB), but the runner copies an error frame's message
// into the result whole. The code fills stdout and stderr to their caps
// with '<', then sends, through the bootstrap's own send_error (found
// with gc), an error whose message is 1,000,000 '<' (it fits the
// channel's MaxOutputBytes + 64 KiB), and exits 0. Go's encoder writes
// each '<' as \u003c: the line is about 6 MiB per field, over what the
// judge reads from the supervisor (MaxOutputBytes + 12 × MaxStreamBytes +
// 64 KiB, internal/runner.maxReportLine), so in the Pod the verdict is
// OutputLimitExceeded ("the sandbox's report is over …") for a run that
// ended with a RuntimeError and kept its streams within their caps.
func TestAttackReview5MessageIsNotCapped(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	code := `import gc, os, sys
fns = {}
for o in gc.get_objects():
    if type(o).__name__ == "function" and o.__code__.co_filename == "<string>" and o.__name__ in ("send", "send_error"):
        fns[o.__name__] = o
sys.stdout.write("<" * (1 << 20)); sys.stdout.flush()
sys.stderr.write("<" * (1 << 20)); sys.stderr.flush()
fns["send_error"]("RuntimeError", "ValueError", "<" * 1000000)
os._exit(0)
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	o.MaxOutputBytes = DefaultMaxOutputBytes
	o.MaxStreamBytes = DefaultMaxStreamBytes
	res := Run(context.Background(), o)
	line := result.Encode(res)
	max := o.MaxOutputBytes + 12*o.MaxStreamBytes + 64<<10
	t.Logf("%s: message of %d bytes, stdout %d, stderr %d, line %d bytes (the judge reads at most %d)", res.Reason, len(res.Message), len(res.Stdout), len(res.Stderr), len(line), max)
	if res.Reason != result.RuntimeError {
		t.Errorf("%s, want RuntimeError", res.Reason)
	}
	if int64(len(line)) > max {
		t.Errorf("the line is %d bytes, over the %d bytes the judge reads: the judge reports OutputLimitExceeded", len(line), max)
	}
}

// TestAttackReview5LoweredHardCPULimit: in the namespace sandbox the
// runner takes a SIGKILL of python (PID 1, no OOM kill counted) after half
// the CPU budget for RLIMIT_CPU, because "its hard limit equals the soft
// one" (cpuEvidence). But the code may lower its own limits: with a
// budget of 3 s it burns 1.8 s, then sets RLIMIT_CPU to (2, 2). The kernel
// SIGKILLs it at 2 s, a third under its limit, and the run is reported
// CPULimitExceeded. (The audit hook refuses resource.setrlimit; it is off
// here, as in TestAttackReviewHalfBudgetForgeries, since code can empty
// it through gc.)
func TestAttackReview5LoweredHardCPULimit(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	const burn = "import os, signal, time, resource\nwhile sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) < 1.8:\n    pass\n"
	o := evidenceOptions(burn + "resource.setrlimit(resource.RLIMIT_CPU, (2, 2))\nwhile True:\n    pass\n")
	o.noAuditHook = true
	o.CPUTime = 3 * time.Second
	res := Run(context.Background(), o)
	t.Logf("%s: %s", res.Reason, res.Message)
	if res.Reason != result.RuntimeError {
		t.Errorf("%s: %s, want RuntimeError: the code killed itself with a limit it lowered to 2 s of its 3 s", res.Reason, res.Message)
	}
}

// TestNamespaceFilterKeepsForkAndThreads: the filter that refuses user
// namespaces answers clone3 with ENOSYS; glibc's pthread_create and
// posix_spawn then fall back to clone, and fork uses clone: threads, fork
// and a clone without CLONE_NEWUSER must still work, and clone with it
// must not.
func TestNamespaceFilterKeepsForkAndThreads(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Fatalf("the syscall numbers in this test's code are amd64's (clone3 435, clone 56); add %s's", runtime.GOARCH)
	}
	requirePython(t)
	getFixtures(t)
	code := `import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
out = {}
box = []
th = threading.Thread(target=lambda: box.append(sum(range(1000))))
th.start(); th.join()
out["thread"] = box == [499500]
pid = os.fork()
if pid == 0:
    os._exit(7)
out["fork"] = os.WEXITSTATUS(os.waitpid(pid, 0)[1]) == 7
r = libc.syscall(435, None, ctypes.c_size_t(0))
out["clone3_errno"] = ctypes.get_errno() if r < 0 else 0
r = libc.syscall(56, ctypes.c_ulong(0x10000000 | 17), None, None, None, None)
if r == 0:
    os._exit(0)
out["clone_newuser_errno"] = ctypes.get_errno() if r < 0 else 0
if r > 0:
    os.waitpid(r, 0)
result = out
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	res := Run(context.Background(), o)
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	if res.Reason != result.Completed {
		t.Fatalf("%s: %s\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
	}
	want := `{"thread":true,"fork":true,"clone3_errno":38,"clone_newuser_errno":1}`
	if string(res.Result) != want {
		t.Errorf("got %s, want %s", res.Result, want)
	}
}

// TestAttackReview5UserNamespace: in the namespace sandbox (root mode)
// nothing stops the code from creating a user namespace of its own
// (unshare(CLONE_NEWUSER | CLONE_NEWNS)) and, with the full capability set
// it holds there, mounting a tmpfs. Unprivileged user namespaces are the
// entry point of most recent kernel privilege escalations (nf_tables,
// overlayfs, io_uring...); the Pod's RuntimeDefault seccomp profile
// refuses unshare and clone(CLONE_NEWUSER) without CAP_SYS_ADMIN, the
// laptop/CI sandbox does not (its seccomp filters cover signals and
// memory only). Expected: EPERM, as in the Pod.
func TestAttackReview5UserNamespace(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	code := `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
r = libc.unshare(0x10000000 | 0x00020000)
out = {"unshare": r, "errno": ctypes.get_errno()}
if r == 0:
    out["mount"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
    out["mount_errno"] = ctypes.get_errno()
result = out
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	res := Run(context.Background(), o)
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	var got struct {
		Unshare int `json:"unshare"`
		Mount   *int
	}
	if err := json.Unmarshal(res.Result, &got); err != nil {
		t.Fatalf("%s: %s: %v", res.Reason, res.Message, err)
	}
	if got.Unshare == 0 {
		t.Errorf("the code created a user namespace (and a mount namespace of its own): %s", res.Result)
	}
}

// TestAttackReview5KeyOutlivesTheRun: root mode gives the code a fresh
// session keyring, but not a user namespace, so its uid's user keyring
// (@u) lives in the host's user namespace, which never dies. A key the
// code adds there (add_key, KEY_SPEC_USER_KEYRING) stays in the kernel
// after the run: kernel memory charged to a uid nobody cleans up (up to
// the per-uid quota, 200 keys / 20000 bytes, each run a new uid), and
// readable by the next run that gets the same uid (allocUID reuses
// uidBase + pid<<8 + seq when pids wrap). Nothing of a run may outlive it.
// Fixed: the sandbox's seccomp filter refuses add_key, request_key and
// keyctl with EPERM.
func TestAttackReview5KeyOutlivesTheRun(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: the user keyring of the run's uid is root mode's (CI runs as root; without privilege the Pod's RuntimeDefault seccomp profile refuses add_key)")
	}
	code := `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
payload = b"x" * 4000
ids, errno = [], 0
for i in range(4):
    k = libc.syscall(248, b"user", b"cx-attack-review5-%d" % i, payload, ctypes.c_size_t(len(payload)), ctypes.c_int(-4))
    if k > 0:
        ids.append(k)
    else:
        errno = ctypes.get_errno()
result = {"uid": os.getuid(), "keys": ids, "errno": errno if not ids else 0}
`
	o := evidenceOptions(code)
	o.noAuditHook = true
	res := Run(context.Background(), o)
	if res.Reason != result.Completed {
		t.Fatalf("%s: %s\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
	}
	var got struct {
		UID   int   `json:"uid"`
		Keys  []int `json:"keys"`
		Errno int   `json:"errno"`
	}
	if err := json.Unmarshal(res.Result, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res.Result)
	if len(got.Keys) > 0 || got.Errno != int(syscall.EPERM) {
		t.Errorf("add_key to the uid's user keyring: keys %v, errno %d; want every add_key refused with EPERM", got.Keys, got.Errno)
	}
	time.Sleep(2 * time.Second) // the key GC runs asynchronously
	b, err := os.ReadFile("/proc/key-users")
	if err != nil {
		t.Fatalf("reading /proc/key-users: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[0] == strconv.Itoa(got.UID)+":" {
			t.Errorf("after the run, the kernel still holds keys of the run's uid %d: %q (the code added %v to @u)", got.UID, l, got.Keys)
		}
	}
}
