package sqlexec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/runner"
	"github.com/codeexec/codeexec-operator/internal/sqlexec"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

// TestRunnerSQL drives `runner run --language sql` (internal/runner/sql.go)
// end to end on a real server: guard, DSN file, execution, JSON result.
func TestRunnerSQL(t *testing.T) {
	schema, err := corpus.SchemaPath()
	if err != nil {
		t.Fatal(err)
	}
	srv := mariadb.Start(t, mariadb.Options{Schema: schema})
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(srv.ReadOnlyDSN()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, sql string, args ...string) (result.ExecutionResult, int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := runner.Main(context.Background(), append([]string{"run", "--language", "sql"}, args...), strings.NewReader(sql), &stdout, &stderr)
		var res result.ExecutionResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatalf("stdout is not one ExecutionResult: %v\n%s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		return res, code, stdout.String() + stderr.String()
	}

	t.Run("rows", func(t *testing.T) {
		res, code, out := run(t, "SELECT id, total FROM orders ORDER BY id", "--dsn-file", dsnFile, "--max-rows", "3")
		if code != 0 || !res.Succeeded {
			t.Fatalf("exit %d: %s", code, out)
		}
		var p sqlexec.Result
		if err := json.Unmarshal(res.Result, &p); err != nil {
			t.Fatal(err)
		}
		if p.SQL != "select `id`, `total` from `orders` order by `id` asc limit 3" || p.RowCount != 3 || !p.Truncated || !res.Truncated {
			t.Errorf("payload %+v", p)
		}
		if got, _ := json.Marshal(p.Rows); string(got) != `[[1,"120.00"],[2,"35.50"],[3,"0.00"]]` {
			t.Errorf("rows %s", got)
		}
		if strings.Contains(out, srv.ReadOnlyPassword) {
			t.Error("the output contains the password")
		}
	})
	t.Run("refused", func(t *testing.T) {
		res, code, _ := run(t, "SELECT LOAD_FILE('/etc/passwd')", "--dsn-file", dsnFile)
		if code != 1 || res.Reason != result.SecurityViolation || !strings.Contains(res.Message, "LOAD_FILE") {
			t.Errorf("exit %d: %+v", code, res)
		}
	})
	t.Run("query-error", func(t *testing.T) {
		res, code, out := run(t, "SELECT nope FROM orders", "--dsn-file", dsnFile)
		if code != 1 || res.Reason != result.QueryError || strings.Contains(out, srv.ReadOnlyPassword) || strings.Contains(out, srv.ReadOnlyUser) {
			t.Errorf("exit %d: %s", code, out)
		}
	})
	t.Run("dry-run", func(t *testing.T) {
		res, code, _ := run(t, "SELECT 1 UNION SELECT 2", "--dry-run")
		if code != 0 || !strings.Contains(string(res.Result), `"sql":"select 1 from dual union select 2 from dual limit 1000"`) {
			t.Errorf("exit %d: %s", code, res.Result)
		}
	})
	t.Run("missing-dsn-file", func(t *testing.T) {
		res, code, _ := run(t, "SELECT 1", "--dsn-file", filepath.Join(t.TempDir(), "none"))
		if code != 1 || res.Reason != result.InvalidInput {
			t.Errorf("exit %d: %+v", code, res)
		}
	})
}
