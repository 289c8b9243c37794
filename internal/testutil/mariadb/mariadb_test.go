package mariadb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

func TestMain(m *testing.M) { netns.Main(m) }

func TestStartLoadsSchemaAndUsers(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "schema.sql")
	if err := os.WriteFile(schema, []byte("-- a comment\nCREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(10));\nINSERT INTO t VALUES (1, 'a'), (2, 'b');\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := Start(t, Options{Schema: schema, TCP: true})
	ctx := context.Background()

	for name, dsn := range map[string]string{"socket": srv.ReadOnlyDSN(), "tcp": srv.ReadOnlyTCPDSN()} {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s: COUNT(*) = %d, %v", name, n, err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (3, 'c')"); err == nil || !strings.Contains(err.Error(), "denied") {
			t.Errorf("%s: the read-only user could write: %v", name, err)
		}
	}
	rw, err := sql.Open("mysql", srv.ReadWriteDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.ExecContext(ctx, "INSERT INTO t VALUES (3, 'c')"); err != nil {
		t.Errorf("the read-write user cannot write: %v", err)
	}
	if !strings.Contains(srv.Version, "MariaDB") {
		t.Errorf("Version %q", srv.Version)
	}

	pid, dir := srv.PID, srv.Dir
	srv.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("mariadbd (pid %d) still runs after Stop", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop: %v", dir, err)
	}
	srv.Stop() // idempotent
}
