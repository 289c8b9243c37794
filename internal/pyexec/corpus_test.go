package pyexec

import (
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

const attacksEnv = "CX_TEST_ATTACKS_DIR"

func attacksDir() string {
	if d := os.Getenv(attacksEnv); d != "" {
		return d
	}
	return filepath.Join("testdata", "attacks")
}

// allPrograms is the shared sample plus this package's own attacks, one or
// more per category (testdata/attacks, same header format).
func allPrograms(t *testing.T, corpus string) []program {
	progs := loadPrograms(t, filepath.Join(corpus, "python"))
	return append(progs, loadPrograms(t, attacksDir())...)
}

// Slots: CPU- and memory-heavy programs run one at a time so that they get
// the CPU their limit assumes on a small shared machine; the rest run a few
// at a time.
var (
	heavySlot = make(chan struct{}, 1)
	lightSlot = make(chan struct{}, 3)
)

func slotFor(p program) chan struct{} {
	switch p.expect {
	case "cpu", "memory":
		return heavySlot
	}
	if p.name == "timeout_01_busy_loop" {
		return heavySlot
	}
	return lightSlot
}

// TestCorpus runs every program of ../shared/corpus/python and of
// testdata/attacks through the sandbox with the corpus limits and grades it
// by its `# expect:` header. As root this is the namespace sandbox; the
// unprivileged test runs this same test as a non-root uid.
func TestCorpus(t *testing.T) {
	requirePython(t)
	corpus := sharedCorpus(t)
	fx := getFixtures(t)
	progs := allPrograms(t, corpus)
	t.Run("group", func(t *testing.T) {
		for _, p := range progs {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				slot := slotFor(p)
				slot <- struct{}{}
				res := Run(t.Context(), corpusOptionsFor(corpus, p))
				<-slot
				grade(t, p, res, fx)
			})
		}
	})
	// Effects that no run may have, checked when every run is over.
	fx.check(t, "after the corpus")
	time.Sleep(2 * time.Second)
	if o := findOrphans(); len(o) > 0 {
		t.Errorf("2 s after the corpus, processes of user code survive: %q", o)
	}
	if cores, _ := filepath.Glob("core*"); len(cores) > 0 {
		t.Errorf("core files appeared: %q", cores)
	}
	// The runner still runs an ok program correctly afterwards.
	for _, p := range progs {
		if p.name == "ok_01_revenue_by_category" {
			res := Run(t.Context(), corpusOptionsFor(corpus, p))
			grade(t, p, res, fx)
		}
	}
}

func resultMap(t *testing.T, res result.ExecutionResult) map[string]any {
	t.Helper()
	var m map[string]any
	if res.Result != nil {
		if err := json.Unmarshal(res.Result, &m); err != nil {
			t.Errorf("result is not an object: %s", res.Result)
		}
	}
	return m
}

