package pyexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// The tests of this file are issue 12's root-mode leaks and what must not
// outlive a run. They run the hostile code with the audit hook off: what
// they check is the kernel's boundary (and the runner's), not the hook's.

func hostileOptions(code string) Options {
	o := evidenceOptions(code)
	o.noAuditHook = true
	return o
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSessionKeyring: the code gets a fresh, empty session keyring; the
// caller's, and the keys it holds, stay behind (as root and unprivileged).
func TestSessionKeyring(t *testing.T) {
	requirePython(t)
	getFixtures(t)
	secret := "cx-key-secret-" + randomHex(8)
	nr := map[string]int{"amd64": 250, "arm64": 219}[runtime.GOARCH]
	code := fmt.Sprintf(`import ctypes
libc = ctypes.CDLL(None, use_errno=True)
kid = libc.syscall(%d, 10, -3, b"user", b"cx-test-key", 0)
out = {"search": kid}
if kid > 0:
    buf = ctypes.create_string_buffer(256)
    n = libc.syscall(%d, 11, kid, buf, 256)
    out["payload"] = buf.raw[:max(n, 0)].decode(errors="replace")
result = out
`, nr, nr)
	done := make(chan result.ExecutionResult)
	go func() {
		// The helper is forked from this thread and inherits its
		// session keyring; the thread dies with the goroutine.
		runtime.LockOSThread()
		if _, err := unix.KeyctlJoinSessionKeyring("cx-test-session"); err != nil {
			t.Errorf("joining a test session keyring: %v", err)
		}
		if _, err := unix.AddKey("user", "cx-test-key", []byte(secret), unix.KEY_SPEC_SESSION_KEYRING); err != nil {
			t.Errorf("adding the test key: %v", err)
		}
		done <- Run(context.Background(), hostileOptions(code))
	}()
	res := <-done
	reply := replyOf(t, res)
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	if res.Reason != result.Completed {
		t.Fatalf("%s: %s\n%s", res.Reason, res.Message, tail(res.Stderr, 400))
	}
	if strings.Contains(reply, secret) || !strings.Contains(string(res.Result), `"search":-1`) {
		t.Errorf("the caller's session keyring is reachable: %s", res.Result)
	}
}

// TestHostFilesystemHidden: as root, the code's root holds only what it
// needs; a world-readable file in the host's /tmp and a host AF_UNIX
// socket are not there. (In a Pod the image is the filesystem.)
func TestHostFilesystemHidden(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("without privilege the Pod's image is the code's filesystem; the namespace root is root mode's")
	}
	requirePython(t)
	getFixtures(t)
	secret := "cx-host-file-" + randomHex(8)
	file := filepath.Join("/tmp", "cx_hostfile_"+randomHex(4))
	if err := os.WriteFile(file, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	sockDir, err := os.MkdirTemp("/tmp", "cx-usock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	_ = os.Chmod(sockDir, 0o755)
	sock := filepath.Join(sockDir, "usock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_ = os.Chmod(sock, 0o777)
	hits := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits <- "connection"
			c.Close()
		}
	}()
	code := fmt.Sprintf(`import os, socket
out = {}
try:
    out["file"] = open(%q).read()
except Exception as e:
    out["file"] = type(e).__name__
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(%q)
    out["socket"] = "connected"
except Exception as e:
    out["socket"] = type(e).__name__
out["root"] = sorted(os.listdir("/"))
out["tmp"] = sorted(os.listdir("/tmp")) if os.path.isdir("/tmp") else []
result = out
`, file, sock)
	for _, hook := range []bool{false, true} {
		o := hostileOptions(code)
		o.noAuditHook = !hook
		res := Run(context.Background(), o)
		reply := replyOf(t, res)
		t.Logf("hook %v: %s: %s %s", hook, res.Reason, res.Message, res.Result)
		if strings.Contains(reply, secret) {
			t.Errorf("hook %v: the host's /tmp file was read", hook)
		}
		if strings.Contains(string(res.Result), `"connected"`) {
			t.Errorf("hook %v: the host's AF_UNIX socket was reached", hook)
		}
		var seen struct{ Root, Tmp []string }
		_ = json.Unmarshal(res.Result, &seen)
		allowed := map[string]bool{"bin": true, "dev": true, "etc": true, "lib": true, "lib64": true, "lib32": true,
			"libx32": true, "proc": true, "sbin": true, "usr": true, "tmp": true} // tmp: the way to the scratch dir
		for _, e := range seen.Root {
			if !allowed[e] {
				t.Errorf("hook %v: the code's root shows the host's /%s: %v", hook, e, seen.Root)
			}
		}
		if len(seen.Tmp) > 1 {
			t.Errorf("hook %v: the code sees the host's /tmp: %v", hook, seen.Tmp)
		}
		if !hook && res.Reason != result.Completed {
			t.Errorf("the probe did not run: %s: %s\n%s", res.Reason, res.Message, tail(res.Stderr, 400))
		}
	}
	select {
	case h := <-hits:
		t.Errorf("the host socket got a %s", h)
	default:
	}
}

// TestSharedMemoryBounded: memfd pages are not address space; as root the
// run's memory cgroup counts them. (In a Pod, the container's cgroup.)
func TestSharedMemoryBounded(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("without privilege the container's memory cgroup bounds shared memory")
	}
	requirePython(t)
	getFixtures(t)
	code := `import os
fds = []
total = 0
for i in range(15):
    fd = os.memfd_create("cx%d" % i)
    os.posix_fallocate(fd, 0, (64 << 20) - 4096)
    fds.append(fd)
    total += (64 << 20) - 4096
result = total
`
	o := hostileOptions(code)
	o.MemoryBytes = 128 << 20
	res := Run(context.Background(), o)
	replyOf(t, res)
	t.Logf("%s: %s %s", res.Reason, res.Message, res.Result)
	if res.Reason != result.MemoryLimitExceeded {
		t.Errorf("960 MiB of memfd under a 128 MiB limit: %s: %s %s", res.Reason, res.Message, res.Result)
	}
}

