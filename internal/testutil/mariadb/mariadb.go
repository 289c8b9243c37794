// Package mariadb starts a real, throw-away MariaDB server for tests: a
// fresh data directory made by mariadb-install-db, a private unix socket
// (and, on request, a loopback TCP port), an optional schema loaded into a
// database of its own, and a read-only user. The server is stopped by its
// PID and its directory removed when the test ends.
//
//	srv := mariadb.Start(t, mariadb.Options{Schema: "schema.sql"})
//	db, _ := sql.Open("mysql", srv.ReadOnlyDSN())
//
// It needs Debian's mariadb-server (hack/install-deps.sh). Run tests that
// feed hostile SQL to it inside netns.Main so only loopback exists.
package mariadb

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Options configure Start. The zero value starts an empty server with a
// database "cx" and a read-only user, on a unix socket only.
type Options struct {
	// Schema is a SQL file run as root in Database (statements separated
	// by semicolons, as mysqldump or schema.sql write them).
	Schema string
	// Database is created and used by the users' DSNs. Default "cx".
	Database string
	// TCP also listens on 127.0.0.1 on a free port.
	TCP bool
	// BindAddress, when set, listens on this address instead of 127.0.0.1
	// (implies TCP) and lets the users connect from any host: the end-to-end
	// tests and the demo bind to the local cluster's Pod bridge so that
	// sandbox Pods reach the server.
	BindAddress string
	// StartTimeout bounds waiting for the server to accept connections.
	// Default 90s (a loaded CI machine can be slow; this is not a speed check).
	StartTimeout time.Duration
}

// Server is a running MariaDB.
type Server struct {
	// Dir holds the data directory, the socket, the pid and the error log.
	Dir string
	// Socket is the unix socket path.
	Socket string
	// Port is the TCP port, 0 unless Options.TCP or BindAddress.
	Port int
	// Host is the TCP address: 127.0.0.1 or Options.BindAddress.
	Host string
	// Database is the database the schema was loaded into.
	Database string
	// PID is mariadbd's process id.
	PID int
	// Version is the server's VERSION().
	Version string

	// ReadOnlyUser may only SELECT from Database.
	ReadOnlyUser, ReadOnlyPassword string
	// ReadWriteUser may read and write Database (for tests of layers that
	// must hold even when the account could write).
	ReadWriteUser, ReadWritePassword string

	cmd    *exec.Cmd
	exited chan struct{}
}

// Executables, overridable for unusual layouts.
var (
	InstallDB = "mariadb-install-db"
	Mariadbd  = "mariadbd"
)

// Start starts a server for t and registers its shutdown with t.Cleanup. It
// fails t with the server's error log when anything goes wrong.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o)
	if errors.Is(err, errExited) {
		// mariadbd very rarely dies while starting on a loaded host; one
		// fresh attempt, and the first failure kept in the test log.
		t.Logf("mariadb: retrying once after: %v", err)
		s.Stop()
		s, err = New(o)
	}
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatalf("mariadb: %v", err)
	}
	return s
}

var errExited = errors.New("mariadbd exited during startup")

// New starts a server without a testing.TB (for TestMain or a demo); the
// caller must call Stop, also when New returns an error with a Server.
func New(o Options) (*Server, error) {
	if o.Database == "" {
		o.Database = "cx"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 90 * time.Second
	}
	for _, exe := range []string{InstallDB, Mariadbd} {
		if _, err := exec.LookPath(exe); err != nil {
			if _, err2 := os.Stat(filepath.Join("/usr/sbin", exe)); err2 != nil {
				return nil, fmt.Errorf("%s not found (install mariadb-server, see hack/install-deps.sh): %w", exe, err)
			}
		}
	}
	// A short path: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "cxmdb-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Dir:              dir,
		Socket:           filepath.Join(dir, "sock"),
		Database:         o.Database,
		ReadOnlyUser:     "cx_ro",
		ReadOnlyPassword: randomHex(12),
		ReadWriteUser:    "cx_rw",
		// Distinct random secrets let tests check no credential leaks.
		ReadWritePassword: randomHex(12),
	}
	data := filepath.Join(dir, "data")
	asRoot := os.Geteuid() == 0
	install := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"}
	if asRoot {
		install = append(install, "--user=root")
	}
	cmd := exec.Command(lookup(InstallDB), install...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return s, fmt.Errorf("mariadb-install-db: %v\n%s", err, tail(out, 4000))
	}
	args := []string{"--no-defaults", "--datadir=" + data, "--socket=" + s.Socket,
		"--pid-file=" + filepath.Join(dir, "pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--skip-name-resolve", "--skip-log-bin", "--performance-schema=OFF",
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--key-buffer-size=4M",
		// No io_uring/libaio: sandboxes and busy CI hosts refuse them at times.
		"--innodb-use-native-aio=0",
		"--aria-pagecache-buffer-size=8M", "--max-connections=64", "--thread-cache-size=0",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
		"--secure-file-priv=" + filepath.Join(dir, "no-files"), "--local-infile=0"}
	s.Host = "127.0.0.1"
	if o.BindAddress != "" {
		o.TCP, s.Host = true, o.BindAddress
	}
	if o.TCP {
		port, err := freePort(s.Host)
		if err != nil {
			return s, err
		}
		s.Port = port
		args = append(args, "--bind-address="+s.Host, "--port="+strconv.Itoa(port))
	} else {
		args = append(args, "--skip-networking")
	}
	if asRoot {
		args = append(args, "--user=root")
	}
	if err := os.Mkdir(filepath.Join(dir, "no-files"), 0o700); err != nil {
		return s, err
	}
	s.cmd = exec.Command(lookup(Mariadbd), args...)
	// Its own process group, and killed if the test binary dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return s, fmt.Errorf("starting mariadbd: %w", err)
	}
	s.PID = s.cmd.Process.Pid
	s.exited = make(chan struct{})
	var waitErr error
	go func() { waitErr = s.cmd.Wait(); close(s.exited) }()

	root, err := s.waitReady(func() error { return waitErr }, o.StartTimeout)
	if err != nil {
		return s, err
	}
	defer root.Close()
	if err := s.setup(root, o); err != nil {
		return s, fmt.Errorf("%w\n%s", err, s.ErrorLog())
	}
	return s, nil
}

