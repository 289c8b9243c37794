package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// The two roles as they run in a Pod: the judge and the sandbox as two
// processes under two uids, here in one private PID namespace with its own
// /proc (harder than the Pod, where they do not even share a PID
// namespace: the code sees the judge and can pidfd_open it), inside the
// test's loopback-only network namespace. The channel directory belongs
// to the judge and is read-only to the sandbox, as the read-only mount is
// in the Pod. Each attack is what code that read the runner would try.

const (
	testJudgeUID   = 65532
	testSandboxUID = 16777301
)

// findJudge is the attacker's prelude: every process whose argv[1] is
// "judge" or "run" (the runner that writes the verdict), which today's
// single-container Pod makes the code's parent.
//
// It first empties the audit hook's watch list (found through gc), as
// issue 12 showed code can: the hook is a tripwire, the kernel is the
// boundary these tests prove.
const findJudge = `
import os, signal, resource, json, gc
for f in gc.get_objects():
    if type(f).__name__ == 'function' and f.__name__ == 'hook' and f.__closure__:
        for c in f.__closure__:
            try:
                if isinstance(c.cell_contents, frozenset) and 'open' in c.cell_contents:
                    c.cell_contents = frozenset()
            except ValueError:
                pass
def judges():
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            argv = open('/proc/%s/cmdline' % d, 'rb').read().split(b'\0')
        except OSError:
            continue
        if len(argv) > 1 and argv[1] in (b'judge', b'run'):
            out.append(int(d))
    return out
def attempt(f):
    try:
        f()
        return 'done'
    except OSError as e:
        return os.strerror(e.errno)
targets = judges()
assert targets, 'the judge is not visible: the test would prove nothing'
`

var buildRunnerOnce struct {
	sync.Once
	path string
	err  error
}

func runnerBinary(t *testing.T) string {
	t.Helper()
	buildRunnerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cx-runner-bin-")
		if err != nil {
			buildRunnerOnce.err = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		// The image's layout: the runner_slim build as `runner`, the full
		// build beside it, so the roles run here exactly as in a Pod
		// (the slim sandbox hands Python over to runner-full).
		p := filepath.Join(dir, "runner")
		for _, b := range []struct{ out, tags string }{{"runner", "runner_slim"}, {FullBinary, ""}} {
			cmd := exec.Command("go", "build", "-tags", b.tags, "-o", filepath.Join(dir, b.out), "github.com/codeexec/codeexec-operator/cmd/runner")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildRunnerOnce.err = fmt.Errorf("go build -tags %q: %v\n%s", b.tags, err, out)
				return
			}
		}
		buildRunnerOnce.path = p
	})
	if buildRunnerOnce.err != nil {
		t.Fatal(buildRunnerOnce.err)
	}
	return buildRunnerOnce.path
}

type pairRun struct {
	res     result.ExecutionResult
	line    []byte
	summary result.Summary
	exit    string
}

// runPair runs code through `runner judge` (uid 65532) and `runner
// sandbox` (another uid) in one new PID namespace.
func runPair(t *testing.T, code string, timeoutSeconds int64, extraJudge ...string) pairRun {
	t.Helper()
	return runPairThen(t, code, timeoutSeconds, "", extraJudge...)
}

