// Package sqlexec runs one statement the SQL guard accepted, read-only, on
// a MariaDB or MySQL datasource, and returns its rows in a predictable JSON
// shape.
//
// It uses github.com/go-sql-driver/mysql: pure Go (no libmysqlclient in the
// runner image), unix sockets and TCP, context cancellation, the text
// protocol for a query without arguments (so values arrive exactly as the
// server prints them: DECIMAL stays exact), server error numbers, and
// multi-statements off unless asked for (this package forces it off).
//
// Layers, each holding if the others fail:
//   - credentials come from a file (ReadDSNFile), are never logged (the
//     driver's logger is silenced) and are scrubbed from every message;
//   - connection parameters from the DSN are dropped; the session is set to
//     utf8mb4 and a known sql_mode (no ANSI_QUOTES, NO_BACKSLASH_ESCAPES,
//     PIPES_AS_CONCAT or HIGH_NOT_PRECEDENCE, so the guard's regenerated SQL
//     means on the server what it meant to the guard);
//   - on MariaDB, default_regex_flags is cleared (the regular-expression
//     semantics the guard bounds);
//   - the statement runs inside START TRANSACTION READ ONLY, rolled back;
//   - a server-side time limit (MariaDB: max_statement_time in seconds;
//     MySQL: max_execution_time in milliseconds, detected from VERSION())
//     and the client's context deadline; when the client deadline fires
//     first, the query is killed from a second connection (KILL QUERY, then
//     KILL CONNECTION if it lingers) until the server no longer lists it;
//   - rows are fetched up to MaxRows (and MaxBytes), truncated said so.
package sqlexec

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/sqlguard"
)

// SQLMode is the session sql_mode every statement runs under.
const SQLMode = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// maxDSNFile bounds the DSN file.
const maxDSNFile = 8 << 10

// Options bound one execution.
type Options struct {
	// Timeout is the client deadline for connecting, running and fetching.
	Timeout time.Duration
	// ServerTimeout is the server-side statement time limit. Default
	// Timeout. (Tests set it above Timeout to exercise the kill path.)
	ServerTimeout time.Duration
	// MaxRows caps the rows returned (default 1000).
	MaxRows int64
	// MaxBytes caps the approximate JSON size of the rows; 0 means no cap.
	MaxBytes int64
	// LimitClamped says the guard added or lowered the outer LIMIT to
	// MaxRows: a result of exactly MaxRows rows is then reported as
	// truncated, since the server stopped at the LIMIT and more rows may
	// have existed.
	LimitClamped bool
}

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	// Type is the server's type name as the driver reports it: INT,
	// UNSIGNED BIGINT, DECIMAL, VARCHAR, DATETIME, BLOB, ...
	Type string `json:"type"`
}

// Result is the SQL payload of an ExecutionResult.
type Result struct {
	// SQL is the statement actually sent.
	SQL       string   `json:"sql"`
	Columns   []Column `json:"columns"`
	Rows      [][]any  `json:"rows"`
	RowCount  int      `json:"rowCount"`
	Truncated bool     `json:"truncated"`
}

// Error is a failed execution with the reason to report.
type Error struct {
	Reason  result.Reason
	Message string
	// Unkillable says the server went on running the statement after the
	// executor killed its query and its connection: an administrator must
	// look at the server (the runner logs it on stderr).
	Unkillable bool
}

func (e *Error) Error() string { return e.Message }

// ReadDSNFile reads a go-sql-driver DSN (user:password@unix(/path)/db or
// user:password@tcp(host:port)/db) from a mounted Secret file.
func ReadDSNFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", &Error{Reason: result.InvalidInput, Message: "cannot open the DSN file"}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDSNFile+1))
	if err != nil {
		return "", &Error{Reason: result.InvalidInput, Message: "cannot read the DSN file"}
	}
	if len(b) > maxDSNFile {
		return "", &Error{Reason: result.InvalidInput, Message: fmt.Sprintf("the DSN file is over %d bytes", maxDSNFile)}
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", &Error{Reason: result.InvalidInput, Message: "the DSN file is empty"}
	}
	return dsn, nil
}

// Execute runs query, which the caller already guarded, on the datasource
// dsn. The runner uses ExecuteGuarded, which guards for the server reached.
func Execute(ctx context.Context, dsn, query string, o Options) (*Result, error) {
	return execute(ctx, dsn, o, func(context.Context, *sql.Conn, string) (string, bool, error) {
		return query, o.LimitClamped, nil
	})
}

