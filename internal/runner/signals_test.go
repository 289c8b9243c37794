package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// hookOff empties the audit hook's watch list (found through gc), as
// issue 12 showed code can: the boundary under test is the kernel's.
const hookOff = `
import gc
for f in gc.get_objects():
    if type(f).__name__ == 'function' and f.__name__ == 'hook' and f.__closure__:
        for c in f.__closure__:
            try:
                if isinstance(c.cell_contents, frozenset) and 'open' in c.cell_contents:
                    c.cell_contents = frozenset()
            except ValueError:
                pass
`

// signalAll is the attacker's loop: every signal from 1 to 64 but SIGKILL,
// SIGSTOP and the two that mean "stop" (SIGINT, SIGTERM, tested apart),
// sent with pidfd_send_signal to every process of the runner the code can
// find (argv[1] is the role; without a PID namespace of the test's own,
// the code's parent), each of which shares its uid. The result
// counts what the kernel delivered per role.
const signalAll = hookOff + `
import os, signal, time
def runners():
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
        except OSError:
            continue
        if len(argv) > 1 and argv[1] in (b'sandbox', b'run', b'judge'):
            out.append((int(d), argv[1].decode()))
    return out
targets = [(p, role) for p, role in runners() if role != 'judge']
assert targets, 'no runner process is visible: the test would prove nothing'
sent = {}
for p, role in targets:
    fd = os.pidfd_open(p)
    for s in range(1, 65):
        if s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGINT, signal.SIGTERM):
            continue
        try:
            signal.pidfd_send_signal(fd, s)
            r = 'delivered'
        except OSError as e:
            r = os.strerror(e.errno)
        sent.setdefault(role, {}).setdefault(r, 0)
        sent[role][r] += 1
        time.sleep(0.005)
time.sleep(1)
result = sent
`

// TestSupervisorSurvivesEverySignal: every runner process the code can
// signal (the sandbox's supervisor in a Pod, `runner run` without
// privilege) survives every catchable signal and still emits its verdict;
// the judge, which the code cannot signal, survives them from the outside
// (the test sends them as root). SIGTERM (the kubelet's stop) ends the run
// as a RuntimeError "cancelled", never an InternalError or a goroutine
// dump.
func TestSupervisorSurvivesEverySignal(t *testing.T) {
	judgeSignals := `for s in $(seq 1 64); do case $s in 2|9|15|19) ;; *) kill -$s $judge; sleep 0.005 ;; esac; done`
	t.Run("pair: the code signals its supervisor, the test the judge", func(t *testing.T) {
		pr := runPairThen(t, signalAll, 60, judgeSignals)
		if pr.res.Reason != result.Completed || string(pr.res.Result) != `{"sandbox":{"delivered":60}}` {
			t.Fatalf("verdict %s %q result %s, want Completed with 60 signals delivered to the supervisor\nline: %s\nexit: %s",
				pr.res.Reason, pr.res.Message, pr.res.Result, pr.line, pr.exit)
		}
		if pr.exit != "judge exit 0" {
			t.Errorf("the judge: %s", pr.exit)
		}
	})
	t.Run("pair: SIGTERM to the supervisor", func(t *testing.T) {
		pr := runPair(t, hookOff+`
import os, signal, time
for d in os.listdir('/proc'):
    try:
        argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
    except OSError:
        continue
    if len(argv) > 1 and argv[1] == b'sandbox':
        signal.pidfd_send_signal(os.pidfd_open(int(d)), signal.SIGTERM)
time.sleep(60)
`, 60)
		if pr.res.Reason != result.RuntimeError || !strings.Contains(pr.res.Message, "cancelled") {
			t.Fatalf("verdict %s %q, want RuntimeError, cancelled\nline: %s", pr.res.Reason, pr.res.Message, pr.line)
		}
	})
	t.Run("pair: SIGTERM to the judge", func(t *testing.T) {
		pr := runPairThen(t, "import time\ntime.sleep(60)\n", 60, `sleep 1; kill -TERM $judge`)
		if pr.res.Reason != result.RuntimeError || !strings.Contains(pr.res.Message, "cancelled") {
			t.Fatalf("verdict %s %q, want RuntimeError, cancelled\nline: %s", pr.res.Reason, pr.res.Message, pr.line)
		}
	})

	// runner run without privilege: the code's parent is the runner,
	// under the same uid.
	bin := runnerBinary(t)
	runAs := func(t *testing.T, code string) (result.ExecutionResult, string, int) {
		t.Helper()
		cmd := exec.Command("setpriv", "--reuid", fmt.Sprint(testSandboxUID), "--regid", fmt.Sprint(testSandboxUID), "--clear-groups", "--no-new-privs",
			bin, "run", "--language", "python", "--python", testPython, "--timeout", "60s", "--memory", "1Gi")
		cmd.Dir = "/"
		cmd.Stdin = strings.NewReader(code)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code2 := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code2 = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
		var res result.ExecutionResult
		if len(lines) != 1 || json.Unmarshal(lines[0], &res) != nil {
			t.Fatalf("exit %d: want one ExecutionResult line, got %q\nstderr: %s", code2, out.String(), errb.String())
		}
		if strings.Contains(errb.String(), "goroutine ") {
			t.Errorf("the runner dumped its goroutines:\n%.2000s", errb.String())
		}
		return res, string(lines[0]), code2
	}
	t.Run("run: the code signals its runner", func(t *testing.T) {
		// Not in a PID namespace of its own: only the code's parent.
		res, line, code := runAs(t, strings.Replace(signalAll, "targets = [(p, role)", "targets = [(os.getppid(), 'run')] or [(p, role)", 1))
		if res.Reason != result.Completed || string(res.Result) != `{"run":{"delivered":60}}` || code != ExitSucceeded {
			t.Fatalf("exit %d, want Completed with 60 signals delivered to the runner: %s", code, line)
		}
	})
	t.Run("run: SIGTERM to the runner", func(t *testing.T) {
		res, line, code := runAs(t, hookOff+"import os, signal, time\nsignal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGTERM)\ntime.sleep(60)\n")
		if res.Reason != result.RuntimeError || !strings.Contains(res.Message, "cancelled") || code != ExitFailed {
			t.Fatalf("exit %d, want RuntimeError, cancelled: %s", code, line)
		}
	})
}