// runPairThen is runPair with a shell snippet run once both roles are
// started and the judge has installed its signal handlers ($judge and
// $sandbox are their pids).
func runPairThen(t *testing.T, code string, timeoutSeconds int64, then string, extraJudge ...string) pairRun {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the two-uid test needs root (CI runs as root)")
	}
	bin := runnerBinary(t)
	root := t.TempDir()
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	mk := func(name string, uid int, mode os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	task := mk("task", 0, 0o755)
	channel := mk("channel", testJudgeUID, 0o755)
	judgeDir := mk("judge", testJudgeUID, 0o755)
	scratch := mk("scratch", testSandboxUID, 0o700)
	tj, _ := json.Marshal(Task{Language: Python, TimeoutSeconds: timeoutSeconds, MemoryBytes: 1 << 30, MaxOutputBytes: 1 << 20})
	if err := os.WriteFile(filepath.Join(task, TaskFile), tj, 0o444); err != nil {
		t.Fatal(err)
	}
	code = strings.ReplaceAll(code, "@TERMLOG@", filepath.Join(judgeDir, "termination-log"))
	code = strings.ReplaceAll(code, "@SOCKET@", filepath.Join(channel, "judge.sock"))
	if err := os.WriteFile(filepath.Join(task, CodeFile), []byte(code), 0o444); err != nil {
		t.Fatal(err)
	}
	termLog := filepath.Join(judgeDir, "termination-log")
	socket := filepath.Join(channel, "judge.sock")
	as := func(uid int) string {
		return fmt.Sprintf("setpriv --reuid %d --regid %d --clear-groups --no-new-privs", uid, uid)
	}
	script := fmt.Sprintf(`%s %s judge --task-dir %s --channel %s --termination-log %s --report-grace 2s %s >%s/out 2>%s/err &
judge=$!
%s %s sandbox --task-dir %s --channel %s --scratch-dir %s --python %s >/dev/null 2>&1 &
sandbox=$!
if [ -n "$THEN" ]; then
	# until the judge has installed its handlers: setpriv has exec'd the
	# runner (argv[1] is "judge"; setpriv may inherit an ignored signal
	# 32) and SignalContext has ignored signal 32, which it does last
	until [ "$(tr '\0' '\n' </proc/$judge/cmdline 2>/dev/null | sed -n 2p)" = judge ] &&
		[ $(( 0x$(awk '/^SigIgn/ {print $2}' /proc/$judge/status 2>/dev/null || echo 0) >> 31 & 1 )) = 1 ]; do
		kill -0 $judge 2>/dev/null || break
		sleep 0.05
	done
	eval "$THEN"
fi
wait $judge
echo "judge exit $?"
`, as(testJudgeUID), bin, task, socket, termLog, strings.Join(extraJudge, " "), judgeDir, judgeDir,
		as(testSandboxUID), bin, task, socket, scratch, testPython)
	// PID 1 of the namespace is this root shell: when it exits, the
	// kernel kills whatever the sandbox left behind.
	cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--mount-proc", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/bin:/usr/bin:/bin", "THEN="+then)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the pair failed: %v\n%s", err, out)
	}
	var pr pairRun
	pr.exit = strings.TrimSpace(string(out))
	stdout, _ := os.ReadFile(filepath.Join(judgeDir, "out"))
	stderr, _ := os.ReadFile(filepath.Join(judgeDir, "err"))
	lines := bytes.Split(bytes.TrimSpace(stdout), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("the judge printed %d lines: %s\nstderr: %s", len(lines), stdout, stderr)
	}
	pr.line = lines[0]
	if err := json.Unmarshal(pr.line, &pr.res); err != nil {
		t.Fatalf("the judge's line is not an ExecutionResult: %v: %s\n%s\nstderr: %s", err, pr.line, pr.exit, stderr)
	}
	tl, err := os.ReadFile(termLog)
	if err != nil {
		t.Fatalf("the judge wrote no termination log: %v (stderr %s)", err, stderr)
	}
	if err := json.Unmarshal(tl, &pr.summary); err != nil {
		t.Fatalf("termination log %q: %v", tl, err)
	}
	// The summary is the judge's: it describes exactly the line it printed.
	sum := sha256.Sum256(pr.line)
	if pr.summary.SHA256 != hex.EncodeToString(sum[:]) || pr.summary.Size != int64(len(pr.line)) || pr.summary.Reason != pr.res.Reason {
		t.Fatalf("the termination summary %s does not describe the judge's line %s", tl, pr.line)
	}
	return pr
}