// grade checks one run against its header.
func grade(t *testing.T, p program, res result.ExecutionResult, fx *fixtures) {
	t.Helper()
	reply := replyOf(t, res)
	summary := string(res.Reason) + ": " + res.Message
	t.Logf("%s (%d ms; stdout %d bytes, stderr %d bytes, truncated %v)", summary, res.DurationMillis, len(res.Stdout), len(res.Stderr), res.Truncated)
	if strings.Contains(reply, fx.secret) || strings.Contains(reply, "CX_SECRET=") {
		t.Errorf("the reply leaks the runner's secret")
	}
	completed := res.Reason == result.Completed
	if completed != res.Succeeded {
		t.Errorf("succeeded=%v with reason %s", res.Succeeded, res.Reason)
	}
	if completed && p.result != nil {
		eq, err := jsonEqual(p.result, res.Result)
		if err != nil || !eq {
			t.Errorf("result differs (err %v)\nwant %s\n got %s", err, p.result, res.Result)
		}
	}
	want := func(reasons ...result.Reason) {
		t.Helper()
		for _, r := range reasons {
			if res.Reason == r {
				return
			}
		}
		t.Errorf("reason %s, want one of %v\nmessage: %s\nstderr tail: %s", res.Reason, reasons, res.Message, tail(res.Stderr, 600))
	}
	switch p.expect {
	case "ok":
		want(result.Completed)
		if p.name == "ok_05_long_line_lazy_modules" && res.Stdout != strings.Repeat("x", 200000)+"\n" {
			t.Errorf("the 200 KB line did not pass whole: %d bytes, truncated %v", len(res.Stdout), res.Truncated)
		}
	case "timeout":
		want(result.Timeout) // its CPU limit is three times its wall clock
	case "memory":
		want(result.MemoryLimitExceeded)
	case "cpu":
		if completed {
			// A machine with fewer cores than the program's threads cannot
			// burn the budget in its wall time; the kernel's own count is
			// what the limit enforces.
			if cpu, ok := resultMap(t, res)["cpu_s"].(float64); !ok || cpu >= 5 {
				t.Errorf("completed after using %v s of CPU, over the 5 s limit", resultMap(t, res)["cpu_s"])
			} else {
				t.Logf("completed within the CPU budget (%.2f s of CPU on this machine)", cpu)
			}
		} else {
			want(result.CPULimitExceeded)
		}
	case "output-flood":
		want(result.OutputLimitExceeded)
		if !res.Truncated || len(res.Stdout) > 1<<20+200 {
			t.Errorf("stdout not cut at the cap: %d bytes, truncated %v", len(res.Stdout), res.Truncated)
		}
	case "crash":
		if completed {
			t.Errorf("a crash reported Completed")
		}
		for name, marker := range map[string]string{
			"crash_01_ctypes_segfault":           "cx-before-segv",
			"crash_02_deep_recursion":            "cx-built-nested",
			"crash_03_abort_close_stdio_signals": "cx-before-abort",
		} {
			if p.name == name && !strings.Contains(res.Stdout, marker) {
				t.Errorf("stdout printed before the crash is lost: %q", tail(res.Stdout, 200))
			}
		}
	case "bad-result":
		if completed && p.result == nil {
			t.Errorf("completed without an expected result")
		}
		if !completed && res.Message == "" {
			t.Errorf("no message")
		}
		switch p.name {
		case "badresult_02_non_serialisable":
			if !strings.Contains(res.Message, "function") && !strings.Contains(res.Message, "set") && !strings.Contains(res.Message, "generator") {
				t.Errorf("the error does not name the type: %s", res.Message)
			}
		case "badresult_03_circular_reference":
			if !strings.Contains(res.Message, "circular reference") {
				t.Errorf("want a circular reference error, got %s", res.Message)
			}
		case "badresult_04_exit_without_result":
			want(result.RuntimeError)
		}
	case "fs-read-secret":
		if strings.Contains(reply, "eyJ") || strings.Contains(reply, "BEGIN CERTIFICATE") {
			t.Errorf("the reply carries a token or certificate")
		}
		if p.name == "fsread_01_k8s_serviceaccount_token" && completed {
			if f, _ := resultMap(t, res)["found"].([]any); len(f) != 0 {
				t.Errorf("found service-account files: %v", f)
			}
		}
	case "network":
		m := resultMap(t, res)
		if completed && p.name == "net_01_tcp_localhost_listener" && m["connected"] != false {
			t.Errorf("connected to the loopback listener: %v", m)
		}
		if completed && p.name == "net_02_cloud_metadata" {
			if r, _ := m["responses"].(map[string]any); len(r) != 0 {
				t.Errorf("metadata responses: %v", r)
			}
		}
	case "fs-write":
		if p.name == "fswrite_01_fill_disk_big_file" && !strings.Contains(res.Message, "File too large") && !strings.Contains(res.Message, "SIGXFSZ") && !strings.Contains(res.Message, "quota") {
			t.Errorf("want the file-size limit to stop it, got %s: %s", res.Reason, res.Message)
		}
		if p.name == "fswrite_02_many_files_under_fsize" && completed {
			if b, _ := resultMap(t, res)["bytes"].(float64); b > 256<<20 {
				t.Errorf("wrote %v bytes, over the 256 MiB scratch quota", b)
			}
		}
	case "fork", "escape":
		if p.name == "escape_03_poison_builtins" {
			want(result.Completed) // and equal to its # result, checked above
		}
		if p.name == "escape_04_forge_result" && strings.Contains(string(res.Result), "cx-forged") {
			t.Errorf("a forged result passed: %s", res.Result)
		}
	default:
		t.Fatalf("unknown expect %q", p.expect)
	}
	fx.check(t, p.name)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestKernelBoundary runs the attacks with the audit hook switched off:
// what the hook refuses must then be contained by the kernel (uid,
// namespaces, read-only mounts, rlimits) alone.
func TestKernelBoundary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the kernel boundary of the namespace sandbox needs root; without it the Pod is the boundary")
	}
	requirePython(t)
	corpus := sharedCorpus(t)
	fx := getFixtures(t)
	kinds := map[string]bool{"fork": true, "fs-write": true, "fs-read-secret": true, "network": true, "escape": true}
	t.Run("group", func(t *testing.T) {
		// testdata/kernel: writes the audit hook never sees (dir_fd, sqlite
		// ATTACH and VACUUM INTO, readline history, POSIX shm); only the
		// kernel boundary stops them, so they run here only.
		progs := append(allPrograms(t, corpus), loadPrograms(t, filepath.Join("testdata", "kernel"))...)
		for _, p := range progs {
			if !kinds[p.expect] && p.name != "crash_03_abort_close_stdio_signals" {
				continue
			}
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				lightSlot <- struct{}{}
				o := corpusOptionsFor(corpus, p)
				o.noAuditHook = true
				res := Run(t.Context(), o)
				<-lightSlot
				reply := replyOf(t, res)
				t.Logf("%s: %s", res.Reason, res.Message)
				if strings.Contains(reply, fx.secret) {
					t.Errorf("the reply leaks the runner's secret")
				}
				if strings.Contains(string(res.Result), "cx-forged") {
					t.Errorf("a forged result passed: %s", res.Result)
				}
				if p.name == "net_01_tcp_localhost_listener" && res.Reason == result.Completed {
					if m := resultMap(t, res); m["connected"] != false {
						t.Errorf("connected: %v", m)
					}
				}
				if p.name == "fswrite_10_hook_blind_writes" {
					if res.Reason != result.Completed || strings.Contains(string(res.Result), `"done"`) {
						t.Errorf("a write the hook does not see got through: %s: %s %s", res.Reason, res.Message, res.Result)
					}
					if shm, _ := filepath.Glob("/dev/shm/cx_marker*"); len(shm) > 0 {
						t.Errorf("POSIX shm escaped: %v", shm)
					}
				}
				fx.check(t, p.name)
			})
		}
	})
	fx.check(t, "after the kernel-boundary runs")
	if o := findOrphans(); len(o) > 0 {
		t.Errorf("processes of user code survived: %q", o)
	}
}