// supervisorPrelude finds the sandbox's supervisor (argv[1] "sandbox").
const supervisorPrelude = hookOff + `
import os, resource
def supervisors():
    out = []
    for d in os.listdir('/proc'):
        try:
            argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == b'sandbox':
            out.append(int(d))
    return out
sup = supervisors()
assert sup, 'the supervisor is not visible: the test would prove nothing'
`

// TestPrlimitOnTheSupervisor: the supervisor shares the code's uid (Pod
// Security "restricted" leaves no way to change uid under it), so the code
// can prlimit it. That can silence it, never make it lie: the judge, under
// another uid, still decides and writes the summary, and the verdict is
// the code's own failure or "stopped before it reported", never a success
// or a limit the code did not meet.
func TestPrlimitOnTheSupervisor(t *testing.T) {
	cases := map[string]struct{ code, msg string }{
		"NOFILE and FSIZE": {code: supervisorPrelude + `
for p in sup:
    resource.prlimit(p, resource.RLIMIT_NOFILE, (4, 4))
    resource.prlimit(p, resource.RLIMIT_FSIZE, (0, 0))
raise SystemExit(7)
`, msg: "status 7"},
		"AS": {code: supervisorPrelude + `
for p in sup:
    resource.prlimit(p, resource.RLIMIT_AS, (1 << 20, 1 << 20))
raise SystemExit(7)
`},
		"CPU": {code: supervisorPrelude + `
for p in sup:
    resource.prlimit(p, resource.RLIMIT_CPU, (0, 0))
import time; time.sleep(3)
raise SystemExit(7)
`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pr := runPair(t, c.code, 30)
			t.Logf("%s: %s", pr.res.Reason, pr.res.Message)
			if pr.res.Reason != result.RuntimeError || !strings.Contains(pr.res.Message, c.msg) ||
				!(strings.Contains(pr.res.Message, "status 7") || strings.Contains(pr.res.Message, "stopped before it reported")) {
				t.Fatalf("verdict %s %q, want RuntimeError (status 7, or the sandbox stopped)\nline: %s", pr.res.Reason, pr.res.Message, pr.line)
			}
		})
	}
}

// TestSummaryFitsAsEncoded: a message that JSON escaping makes six times
// longer (`<` is \u003c) still gives a summary within the kubelet's 4096
// bytes, with the reason intact (it used to be cut at 1024 bytes before
// escaping: a 6 KB summary the kubelet truncated, read as InternalError).
func TestSummaryFitsAsEncoded(t *testing.T) {
	pr := runPair(t, `raise ValueError("<" * 5000)`, 30)
	if pr.res.Reason != result.RuntimeError || pr.summary.Reason != result.RuntimeError {
		t.Fatalf("verdict %s, summary %s, want RuntimeError", pr.res.Reason, pr.summary.Reason)
	}
	if n := len(pr.summary.Encode()); n > result.MaxSummaryBytes {
		t.Fatalf("the summary is %d bytes as encoded, over %d", n, result.MaxSummaryBytes)
	}
	// runner run --termination-log, the single-container path.
	termLog := t.TempDir() + "/termination-log"
	res, _ := runCLI(t, `raise ValueError("<" * 5000)`, "--language", "python", "--python", testPython, "--termination-log", termLog)
	b, err := os.ReadFile(termLog)
	var s result.Summary
	if err != nil || json.Unmarshal(b, &s) != nil || s.Reason != result.RuntimeError || res.Reason != result.RuntimeError || len(b) > result.MaxSummaryBytes {
		t.Fatalf("runner run: %s, summary %d bytes %.200s (%v)", res.Reason, len(b), b, err)
	}
}
