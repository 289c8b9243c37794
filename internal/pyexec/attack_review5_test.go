//go:build attackreview

package pyexec

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// attackReview5Reserve brings the process's VmSize to within 1.5 MiB of
// the 512 MiB limit with PROT_NONE reservations (no memory used), keeping
// every request small enough that the runner records none of them, and
// leaves a 2 MiB mapping `a` to map over. It defines libc.mmap.
const attackReview5Reserve = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
MAP_PRIVATE, MAP_ANON, MAP_FIXED, MAP_SHARED = 0x02, 0x20, 0x10, 0x01
FAIL = ctypes.c_void_p(-1).value
def vmsize():
    for l in open('/proc/self/status'):
        if l.startswith('VmSize:'):
            return int(l.split()[1]) << 10
LIMIT = 512 << 20
a = libc.mmap(None, 2 << 20, 0, MAP_PRIVATE | MAP_ANON, -1, 0)
assert a not in (None, FAIL)
need = LIMIT - vmsize() - (3 << 19)
r = libc.mmap(None, need, 0, MAP_PRIVATE | MAP_ANON, -1, 0)
assert r not in (None, FAIL), ctypes.get_errno()
`

// TestAttackReview5OverLimitRecordedBeforeTheKernel: the runner records a
// mapping as "past the limit" when VmSize + the request's length passes
// the limit, at notification time, before the kernel decides, and never
// learns whether the kernel refused it. A MAP_FIXED mapping over one that
// already exists (net growth 0) succeeds; an mmap with a bad fd fails with
// EBADF. Neither met the memory limit, yet the code then raises
// MemoryError and gets MemoryLimitExceeded ("it asked the kernel for 2 MiB
// more with 510 MiB already mapped, past its memory limit") while its
// RSS is a few MiB.
func TestAttackReview5OverLimitRecordedBeforeTheKernel(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	for name, code := range map[string]string{
		"MAP_FIXED over an existing mapping, granted": attackReview5Reserve + `
b = libc.mmap(a, 2 << 20, 3, MAP_PRIVATE | MAP_ANON | MAP_FIXED, -1, 0)
assert b == a, ctypes.get_errno()
raise MemoryError()`,
		"mmap with a bad fd, EBADF": attackReview5Reserve + `
b = libc.mmap(None, 2 << 20, 1, MAP_SHARED, 9999, 0)
assert b == FAIL and ctypes.get_errno() == 9, ctypes.get_errno()
raise MemoryError()`,
	} {
		t.Run(name, func(t *testing.T) {
			o := evidenceOptions(code)
			o.noAuditHook = true
			res := Run(context.Background(), o)
			t.Logf("%s: %s", res.Reason, res.Message)
			if res.Reason != result.RuntimeError {
				t.Errorf("%s: %s, want RuntimeError (nothing was refused)\nstderr: %s", res.Reason, res.Message, tail(res.Stderr, 400))
			}
		})
	}
}

// TestAttackReview5PrlimitTheRunner: without privilege (the Pod's
// supervisor, `runner run` as a non-root uid) the runner shares the code's
// uid, and prlimit needs nothing more. The code lowers the runner's soft
// RLIMIT_NOFILE to 4 (prlimit(os.getppid(), RLIMIT_NOFILE, (4, hard))):
// every open the runner makes after that fails with EMFILE. The scratch
// watcher (the only bound on the scratch dir without privilege; "the
// emptyDir's sizeLimit backs it up" is an eviction, long after) can no
// longer read the dir, so the code writes 4 × 30 MiB under a 32 MiB quota
// and ends Completed; the final kill cannot list /proc, and the cleanup
// cannot open the scratch dir, so the files stay after the run.
// (docs/pod-boundary.md: "the code can still prlimit it ... and so silence
// it": here it is not silenced, it reports a run that broke its quota as
// Completed.)
func TestAttackReview5PrlimitTheRunner(t *testing.T) {
	if os.Getenv("CX_TEST_UNPRIVILEGED_CHILD") != "" {
		attackReview5PrlimitChild(t)
		return
	}
	if os.Geteuid() != 0 {
		attackReview5PrlimitChild(t)
		return
	}
	requirePython(t)
	const uid, gid = 65534, 65534
	dir, err := os.MkdirTemp("", "cx-ar5-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pyexec.test")
	copyFile(t, self, bin, 0o755)
	home := filepath.Join(dir, "home")
	_ = os.MkdirAll(home, 0o700)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestAttackReview5PrlimitTheRunner$", "-test.v", "-test.timeout=5m")
	cmd.Dir = home
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + home, "CX_TEST_UNPRIVILEGED_CHILD=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	t.Logf("child (uid %d):\n%s", uid, tail(string(out), 3000))
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAttackReview5PrlimitTheRunner") {
		t.Fatalf("the unprivileged run failed: %v", err)
	}
}

func attackReview5PrlimitChild(t *testing.T) {
	requirePython(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	code := `import os, resource, time
soft, hard = resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE)
resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (4, hard))
block = b"x" * (1 << 20)
for i in range(4):
    with open("f%d" % i, "wb") as f:
        for _ in range(30):
            f.write(block)
pid = os.fork()
if pid == 0:
    os.setsid()
    time.sleep(120)
    os._exit(0)
time.sleep(1)
result = {"bytes": sum(os.path.getsize("f%d" % i) for i in range(4)), "orphan": pid}
`
	// Control: the same writes without the prlimit hit the quota, and
	// nothing is left.
	ctl := evidenceOptions(strings.Replace(code, "resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (4, hard))", "pass", 1))
	ctl.noAuditHook = true
	ctl.ScratchDir = t.TempDir()
	ctl.ScratchBytes = 32 << 20
	if res := Run(context.Background(), ctl); res.Reason != result.RuntimeError || !strings.Contains(res.Message, "quota") {
		t.Fatalf("control without the prlimit: %s: %s; the test proves nothing", res.Reason, res.Message)
	}
	if names := listNames(ctl.ScratchDir); len(names) != 0 {
		t.Fatalf("control without the prlimit left %v", names)
	}
	o := evidenceOptions(code)
	o.noAuditHook = true
	o.ScratchDir = scratch
	o.ScratchBytes = 32 << 20
	res := Run(context.Background(), o)
	// Restore the runner's own limit before looking at the scratch dir.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Logf("restoring RLIMIT_NOFILE: %v", err)
	}
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	var left int64
	_ = filepath.Walk(scratch, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			left += fi.Size()
		}
		return nil
	})
	if res.Reason != result.RuntimeError || !strings.Contains(res.Message, "quota") {
		t.Errorf("%s: %s (result %s), want RuntimeError: the scratch dir grew past its quota of %d bytes", res.Reason, res.Message, res.Result, o.ScratchBytes)
	}
	if left > 0 {
		t.Errorf("%d bytes of the run's files are still in the scratch dir after it", left)
	}
	var got struct {
		Orphan int `json:"orphan"`
	}
	if json.Unmarshal(res.Result, &got) == nil && got.Orphan > 0 {
		time.Sleep(500 * time.Millisecond)
		if st, ok := readStat(got.Orphan); ok && st.state != 'Z' {
			t.Errorf("the code's orphan %d (its own session, sleeping 120 s) is alive after the run: %+v", got.Orphan, st)
			_ = syscall.Kill(got.Orphan, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(got.Orphan, &ws, 0, nil)
		}
	}
}