// TestUnprivileged runs TestCorpus again as a non-root uid (a copy of this
// test binary started with another credential), which takes the path used
// inside the Pod: no namespaces, no uid change, the runner as subreaper.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("CX_TEST_UNPRIVILEGED_CHILD") != "" {
		t.Skip("already the unprivileged child")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as another uid (this run already is the unprivileged path)")
	}
	requirePython(t)
	corpus := sharedCorpus(t)
	getFixtures(t) // the victim file the child checks
	const uid, gid = 65534, 65534
	dir, err := os.MkdirTemp("", "cx-unpriv-")
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
	for _, sub := range []string{"python", "python/data"} {
		if err := os.MkdirAll(filepath.Join(dir, "corpus", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, pat := range []string{"python/*.py", "python/data/*"} {
		files, _ := filepath.Glob(filepath.Join(corpus, pat))
		for _, f := range files {
			rel, _ := filepath.Rel(corpus, f)
			copyFile(t, f, filepath.Join(dir, "corpus", rel), 0o644)
		}
	}
	attacks := filepath.Join(dir, "attacks")
	_ = os.MkdirAll(attacks, 0o755)
	files, _ := filepath.Glob(filepath.Join(attacksDir(), "*.py"))
	for _, f := range files {
		copyFile(t, f, filepath.Join(attacks, filepath.Base(f)), 0o644)
	}
	home := filepath.Join(dir, "home")
	_ = os.MkdirAll(home, 0o700)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	// One program at a time: without privilege every run shares uid 65534
	// and one PID namespace, so an attack that signals every process it
	// may (kill -1) would reach its siblings. In a Pod each execution has
	// a PID namespace of its own.
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^("+strings.Join(unprivilegedTests, "|")+")$",
		"-test.timeout=25m", "-test.v", "-test.parallel=1")
	cmd.Dir = home
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + home,
		"CX_TEST_UNPRIVILEGED_CHILD=1",
		corpusEnv + "=" + filepath.Join(dir, "corpus"),
		attacksEnv + "=" + attacks,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the corpus as uid %d failed: %v\n%s", uid, err, out)
	}
	for _, name := range unprivilegedTests {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Fatalf("the child did not pass %s:\n%s", name, out)
		}
	}
	if testing.Verbose() {
		t.Logf("child output:\n%s", tail(string(out), 3000))
	}
}

// unprivilegedTests run again in TestUnprivileged's non-root child.
var unprivilegedTests = []string{"TestCorpus", "TestUnprivilegedSaysSo", "TestDefaultLimits",
	"TestReasonsComeFromEvidence", "TestBigResultsStopAtTheBudget", "TestLineIsUTF8",
	"TestSessionKeyring", "TestNothingOutlivesTheRun"}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(to, mode)
}
