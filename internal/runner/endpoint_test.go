package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// countingListener accepts TCP connections on loopback and counts them: a
// refused DSN must not even connect.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

// taskDir writes a SQL task as the controller does, with the DSN file
// beside it.
func taskDir(t *testing.T, dsn string, task map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	task["language"] = "sql"
	task["timeoutSeconds"] = 5
	task["memoryBytes"] = 256 << 20
	task["maxOutputBytes"] = 1 << 20
	task["dsnFile"] = dsnFile
	b, _ := json.Marshal(task)
	for name, data := range map[string]string{TaskFile: string(b), CodeFile: "SELECT 1", "dsn": dsn} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTaskRefusesAnUndeclaredEndpointBeforeConnecting(t *testing.T) {
	addr, conns := countingListener(t)
	_, port, _ := net.SplitHostPort(addr)
	dsn := fmt.Sprintf("reader:s3cret-pw@tcp(%s)/shop", addr)
	cases := map[string]struct {
		dsn     string
		task    map[string]any
		message string
	}{
		"not declared": {
			dsn:     dsn,
			task:    map[string]any{"allowedEndpoints": []string{"db.shop.svc:3306", "10.0.0.5:" + port}},
			message: "host:port " + addr + " is not an endpoint the ExecutionPolicy declares for this datasource (declared: db.shop.svc:3306, 10.0.0.5:" + port + ")",
		},
		"no list in the task allows nothing": {
			dsn:     dsn,
			task:    map[string]any{},
			message: "host:port " + addr + " is not an endpoint the ExecutionPolicy declares for this datasource (declared: none)",
		},
		"same port, other address": {
			dsn:     fmt.Sprintf("reader:s3cret-pw@tcp(localhost:%s)/shop", port),
			task:    map[string]any{"allowedEndpoints": []string{addr}},
			message: "host:port localhost:" + port + " is not an endpoint",
		},
		"the driver's default address": {
			dsn:     "reader:s3cret-pw@tcp()/shop",
			task:    map[string]any{"allowedEndpoints": []string{addr}},
			message: "host:port 127.0.0.1:3306 is not an endpoint",
		},
		"unix socket": {
			dsn:     "reader:s3cret-pw@unix(/run/mysqld/mysqld.sock)/shop",
			task:    map[string]any{"allowedEndpoints": []string{addr}},
			message: `the DSN's network is "unix"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := LoadTask(taskDir(t, tc.dsn, tc.task), MaxCodeBytes)
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), c)
			if res.Reason != result.InvalidInput || !strings.Contains(res.Message, tc.message) {
				t.Errorf("result %s %q, want InvalidInput containing %q", res.Reason, res.Message, tc.message)
			}
			if strings.Contains(res.Message, "s3cret") || strings.Contains(res.Message, "reader") {
				t.Errorf("the message %q leaks the DSN", res.Message)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections reached the listener; a refused DSN must not connect", n)
	}
	t.Run("declared: the runner connects", func(t *testing.T) {
		c, err := LoadTask(taskDir(t, dsn, map[string]any{"allowedEndpoints": []string{"127.0.0.1:" + port}}), MaxCodeBytes)
		if err != nil {
			t.Fatal(err)
		}
		res := Run(context.Background(), c)
		if strings.Contains(res.Message, "not an endpoint") {
			t.Fatalf("a declared endpoint was refused: %q", res.Message)
		}
		deadline := time.Now().Add(30 * time.Second)
		for conns.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if conns.Load() == 0 {
			t.Errorf("the runner never connected to a declared endpoint (result %s %q)", res.Reason, res.Message)
		}
	})
}