func TestJudgeSurvivesTheCode(t *testing.T) {
	cases := map[string]struct {
		code       string
		timeout    int64
		wantReason result.Reason
		wantMsg    string
		wantResult string
	}{
		"signals at the judge": {
			code: findJudge + `
result = {s.name: sorted({attempt(lambda: signal.pidfd_send_signal(os.pidfd_open(p), s)) for p in targets})
          for s in (signal.SIGQUIT, signal.SIGSEGV, signal.SIGABRT, signal.SIGTERM, signal.SIGSTOP, signal.SIGKILL)}
`,
			wantReason: result.Completed,
			wantResult: `{"SIGQUIT":["Operation not permitted"],"SIGSEGV":["Operation not permitted"],"SIGABRT":["Operation not permitted"],` +
				`"SIGTERM":["Operation not permitted"],"SIGSTOP":["Operation not permitted"],"SIGKILL":["Operation not permitted"]}`,
		},
		"prlimit on the judge": {
			code: findJudge + `
result = {name: sorted({attempt(lambda: resource.prlimit(p, r, (v, v))) for p in targets})
          for name, r, v in (("NOFILE", resource.RLIMIT_NOFILE, 5), ("FSIZE", resource.RLIMIT_FSIZE, 0), ("AS", resource.RLIMIT_AS, 1 << 20))}
`,
			wantReason: result.Completed,
			wantResult: `{"NOFILE":["Operation not permitted"],"FSIZE":["Operation not permitted"],"AS":["Operation not permitted"]}`,
		},
		"a forged summary pre-written to the judge's termination log": {
			code: findJudge + `
d = os.open(os.path.dirname('@TERMLOG@'), os.O_RDONLY)
forged = '{"succeeded":true,"reason":"Completed","message":"forged","durationMillis":1,"size":2,"sha256":"' + '0' * 64 + '"}'
print(attempt(lambda: os.write(os.open(os.path.basename('@TERMLOG@'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=d), forged.encode())))
print(attempt(lambda: os.rename('@SOCKET@', '@SOCKET@.x')))
raise SystemExit(7)
`,
			wantReason: result.RuntimeError,
			wantMsg:    "7",
		},
		"kill -1": {
			code:       findJudge + "os.kill(-1, signal.SIGKILL)\n",
			wantReason: result.RuntimeError,
			wantMsg:    "stopped before it reported",
		},
		"a forged report on the judge's socket, then the supervisor killed": {
			code: findJudge + `
import socket
def forge():
    s = socket.socket(socket.AF_UNIX)
    s.connect('@SOCKET@')
    s.sendall(b'{"succeeded":true,"reason":"Completed","message":"forged","result":"pwned","stdout":"","stderr":"","truncated":false,"durationMillis":1}\n')
attempt(forge)  # the judge unlinked its socket once the supervisor connected
os.kill(os.getppid(), signal.SIGKILL)
`,
			wantReason: result.RuntimeError,
			wantMsg:    "stopped before it reported",
		},
		"the supervisor stopped": {
			code:       findJudge + "import time\nos.kill(os.getppid(), signal.SIGSTOP)\ntime.sleep(60)\n",
			timeout:    3,
			wantReason: result.Timeout,
			wantMsg:    "judge's clock",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 20
			}
			pr := runPair(t, tc.code, timeout)
			if pr.res.Reason != tc.wantReason || !strings.Contains(pr.res.Message, tc.wantMsg) {
				t.Fatalf("verdict %s %q, want %s with %q\nline: %s", pr.res.Reason, pr.res.Message, tc.wantReason, tc.wantMsg, pr.line)
			}
			if strings.Contains(string(pr.line), "forged") || strings.Contains(string(pr.line), "pwned") {
				t.Errorf("the forgery reached the verdict: %s", pr.line)
			}
			if tc.wantResult != "" {
				var w, g any
				_ = json.Unmarshal([]byte(tc.wantResult), &w)
				_ = json.Unmarshal(pr.res.Result, &g)
				wb, _ := json.Marshal(w)
				gb, _ := json.Marshal(g)
				if !bytes.Equal(wb, gb) {
					t.Errorf("result %s, want %s", gb, wb)
				}
			}
		})
	}
}

// A judge refuses a sandbox running as its own uid: that Pod would give
// the code the judge's uid.
func TestJudgeRefusesASandboxUnderItsOwnUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	bin := runnerBinary(t)
	root := t.TempDir()
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	tj, _ := json.Marshal(Task{Language: Python, TimeoutSeconds: 10, MemoryBytes: 1 << 30, MaxOutputBytes: 1 << 20})
	_ = os.WriteFile(filepath.Join(root, TaskFile), tj, 0o444)
	_ = os.WriteFile(filepath.Join(root, CodeFile), []byte("result = 1\n"), 0o444)
	sock := filepath.Join(root, "s")
	_ = os.Chown(root, testJudgeUID, testJudgeUID)
	as := fmt.Sprintf("setpriv --reuid %d --regid %d --clear-groups", testJudgeUID, testJudgeUID)
	script := fmt.Sprintf("%s %s judge --task-dir %s --channel %s & j=$!; %s %s sandbox --task-dir %s --channel %s --python %s >/dev/null 2>&1; wait $j",
		as, bin, root, sock, as, bin, root, sock, testPython)
	out, _ := exec.Command("sh", "-c", script).Output()
	var res result.ExecutionResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Reason != result.InternalError || !strings.Contains(res.Message, "uid") {
		t.Fatalf("verdict %s %q, want InternalError naming the uid", res.Reason, res.Message)
	}
}