func (s *Server) waitReady(waitErr func() error, timeout time.Duration) (*sql.DB, error) {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%w: %v\n%s", errExited, waitErr(), s.ErrorLog())
		default:
		}
		if _, err := os.Stat(s.Socket); err == nil {
			db, err := sql.Open("mysql", s.rootDSN(""))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err = db.PingContext(ctx)
				cancel()
				if err == nil {
					return db, nil
				}
				db.Close()
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mariadbd did not accept connections within %v\n%s", timeout, s.ErrorLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) setup(root *sql.DB, o Options) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := root.QueryRowContext(ctx, "SELECT VERSION()").Scan(&s.Version); err != nil {
		return err
	}
	db := "`" + strings.ReplaceAll(s.Database, "`", "``") + "`"
	stmts := []string{"CREATE DATABASE " + db + " CHARACTER SET utf8mb4"}
	for _, u := range []struct{ name, pass, grant string }{
		{s.ReadOnlyUser, s.ReadOnlyPassword, "SELECT"},
		{s.ReadWriteUser, s.ReadWritePassword, "ALL PRIVILEGES"},
	} {
		hosts := []string{"localhost", "127.0.0.1"}
		if o.BindAddress != "" {
			hosts = append(hosts, "%")
		}
		for _, host := range hosts {
			stmts = append(stmts,
				fmt.Sprintf("CREATE USER '%s'@'%s' IDENTIFIED BY '%s'", u.name, host, u.pass),
				fmt.Sprintf("GRANT %s ON %s.* TO '%s'@'%s'", u.grant, db, u.name, host))
		}
	}
	for _, q := range stmts {
		if _, err := root.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("setting up the server: %w", err)
		}
	}
	if o.Schema == "" {
		return nil
	}
	schema, err := os.ReadFile(o.Schema)
	if err != nil {
		return err
	}
	cfg := s.config("root", "", s.Database)
	cfg.MultiStatements = true
	loader, err := openConfig(cfg)
	if err != nil {
		return err
	}
	defer loader.Close()
	if _, err := loader.ExecContext(ctx, string(schema)); err != nil {
		return fmt.Errorf("loading %s: %w", o.Schema, err)
	}
	return nil
}

// Stop kills the server by its PID, waits for it, and removes its
// directory. It is safe to call more than once.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(20 * time.Second):
				// Its own process group: kill it whole, by PID.
				_ = syscall.Kill(-s.PID, syscall.SIGKILL)
				<-s.exited
			}
		}
		s.cmd = nil
	}
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
		s.Dir = ""
	}
}

// ErrorLog returns the end of the server's error log, for failure messages.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return "mariadbd error log (end):\n" + tail(b, 4000)
}

// Config returns a go-sql-driver configuration for user on the unix socket.
func (s *Server) config(user, pass, db string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = user, pass, db
	cfg.Net, cfg.Addr = "unix", s.Socket
	return cfg
}

func (s *Server) rootDSN(db string) string { return s.config("root", "", db).FormatDSN() }

// AdminDSN is root's DSN on the unix socket, in Database.
func (s *Server) AdminDSN() string { return s.rootDSN(s.Database) }

// ReadOnlyDSN is the read-only user's DSN on the unix socket.
func (s *Server) ReadOnlyDSN() string {
	return s.config(s.ReadOnlyUser, s.ReadOnlyPassword, s.Database).FormatDSN()
}

// ReadWriteDSN is the read-write user's DSN on the unix socket.
func (s *Server) ReadWriteDSN() string {
	return s.config(s.ReadWriteUser, s.ReadWritePassword, s.Database).FormatDSN()
}

// ReadOnlyTCPDSN is the read-only user's DSN over TCP (Options.TCP or
// BindAddress).
func (s *Server) ReadOnlyTCPDSN() string {
	cfg := s.config(s.ReadOnlyUser, s.ReadOnlyPassword, s.Database)
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	return cfg.FormatDSN()
}

// Admin opens a root connection pool in Database, closed at cleanup.
func (s *Server) Admin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openConfig(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func lookup(exe string) string {
	if p, err := exec.LookPath(exe); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", exe)
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