// ExecuteGuarded guards code for the server the datasource actually
// serves, and runs what the guard sends. Before anything of the code runs
// it learns, with its own trusted queries on the same connection:
//   - the server's flavor and version (VERSION()): the guard's function
//     allow-list is that dialect's built-ins (sqlguard.Dialect);
//   - the server's character sets and collations
//     (information_schema.COLLATIONS): the closed set for the names the
//     guard prints unquoted;
//   - the stored routines of the database (information_schema.ROUTINES):
//     a statement that calls a function of the same name as one of them is
//     refused (SecurityViolation), whatever the allow-list says.
//
// A refusal is returned as the guard's *sqlguard.Refusal.
func ExecuteGuarded(ctx context.Context, dsn, code string, p sqlguard.Policy, o Options) (*Result, error) {
	return execute(ctx, dsn, o, func(ctx context.Context, conn *sql.Conn, version string) (string, bool, error) {
		st, err := guardFor(ctx, conn, version, code, p)
		if err != nil {
			return "", false, err
		}
		return st.SQL, st.LimitClamped, nil
	})
}

// errNotRun marks errors of the preparation (guard refusals, an
// unsupported server) that are returned as they are.
type errNotRun struct{ err error }

func (e errNotRun) Error() string { return e.err.Error() }
func (e errNotRun) Unwrap() error { return e.err }

func guardFor(ctx context.Context, conn *sql.Conn, version, code string, p sqlguard.Policy) (sqlguard.Statement, error) {
	d, err := sqlguard.ParseServerVersion(version)
	if err != nil {
		return sqlguard.Statement{}, errNotRun{&Error{Reason: result.InvalidInput, Message: "the datasource: " + err.Error()}}
	}
	charsets, collations, err := serverNames(ctx, conn)
	if err != nil {
		return sqlguard.Statement{}, fmt.Errorf("reading the server's collations: %w", err)
	}
	d.SetServerNames(charsets, collations)
	p.Dialect = d
	if !p.AllowSystemSchemas {
		if p.MaxDataLength, err = maxDataLength(ctx, conn); err != nil {
			return sqlguard.Statement{}, fmt.Errorf("reading the declared column lengths: %w", err)
		}
	}
	g, err := sqlguard.New(p)
	if err != nil {
		return sqlguard.Statement{}, err
	}
	st, err := g.Check(code)
	if err != nil {
		return sqlguard.Statement{}, errNotRun{err}
	}
	if len(st.Functions) > 0 {
		routines, err := routineNames(ctx, conn)
		if err != nil {
			return sqlguard.Statement{}, fmt.Errorf("reading the database's routines: %w", err)
		}
		for _, f := range st.Functions {
			if routines[f] {
				return sqlguard.Statement{}, errNotRun{&sqlguard.Refusal{Reason: result.SecurityViolation,
					Message: fmt.Sprintf("function %s is also a stored routine of the database (a call could run it instead of the built-in)", strings.ToUpper(f))}}
			}
		}
	}
	return st, nil
}

// serverNames reads the server's character set and collation names.
func serverNames(ctx context.Context, conn *sql.Conn) (charsets, collations []string, err error) {
	rows, err := conn.QueryContext(ctx, "SELECT COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var coll, cs sql.NullString
		if err := rows.Scan(&coll, &cs); err != nil {
			return nil, nil, err
		}
		collations = append(collations, coll.String)
		charsets = append(charsets, cs.String)
	}
	return charsets, collations, rows.Err()
}

// routineNames reads the names (lower case: routine names are
// case-insensitive) of the stored routines of the connection's default
// database, the schema an unqualified call resolves in. The
// account sees the routines it may run.
func routineNames(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names[strings.ToLower(n)] = true
	}
	return names, rows.Err()
}

// maxDataLength is the longest value (in characters) a column of the
// current database may hold, by its declared type; at least the text of a
// number. The guard bounds regular expressions over table data with it
// (sqlguard.Policy.MaxDataLength) when the statement names no other
// database.
func maxDataLength(ctx context.Context, conn *sql.Conn) (uint64, error) {
	var n sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT MAX(CHARACTER_MAXIMUM_LENGTH) FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = DATABASE()").Scan(&n)
	if err != nil {
		return 0, err
	}
	return uint64(max(n.Int64, 100)), nil
}

// prepareFunc returns the statement to send, learning what it needs from
// the connection, and whether its LIMIT was clamped.
type prepareFunc func(ctx context.Context, conn *sql.Conn, version string) (string, bool, error)

