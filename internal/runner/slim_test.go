package runner

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The runner_slim build (the image's runner) must link nothing of the
// other languages, run JSX itself and hand Python and SQL over to the
// full build beside it, stdin included; without that build beside it, it
// reports an InternalError, never a wrong result.
func TestSlimBuild(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the runner: %v", err)
	}
	deps, err := exec.Command(goBin, "list", "-deps", "-tags", "runner_slim", "../../cmd/runner").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, heavy := range []string{"vitess.io/", "/internal/sqlguard", "/internal/sqlexec", "/internal/endpoint", "github.com/go-sql-driver/", "google.golang.org/protobuf", "github.com/golang/glog"} {
		if strings.Contains(string(deps), heavy) {
			t.Errorf("the runner_slim build links %s", heavy)
		}
	}
	dir := t.TempDir()
	build := func(out string, tags ...string) {
		args := append([]string{"build", "-o", filepath.Join(dir, out)}, tags...)
		cmd := exec.Command(goBin, append(args, "../../cmd/runner")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", tags, err, b)
		}
	}
	build("runner", "-tags", "runner_slim")
	build(FullBinary)
	run := func(bin, stdin string, args ...string) (map[string]any, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, bin), args...)
		cmd.Stdin = strings.NewReader(stdin)
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%s %v: %v: %q", bin, args, err, out.String())
		}
		delete(res, "durationMillis")
		return res, code
	}
	sql := []string{"run", "--language", "sql", "--dry-run"}
	slim, code := run("runner", "SELECT a FROM t", sql...)
	full, fullCode := run(FullBinary, "SELECT a FROM t", sql...)
	if code != fullCode || !equalJSON(slim, full) || slim["reason"] != "Completed" {
		t.Errorf("sql through the slim runner: exit %d %v; the full runner: exit %d %v", code, slim, fullCode, full)
	}
	// A task (in a Pod) is handed over too: the same outcome as the full
	// build's (here the SQL task names no DSN file).
	task := t.TempDir()
	if err := os.WriteFile(filepath.Join(task, TaskFile), []byte(`{"language":"sql","timeoutSeconds":5,"memoryBytes":1000000,"maxOutputBytes":10000}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(task, CodeFile), []byte("SELECT 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	slim, code = run("runner", "", "run", "--task-dir", task)
	full, fullCode = run(FullBinary, "", "run", "--task-dir", task)
	if code != fullCode || !equalJSON(slim, full) || slim["reason"] != "InvalidInput" {
		t.Errorf("a sql task through the slim runner: exit %d %v; the full runner: exit %d %v", code, slim, fullCode, full)
	}
	jsx := []string{"run", "--language", "jsx"}
	if res, code := run("runner", "export default () => <p>hi</p>;", jsx...); code != 0 || res["reason"] != "Completed" {
		t.Errorf("jsx in the slim runner: exit %d %v", code, res)
	}
	if err := os.Remove(filepath.Join(dir, FullBinary)); err != nil {
		t.Fatal(err)
	}
	if res, code := run("runner", "SELECT 1", sql...); code != ExitFailed || res["reason"] != "InternalError" {
		t.Errorf("sql without %s beside the slim runner: exit %d %v, want an InternalError", FullBinary, code, res)
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
