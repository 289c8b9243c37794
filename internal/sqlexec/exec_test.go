package sqlexec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
	"github.com/codeexec/codeexec-operator/internal/testutil/netns"
)

// Hostile SQL runs against the server: only loopback exists in here.
func TestMain(m *testing.M) { netns.Main(m) }

// TestMariaDB starts one server (schema.sql, read-only user) and runs every
// scenario against it.
func TestMariaDB(t *testing.T) {
	schema, err := corpus.SchemaPath()
	if err != nil {
		t.Fatal(err)
	}
	srv := mariadb.Start(t, mariadb.Options{Schema: schema})
	admin := srv.Admin(t)

	t.Run("ResultsAndTypes", func(t *testing.T) { testResultsAndTypes(t, srv) })
	t.Run("AcceptCorpusRuns", func(t *testing.T) { testAcceptCorpusRuns(t, srv) })
	t.Run("RowCap", func(t *testing.T) { testRowCap(t, srv) })
	t.Run("TimeoutKillsQuery", func(t *testing.T) { testTimeout(t, srv, admin, 60*time.Second) })
	t.Run("ServerTimeLimit", func(t *testing.T) { testTimeout(t, srv, admin, 0) })
	t.Run("WriteFailsInReadOnlyTransaction", func(t *testing.T) { testWriteFails(t, srv, admin) })
	t.Run("OneStatementOnly", func(t *testing.T) { testOneStatement(t, srv, admin) })
	t.Run("ErrorsAreScrubbed", func(t *testing.T) { testScrubbed(t, srv) })
	t.Run("SessionIsPinned", func(t *testing.T) { testSession(t, srv) })
	t.Run("PolicyStatementsRun", func(t *testing.T) { testPolicyStatements(t, srv) })
	// Issue 10.
	t.Run("CollatePayload", func(t *testing.T) { testCollatePayload(t, srv) })
	t.Run("KeywordColumn", func(t *testing.T) { testKeywordColumn(t, srv, admin) })
	t.Run("StoredFunctionShadowing", func(t *testing.T) { testStoredFunctionShadowing(t, srv, admin) })
	t.Run("BuiltinsAreBuiltin", func(t *testing.T) { testBuiltinsAreBuiltin(t, srv, admin) })
	t.Run("DialectSyntax", func(t *testing.T) { testDialectSyntax(t, srv) })
	t.Run("GeneratedStrings", func(t *testing.T) { testGeneratedStrings(t, srv) })
	t.Run("DifferentialExplain", func(t *testing.T) { testDifferentialExplain(t, srv) })
	t.Run("UnkillableIsReported", func(t *testing.T) { testUnkillableIsReported(t, srv, admin) })
	t.Run("QuotedFormsRun", func(t *testing.T) { testQuotedFormsRun(t, srv) })
	t.Run("KeywordArgumentsRun", func(t *testing.T) { testKeywordArgumentsRun(t, srv) })
	t.Run("GeneratedLengthsRefused", func(t *testing.T) { testGeneratedLengthsRefused(t, srv) })
	// Attack review after issue 10.
	t.Run("RegexFlagsCleared", func(t *testing.T) { testRegexFlagsCleared(t, srv, admin) })
	t.Run("PatternAttacksRefused", func(t *testing.T) { testPatternAttacksRefused(t, srv) })
	t.Run("RegexOverDeclaredLengths", func(t *testing.T) { testRegexOverDeclaredLengths(t, srv, admin) })
}