func execute(ctx context.Context, dsn string, o Options, prepare prepareFunc) (*Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ServerTimeout <= 0 {
		o.ServerTimeout = o.Timeout
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 1000
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, &Error{Reason: result.InvalidInput, Message: "the DSN file does not hold a valid DSN (user:password@unix(/socket)/db or user:password@tcp(host:port)/db)"}
	}
	s := scrubber{dsn: dsn, cfg: cfg}
	harden(cfg, o.Timeout)
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, &Error{Reason: result.InvalidInput, Message: s.scrub("the DSN is not usable: " + err.Error())}
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	// A released connection is closed, never kept idle on the server.
	db.SetMaxIdleConns(0)

	runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	e := &execution{db: db, o: o, s: s, prepare: prepare}
	res, err := e.run(runCtx)
	if err == nil {
		return res, nil
	}
	var nr errNotRun
	if errors.As(err, &nr) {
		return nil, nr.err
	}
	cerr := e.classify(runCtx, err)
	if cerr.Reason == result.Timeout && e.connID != 0 {
		// The client gave up (deadline or caller cancellation) while the
		// server may still be running our statement, or the server stopped
		// it: either way, return only once the server no longer lists our
		// connection.
		if kerr := e.kill(ctx); kerr != nil {
			return nil, &Error{Reason: result.Timeout, Unkillable: true, Message: s.scrub(fmt.Sprintf(
				"the query did not finish within the %v timeout and the server did not stop it: "+
					"connection %d still runs after KILL QUERY and KILL CONNECTION (%v); the statement holds a "+
					"server thread until it reaches a kill check: a database administrator should watch it "+
					"(SHOW PROCESSLIST on the datasource) and may have to restart the server",
				e.o.Timeout, e.connID, kerr))}
		}
	}
	return nil, cerr
}

// harden overrides what a DSN may say that would weaken the layers.
func harden(cfg *mysql.Config, timeout time.Duration) {
	cfg.MultiStatements = false
	cfg.InterpolateParams = false
	cfg.AllowAllFiles = false
	cfg.ParseTime = false
	cfg.ColumnsWithAlias = false
	cfg.ClientFoundRows = false
	cfg.Params = nil // arbitrary session variables set at connect
	cfg.Collation = "utf8mb4_general_ci"
	cfg.Logger = &mysql.NopLogger{}
	cfg.Timeout = min(timeout, 10*time.Second)
	// Backstops in case a context is somehow not honoured.
	cfg.ReadTimeout = timeout + 30*time.Second
	cfg.WriteTimeout = timeout + 30*time.Second
}

type execution struct {
	db      *sql.DB
	o       Options
	s       scrubber
	prepare prepareFunc
	query   string
	connID  int64
	mariadb bool
}

func (e *execution) run(ctx context.Context) (*Result, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the datasource: %w", err)
	}
	defer conn.Close()
	var version string
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID(), VERSION()").Scan(&e.connID, &version); err != nil {
		return nil, fmt.Errorf("identifying the server: %w", err)
	}
	e.mariadb = strings.Contains(strings.ToLower(version), "mariadb")
	setup := []string{
		"SET NAMES utf8mb4",
		"SET SESSION sql_mode = '" + SQLMode + "'",
		e.timeLimitStatement(),
	}
	if e.mariadb {
		// PCRE's flags as the guard modelled them (sqlguard/regex.go): an
		// administrator's EXTENDED, MULTILINE or DOTALL would change what
		// a pattern matches and how long it takes.
		setup = append(setup, "SET SESSION default_regex_flags = ''")
	}
	setup = append(setup, "START TRANSACTION READ ONLY")
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("preparing the session: %w", err)
		}
	}
	e.query, e.o.LimitClamped, err = e.prepare(ctx, conn, version)
	var res *Result
	if err == nil {
		res, err = e.fetch(ctx, conn)
	}
	// End the transaction whatever happened; it never wrote anything.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_, rerr := conn.ExecContext(rctx, "ROLLBACK")
	rcancel()
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, fmt.Errorf("ending the read-only transaction: %w", rerr)
	}
	return res, nil
}

// timeLimitStatement sets the server-side limit in the server's own form.
func (e *execution) timeLimitStatement() string {
	if e.mariadb {
		return fmt.Sprintf("SET SESSION max_statement_time = %.3f", e.o.ServerTimeout.Seconds())
	}
	return fmt.Sprintf("SET SESSION max_execution_time = %d", max(1, e.o.ServerTimeout.Milliseconds()))
}

