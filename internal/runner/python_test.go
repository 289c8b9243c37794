package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

const testPython = "/usr/bin/python3"

func corpusDir(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(filepath.Dir(d), "shared", "corpus", "python")
			if _, err := os.Stat(c); err != nil {
				t.Fatalf("the shared corpus is missing at %s (<repo root>/../shared/corpus): %v", c, err)
			}
			return c
		}
	}
	t.Fatal("no go.mod above the test's directory")
	return ""
}

// runCLI runs `runner run` in-process and returns the one ExecutionResult
// it printed.
func runCLI(t *testing.T, stdin string, args ...string) (result.ExecutionResult, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"run"}, args...), strings.NewReader(stdin), &out, &errb)
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("want exactly one line on stdout, got %d: %s (stderr %s)", len(lines), out.Bytes(), errb.Bytes())
	}
	var res result.ExecutionResult
	if err := json.Unmarshal(lines[0], &res); err != nil {
		t.Fatalf("stdout is not an ExecutionResult: %v: %s", err, lines[0])
	}
	return res, code
}

func TestRunPythonThroughCLI(t *testing.T) {
	if _, err := os.Stat(testPython); err != nil {
		t.Fatalf("%s is missing: run hack/install-deps.sh", testPython)
	}
	corpus := corpusDir(t)
	secret := "cx-secret-runner-cli-test"
	t.Setenv("CX_SECRET", secret)
	// Limits no ok program can meet on a slow or loaded machine.
	common := []string{"--language", "python", "--python", testPython, "--timeout", "5m", "--cpu-time", "60s", "--memory", "2Gi",
		"--input", "orders=" + filepath.Join(corpus, "data", "orders.csv"),
		"--input", "customers=" + filepath.Join(corpus, "data", "customers.csv")}

	res, code := runCLI(t, "", append(common, "--file", filepath.Join(corpus, "ok_03_merge_segments.py"))...)
	if code != ExitSucceeded || res.Reason != result.Completed {
		t.Fatalf("ok_03: exit %d, %s: %s\n%s", code, res.Reason, res.Message, res.Stderr)
	}
	if !strings.Contains(string(res.Result), `"orders_without_customer":5`) {
		t.Errorf("ok_03 result: %s", res.Result)
	}

	res, code = runCLI(t, "", append(common, "--file", filepath.Join(corpus, "fsread_02_proc_environ_parent.py"))...)
	line := string(result.Encode(res))
	if strings.Contains(line, secret) || strings.Contains(line, "CX_SECRET=") {
		t.Errorf("the runner's secret leaked: %s", line)
	}
	t.Logf("fsread_02: exit %d, %s: %s", code, res.Reason, res.Message)

	res, code = runCLI(t, "x = (\n", common...)
	if code != ExitFailed || res.Reason != result.CompilationError || !strings.Contains(res.Message, "line 1:5") {
		t.Errorf("syntax error from stdin: exit %d, %s: %s", code, res.Reason, res.Message)
	}

	res, code = runCLI(t, "print('no result')\n", common...)
	if code != ExitFailed || res.Reason != result.RuntimeError || !strings.Contains(res.Message, "without setting `result`") {
		t.Errorf("no result: exit %d, %s: %s", code, res.Reason, res.Message)
	}

	res, code = runCLI(t, "result = 1", "--language", "python", "--python", testPython, "--input", "x=/nonexistent.csv")
	if code != ExitFailed || res.Reason != result.InvalidInput {
		t.Errorf("missing input: exit %d, %s: %s", code, res.Reason, res.Message)
	}

	res, code = runCLI(t, "result = 'x' * 5000", "--language", "python", "--python", testPython, "--max-output-bytes", "1000")
	if code != ExitFailed || res.Reason != result.OutputLimitExceeded {
		t.Errorf("big result: exit %d, %s: %s", code, res.Reason, res.Message)
	}
}

// TestOversizedAndUnreadableCode: a well-formed command line whose code is
// over the runner's limit or cannot be read is an InvalidInput result with
// exit status 1 (and a summary in a Pod), never a usage error without JSON.
func TestOversizedAndUnreadableCode(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("SELECT 1 UNION ALL ", MaxCodeBytes/19+10)
	bigFile := filepath.Join(dir, "big.jsx")
	if err := os.WriteFile(bigFile, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "unreadable")
	if err := os.Mkdir(unreadable, 0o755); err != nil { // reading a directory fails
		t.Fatal(err)
	}
	taskDir := filepath.Join(dir, "task")
	_ = os.Mkdir(taskDir, 0o755)
	_ = os.WriteFile(filepath.Join(taskDir, TaskFile), []byte(`{"language":"sql","timeoutSeconds":5}`), 0o644)
	_ = os.WriteFile(filepath.Join(taskDir, CodeFile), []byte(big), 0o644)
	badTask := filepath.Join(dir, "badtask")
	_ = os.Mkdir(badTask, 0o755)
	_ = os.WriteFile(filepath.Join(badTask, TaskFile), []byte(`{"language":`), 0o644)
	termLog := filepath.Join(dir, "termination-log")
	cases := map[string]struct {
		stdin string
		args  []string
	}{
		"5 MB SQL on stdin": {stdin: big, args: []string{"--language", "sql", "--dry-run"}},
		"5 MB JSX file":     {args: []string{"--language", "jsx", "--file", bigFile}},
		"5 MB python":       {stdin: big, args: []string{"--language", "python"}},
		"missing file":      {args: []string{"--language", "python", "--file", filepath.Join(dir, "nope.py")}},
		"directory as file": {args: []string{"--language", "jsx", "--file", unreadable}},
		"task code too big": {args: []string{"--task-dir", taskDir, "--termination-log", termLog}},
		"malformed task":    {args: []string{"--task-dir", badTask, "--termination-log", termLog}},
		"missing task dir":  {args: []string{"--task-dir", filepath.Join(dir, "none"), "--termination-log", termLog}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_ = os.Remove(termLog)
			res, code := runCLI(t, c.stdin, c.args...)
			if res.Reason != result.InvalidInput || code != ExitFailed {
				t.Errorf("%s exit %d, want InvalidInput exit %d: %s", res.Reason, code, ExitFailed, res.Message)
			}
			if slices.Contains(c.args, "--termination-log") {
				b, err := os.ReadFile(termLog)
				var s result.Summary
				if err != nil || json.Unmarshal(b, &s) != nil || s.Reason != result.InvalidInput {
					t.Errorf("no InvalidInput summary in the termination log: %v %s", err, b)
				}
			}
		})
	}
}

// TestUsageErrorsStayUsage: a wrong command line is still exit 2.
func TestUsageErrorsStayUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"run", "--language", "cobol"}, strings.NewReader(""), &out, &errb); code != ExitUsage || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q", code, out.String())
	}
}