// TestNothingOutlivesTheRun: an orphan whose main thread exited while a
// worker thread runs (a zombie leader), a directory of mode 0300 and open
// unlinked files: none evades the quota, none outlives the run.
func TestNothingOutlivesTheRun(t *testing.T) {
	requirePython(t)
	fx := getFixtures(t)
	orphan := `import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/python3", ["python3", "-c", """
import threading, time, ctypes
def spin():
    while True:
        time.sleep(0.05)
threading.Thread(target=spin).start()
ctypes.CDLL(None).syscall(60, 0)
""", "cx_orphan_zombie_leader"])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(1)
result = "left an orphan"
`
	res := Run(context.Background(), hostileOptions(orphan))
	replyOf(t, res)
	t.Logf("orphan: %s: %s", res.Reason, res.Message)
	fx.check(t, "zombie-leader orphan")

	scratch := filepath.Join(t.TempDir(), "scratch")
	hide := `import os, time
os.mkdir("hidden", 0o700)
chunk = b"x" * (1 << 20)
with open("hidden/big", "wb") as f:
    for _ in range(24):
        f.write(chunk)
os.chmod("hidden", 0o300)
held = []
for i in range(3):
    f = open("gone%d" % i, "wb")
    for _ in range(12):
        f.write(chunk)
    f.flush()
    os.unlink("gone%d" % i)
    held.append(f)
time.sleep(3)
result = "evaded"
`
	o := hostileOptions(hide)
	o.ScratchDir = scratch
	o.ScratchBytes = 32 << 20
	o.FileSizeBytes = 64 << 20
	res = Run(context.Background(), o)
	replyOf(t, res)
	t.Logf("quota: %s: %s", res.Reason, res.Message)
	if res.Reason == result.Completed {
		t.Errorf("60 MiB in a 0300 dir and unlinked files evaded a 32 MiB scratch quota")
	}
	if left := listNames(scratch); len(left) != 0 {
		t.Errorf("the run left %v in its scratch dir", left)
	}
	fx.check(t, "hidden scratch")
	time.Sleep(500 * time.Millisecond)
	if o := findOrphans(); len(o) > 0 {
		t.Errorf("processes of user code survived: %q", o)
	}
}