func (e *execution) fetch(ctx context.Context, conn *sql.Conn) (*Result, error) {
	rows, err := conn.QueryContext(ctx, e.query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	res := &Result{SQL: e.query, Columns: make([]Column, len(types)), Rows: [][]any{}}
	for i, ct := range types {
		res.Columns[i] = Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	raw := make([]sql.RawBytes, len(types))
	dest := make([]any, len(types))
	for i := range raw {
		dest[i] = &raw[i]
	}
	var size int64
	for rows.Next() {
		if int64(len(res.Rows)) >= e.o.MaxRows {
			res.Truncated = true
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		row := make([]any, len(raw))
		for i, b := range raw {
			row[i] = convert(res.Columns[i].Type, b)
			size += int64(len(b)) + 8
		}
		if e.o.MaxBytes > 0 && size > e.o.MaxBytes {
			res.Truncated = true
			break
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if e.o.LimitClamped && int64(len(res.Rows)) == e.o.MaxRows {
		res.Truncated = true
	}
	res.RowCount = len(res.Rows)
	return res, nil
}

// convert turns one text-protocol value into its JSON form: NULL → nil,
// integers and floats → numbers (exact digits), DECIMAL → exact string,
// DATETIME/TIMESTAMP → ISO 8601 "YYYY-MM-DDTHH:MM:SS[.ffffff]", DATE and
// TIME as the server prints them, BIT → unsigned number, binary strings and
// geometry → base64, other strings → UTF-8 text.
func convert(typ string, b sql.RawBytes) any {
	if b == nil {
		return nil
	}
	s := string(b)
	switch strings.TrimPrefix(typ, "UNSIGNED ") {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR":
		if isInteger(s) {
			return json.Number(s)
		}
		return s
	case "FLOAT", "DOUBLE":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return s
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	case "DECIMAL":
		return s
	case "DATETIME", "TIMESTAMP":
		if len(s) >= 19 && s[10] == ' ' {
			return s[:10] + "T" + s[11:]
		}
		return s
	case "BIT":
		var n uint64
		for _, c := range b {
			n = n<<8 | uint64(c)
		}
		return json.Number(strconv.FormatUint(n, 10))
	case "BINARY", "VARBINARY", "BLOB", "TINYBLOB", "MEDIUMBLOB", "LONGBLOB", "GEOMETRY":
		return base64.StdEncoding.EncodeToString(b)
	case "NULL":
		return nil
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// killWait bounds how long kill waits for the server to drop the
// connection (a variable for tests).
var killWait = 15 * time.Second

// kill stops our statement from a second connection and waits until the
// server no longer lists our connection.
func (e *execution) kill(parent context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), killWait)
	defer cancel()
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	id := strconv.FormatInt(e.connID, 10)
	if _, err := conn.ExecContext(ctx, "KILL QUERY "+id); err != nil && !unknownThread(err) {
		return err
	}
	for i := 0; ; i++ {
		var n int
		err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = "+id).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if i == 20 {
			// Still there after KILL QUERY: end the connection too.
			if _, err := conn.ExecContext(ctx, "KILL CONNECTION "+id); err != nil && !unknownThread(err) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			var state sql.NullString
			var secs sql.NullInt64
			sctx, scancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
			_ = conn.QueryRowContext(sctx, "SELECT STATE, TIME FROM information_schema.PROCESSLIST WHERE ID = "+id).Scan(&state, &secs)
			scancel()
			return fmt.Errorf("still listed by the server in state %q for %ds", state.String, secs.Int64)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func unknownThread(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1094 // ER_NO_SUCH_THREAD
}

// Server error numbers for statements stopped by the time limit or a kill.
const (
	erQueryInterrupted  = 1317 // ER_QUERY_INTERRUPTED
	erStatementTimeout  = 1969 // MariaDB ER_STATEMENT_TIMEOUT
	erMySQLQueryTimeout = 3024 // MySQL ER_QUERY_TIMEOUT
)

func (e *execution) classify(runCtx context.Context, err error) *Error {
	if runCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Reason: result.Timeout, Message: fmt.Sprintf("the query did not finish within the %v timeout and was killed", e.o.Timeout)}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erStatementTimeout, erMySQLQueryTimeout, erQueryInterrupted:
			return &Error{Reason: result.Timeout, Message: fmt.Sprintf("the server stopped the query at its %v time limit", e.o.ServerTimeout)}
		}
		return &Error{Reason: result.QueryError, Message: e.s.scrub(fmt.Sprintf("the database refused the query: error %d: %s", me.Number, me.Message))}
	}
	return &Error{Reason: result.QueryError, Message: e.s.scrub(err.Error())}
}

// scrubber removes credentials and addresses from messages.
type scrubber struct {
	dsn string
	cfg *mysql.Config
}

func (s scrubber) scrub(msg string) string {
	repl := []struct{ secret, with string }{
		{s.dsn, "<dsn>"},
		{s.cfg.Passwd, "<password>"},
		{s.cfg.Addr, "<address>"},
		{s.cfg.User, "<user>"},
	}
	for i, r := range repl {
		if len(r.secret) >= 2 || (i == 1 && r.secret != "") {
			msg = strings.ReplaceAll(msg, r.secret, r.with)
		}
	}
	return msg
}