// With the SHOW policy on, what the guard lets through runs read-only.
func testPolicyStatements(t *testing.T, srv *mariadb.Server) {
	g, err := sqlguard.New(sqlguard.Policy{AllowShow: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SHOW DATABASES", "SHOW TABLES", "SHOW COLUMNS FROM orders", "SHOW CREATE TABLE orders",
		"DESC orders", "EXPLAIN SELECT * FROM orders WHERE id = 1", "DESCRIBE SELECT * FROM orders",
	} {
		st, err := g.Check(q)
		if err != nil {
			t.Errorf("%q refused: %v", q, err)
			continue
		}
		res, err := exec(t, srv.ReadWriteDSN(), st.SQL, Options{MaxRows: 100})
		if err != nil {
			t.Errorf("%q (sent %q): %v", q, st.SQL, err)
			continue
		}
		if res.RowCount == 0 {
			t.Errorf("%q returned no rows", q)
		}
	}
	// EXPLAIN of a write passes the guard under the SHOW policy (it plans,
	// it does not run), and MariaDB still refuses it in the READ ONLY
	// transaction.
	for _, q := range []string{"EXPLAIN DELETE FROM orders", "EXPLAIN UPDATE orders SET total = 0"} {
		st, err := g.Check(q)
		if err != nil {
			t.Errorf("%q refused: %v", q, err)
			continue
		}
		_, err = exec(t, srv.ReadWriteDSN(), st.SQL, Options{})
		var e *Error
		if !errors.As(err, &e) || e.Reason != result.QueryError || !strings.Contains(e.Message, "READ ONLY") {
			t.Errorf("%q: want the READ ONLY transaction's refusal, got %v", q, err)
		}
	}
}

func exec(t *testing.T, dsn, query string, o Options) (*Result, error) {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	return Execute(context.Background(), dsn, query, o)
}

func testResultsAndTypes(t *testing.T, srv *mariadb.Server) {
	q := "select o.id, o.total, o.note, o.order_date, o.created_at, o.deleted_at, c.country, " +
		"cast(o.total as double) as d, cast(o.id as unsigned) as u, x'00ff' as bin, " +
		"b'101' + 0 as bitnum, cast(b'101' as binary) as bitbin, 1.50 * 2 as dec2, null as nothing, " +
		"cast('10:30:00' as time) as t, 'é✓' as utf " +
		"from orders as o join customers as c on c.id = o.customer_id where o.id in (2, 3) order by o.id asc limit 10"
	res, err := exec(t, srv.ReadOnlyDSN(), q, Options{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range res.Columns {
		types = append(types, c.Name+":"+c.Type)
	}
	wantTypes := []string{"id:INT", "total:DECIMAL", "note:VARCHAR", "order_date:DATE", "created_at:DATETIME",
		"deleted_at:DATETIME", "country:CHAR", "d:DOUBLE", "u:UNSIGNED BIGINT", "bin:VARBINARY", "bitnum:UNSIGNED INT",
		"bitbin:VARBINARY", "dec2:DECIMAL", "nothing:NULL", "t:TIME", "utf:VARCHAR"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("columns (-want,+got):\n%s", diff)
	}
	got, err := json.Marshal(res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	want := `[[2,"35.50","DROP TABLE users","2024-01-15","2024-01-15T12:00:00",null,"DE",35.5,2,"AP8=",5,"BQ==","3.00",null,"10:30:00","é✓"],` +
		`[3,"0.00",";","2024-01-20","2024-01-20T08:00:00","2024-01-22T00:00:00","FR",0,3,"AP8=",5,"BQ==","3.00",null,"10:30:00","é✓"]]`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("rows (-want,+got):\n%s", diff)
	}
	if res.RowCount != 2 || res.Truncated || res.SQL != q {
		t.Errorf("rowCount %d truncated %v sql %q", res.RowCount, res.Truncated, res.SQL)
	}
	// BIT columns, JSON and big unsigned values.
	res, err = exec(t, srv.ReadOnlyDSN(), "select b'1' as flag, attributes, 18446744073709551615 as big, -9223372036854775808 as small from products where id = 1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = json.Marshal(res.Rows)
	if want := `[["AQ==","{\"color\":\"red\",\"size\":\"M\",\"tags\":[\"ceramic\",\"gift\"]}",18446744073709551615,-9223372036854775808]]`; string(got) != want {
		t.Errorf("rows = %s, want %s", got, want)
	}
}

// Every accept query, guarded, runs on MariaDB under the read-only user.
func testAcceptCorpusRuns(t *testing.T, srv *mariadb.Server) {
	rows, err := corpus.LoadAccept()
	if err != nil {
		t.Fatal(err)
	}
	g, err := sqlguard.New(sqlguard.Policy{MaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		st, err := g.Check(r.SQL)
		if err != nil {
			t.Errorf("%s: refused: %v", r.ID, err)
			continue
		}
		if _, err := exec(t, srv.ReadOnlyDSN(), st.SQL, Options{MaxRows: 1000, LimitClamped: st.LimitClamped}); err != nil {
			if r.Category == "mysql8-only" {
				t.Logf("%s (MySQL 8 only) fails on MariaDB as expected: %v", r.ID, err)
				continue
			}
			t.Errorf("%s: %q: %v", r.ID, st.SQL, err)
		}
	}
}

func testRowCap(t *testing.T, srv *mariadb.Server) {
	dsn := srv.ReadOnlyDSN()
	// Seven orders. Without a LIMIT the executor's own cap applies.
	res, err := exec(t, dsn, "select id from orders order by id", Options{MaxRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowCount != 3 || !res.Truncated {
		t.Errorf("rowCount %d truncated %v, want 3 true", res.RowCount, res.Truncated)
	}
	// Exactly MaxRows rows, LIMIT the user's own: not truncated.
	res, err = exec(t, dsn, "select id from orders order by id limit 3", Options{MaxRows: 3})
	if err != nil || res.RowCount != 3 || res.Truncated {
		t.Errorf("own LIMIT: %+v, %v", res, err)
	}
	// The guard clamped the LIMIT to MaxRows and the server filled it.
	res, err = exec(t, dsn, "select id from orders order by id limit 3", Options{MaxRows: 3, LimitClamped: true})
	if err != nil || res.RowCount != 3 || !res.Truncated {
		t.Errorf("clamped LIMIT: %+v, %v", res, err)
	}
	// Fewer rows than the cap.
	res, err = exec(t, dsn, "select id from orders where id < 3 limit 3", Options{MaxRows: 3, LimitClamped: true})
	if err != nil || res.RowCount != 2 || res.Truncated {
		t.Errorf("short result: %+v, %v", res, err)
	}
	// The byte cap.
	res, err = exec(t, dsn, "select repeat('x', 1000) from orders", Options{MaxRows: 100, MaxBytes: 2500})
	if err != nil || res.RowCount != 2 || !res.Truncated {
		t.Errorf("byte cap: rowCount %d truncated %v, %v", res.RowCount, res.Truncated, err)
	}
}

// slowQuery passes the guard and runs for minutes on any server: a count
// over a cross join of twelve copies of a seven-row table (7^12 rows).
var slowQuery = func() string {
	q := "select count(*) from orders as t0"
	for i := 1; i < 12; i++ {
		q += " cross join orders as t" + strconv.Itoa(i)
	}
	return q + " limit 1"
}()

func testTimeout(t *testing.T, srv *mariadb.Server, admin *sql.DB, serverTimeout time.Duration) {
	if _, err := sqlguard.Check(slowQuery, sqlguard.Policy{}); err != nil {
		t.Fatalf("the slow query must pass the guard: %v", err)
	}
	_, err := exec(t, srv.ReadOnlyDSN(), slowQuery, Options{Timeout: time.Second, ServerTimeout: serverTimeout})
	var e *Error
	if !errors.As(err, &e) || e.Reason != result.Timeout {
		t.Fatalf("want a Timeout, got %v", err)
	}
	// The slow statement is gone from the process list when Execute
	// returns, and (once the server has reaped closed sockets) so is every
	// connection of the read-only user.
	if n := countThreads(t, admin, srv.ReadOnlyUser, "AND INFO LIKE '%orders as t11%'"); n != 0 {
		t.Errorf("the slow query is still listed %d times after the timeout", n)
	}
	waitNoThreads(t, admin, srv.ReadOnlyUser)
}

func countThreads(t *testing.T, admin *sql.DB, user, extra string) int {
	t.Helper()
	var n int
	q := "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ? " + extra
	if err := admin.QueryRow(q, user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitNoThreads(t *testing.T, admin *sql.DB, user string) {
	t.Helper()
	for i := 0; countThreads(t, admin, user, "") != 0; i++ {
		if i == 400 {
			rows, _ := admin.Query("SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST WHERE USER = ?", user)
			var list []string
			for rows != nil && rows.Next() {
				var id int
				var cmd, state, info sql.NullString
				rows.Scan(&id, &cmd, &state, &info)
				list = append(list, strings.Join([]string{cmd.String, state.String, info.String}, "|"))
			}
			t.Fatalf("connections of %s remain: %q", user, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A write that somehow got past the guard fails in the READ ONLY
// transaction even for an account that may write.
func testWriteFails(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	for name, q := range map[string]string{
		"update":       "UPDATE orders SET total = 0",
		"insert":       "INSERT INTO customers VALUES (99, 'x', 'x@x', 'XX', 'retail', NOW())",
		"delete":       "DELETE FROM orders",
		"create-table": "CREATE TEMPORARY TABLE tmp_x (id INT)",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := exec(t, srv.ReadWriteDSN(), q, Options{})
			var e *Error
			if !errors.As(err, &e) || e.Reason != result.QueryError {
				t.Fatalf("want a QueryError, got %v", err)
			}
			if !strings.Contains(e.Message, "READ ONLY") {
				t.Errorf("the write failed for another reason than the read-only transaction: %s", e.Message)
			}
		})
	}
	var total string
	if err := admin.QueryRow("SELECT SUM(total) FROM orders").Scan(&total); err != nil || total != "2427.49" {
		t.Errorf("orders changed: SUM(total) = %s, %v", total, err)
	}
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM customers WHERE id = 99").Scan(&n); err != nil || n != 0 {
		t.Errorf("customer 99 exists: %d, %v", n, err)
	}
}

// Multi-statements are off whatever the DSN says.
func testOneStatement(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	dsn := srv.ReadWriteDSN() + "&multiStatements=true"
	if !strings.Contains(srv.ReadWriteDSN(), "?") {
		dsn = srv.ReadWriteDSN() + "?multiStatements=true"
	}
	_, err := exec(t, dsn, "SELECT 1; CREATE TABLE stacked (id INT)", Options{})
	if err == nil {
		t.Fatal("a stacked statement ran")
	}
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'stacked'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table stacked exists: %d, %v", n, err)
	}
}

func testScrubbed(t *testing.T, srv *mariadb.Server) {
	// A wrong password: the server's message names the account.
	bad := strings.Replace(srv.ReadOnlyDSN(), srv.ReadOnlyPassword, "wrong-"+srv.ReadOnlyPassword, 1)
	_, err := exec(t, bad, "SELECT 1", Options{})
	if err == nil {
		t.Fatal("connected with a wrong password")
	}
	for _, secret := range []string{srv.ReadOnlyPassword, srv.ReadOnlyUser, srv.Socket} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q leaks %q", err, secret)
		}
	}
	// A server error on a good connection.
	_, err = exec(t, srv.ReadOnlyDSN(), "SELECT * FROM mysql.user", Options{})
	var e *Error
	if !errors.As(err, &e) || e.Reason != result.QueryError {
		t.Fatalf("want a QueryError, got %v", err)
	}
	if strings.Contains(e.Message, srv.ReadOnlyUser) || strings.Contains(e.Message, srv.ReadOnlyPassword) {
		t.Errorf("message %q leaks the account", e.Message)
	}
	// A server that is not there.
	gone := strings.Replace(srv.ReadOnlyDSN(), srv.Socket, filepath.Join(t.TempDir(), "nosock"), 1)
	_, err = exec(t, gone, "SELECT 1", Options{})
	if err == nil || strings.Contains(err.Error(), srv.ReadOnlyPassword) || strings.Contains(err.Error(), "nosock") {
		t.Errorf("unreachable server: %v", err)
	}
	// A DSN file that is not a DSN is not echoed.
	p := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(p, []byte("  not a dsn secret-value \n"), 0o600)
	dsn, err := ReadDSNFile(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exec(t, dsn, "SELECT 1", Options{})
	if !errors.As(err, &e) || e.Reason != result.InvalidInput || strings.Contains(e.Message, "secret-value") {
		t.Errorf("bad DSN: %v", err)
	}
	if _, err := ReadDSNFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing DSN file is accepted")
	}
}

// The session the statement runs in is the one the guard assumes.
func testSession(t *testing.T, srv *mariadb.Server) {
	res, err := exec(t, srv.ReadOnlyDSN()+"?sql_mode='ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
		"select @@session.sql_mode, @@session.max_statement_time, @@session.character_set_client, 'a\\'b' as esc", Options{Timeout: 7 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Rows)
	if want := `[["` + SQLMode + `",7,"utf8mb4","a'b"]]`; string(got) != want {
		t.Errorf("session = %s, want %s", got, want)
	}
}
