package sqlexec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

// Attack review (atk-sql), on the real MariaDB: a pattern function over a
// string grown by an allowed function the bounds do not know (HEX) is
// accepted, runs past the time limit and is not stopped by the kills. The
// safe behaviour asserted: the guard refuses it before it reaches the
// server. What the server did is logged (elapsed, Unkillable, how long the
// thread stayed listed).
func TestAttackReview(t *testing.T) {
	schema, err := corpus.SchemaPath()
	if err != nil {
		t.Fatal(err)
	}
	srv := mariadb.Start(t, mariadb.Options{Schema: schema})
	admin := srv.Admin(t)
	t.Run("HexGrownPatternSubject", func(t *testing.T) { testHexGrownPatternSubject(t, srv, admin) })
}

func testHexGrownPatternSubject(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	// 40 000 characters, HEX three times: a 320 000-character subject with
	// 160 000 matches. The statement is 40 kB, under every input bound.
	code := "SELECT LENGTH(REGEXP_REPLACE(HEX(HEX(HEX('" + strings.Repeat("a", 40000) + "'))), '3', '33')) AS n"
	start := time.Now()
	_, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, sqlguard.Policy{MaxRows: 10}, Options{Timeout: 2 * time.Second})
	elapsed := time.Since(start)
	var ref *sqlguard.Refusal
	if errors.As(err, &ref) {
		return // safe
	}
	var e *Error
	unkillable := errors.As(err, &e) && e.Unkillable
	t.Errorf("accepted and sent: after %v with a 2 s timeout: unkillable=%v err=%v", elapsed.Round(time.Second), unkillable, err)
	// How long the server keeps the thread (bounded: 90 s).
	for i := 0; i < 90; i++ {
		var n int
		var state sql.NullString
		if err := admin.QueryRow("SELECT COUNT(*), MAX(STATE) FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'select length(regexp_replace%'", srv.ReadOnlyUser).Scan(&n, &state); err != nil {
			t.Logf("processlist: %v", err)
			return
		}
		if n == 0 {
			t.Logf("the server thread ended %v after the call started", time.Since(start).Round(time.Second))
			return
		}
		if i%10 == 0 {
			t.Logf("%v after the start: thread still listed, state %q", time.Since(start).Round(time.Second), state.String)
		}
		time.Sleep(time.Second)
	}
	t.Logf("the server thread still listed after %v; the server is stopped by the test cleanup", time.Since(start).Round(time.Second))
}

// The server's default_regex_flags would change the regular expressions
// the guard bounded: an administrator's EXTENDED makes '^a b$' ignore its
// space, MULTILINE lets ^ match at every line. The executor clears them.
func testRegexFlagsCleared(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	if _, err := admin.Exec("SET GLOBAL default_regex_flags = 'EXTENDED,MULTILINE,DOTALL'"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := admin.Exec("SET GLOBAL default_regex_flags = ''"); err != nil {
			t.Error(err)
		}
	}()
	res, err := exec(t, srv.ReadOnlyDSN(), "select @@session.default_regex_flags as f, 'a b' regexp '^a b$' as m, concat('x', char(10), 'y') regexp '^y' as ml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Rows)
	if want := `[["",1,0]]`; string(got) != want {
		t.Errorf("flags and matches = %s, want %s", got, want)
	}
}

// Pattern functions with catastrophic backtracking hold a server thread
// past KILL QUERY; the guard refuses them before they reach the server
// (asserted on the refusal, never on timing).
func testPatternAttacksRefused(t *testing.T, srv *mariadb.Server) {
	doc := "'" + strings.Repeat("<a>", 25) + strings.Repeat("</a>", 25) + "'"
	for _, c := range []struct{ code, word string }{
		{"SELECT REPEAT('a', 30) REGEXP '^(a|aa)+$' AS m", "exponential"},
		{"SELECT name FROM customers WHERE name RLIKE '^(a|aa)+$'", "exponential"},
		{"SELECT REGEXP_REPLACE(HEX(HEX(HEX('" + strings.Repeat("a", 40000) + "'))), '3', '33') AS r", "REGEXP_REPLACE"},
		{"SELECT REPEAT('a', 4000) REGEXP 'a.*a.*a.*b' AS m", "steps"},
		{"SELECT name FROM customers WHERE name REGEXP 'a.*a.*b'", "table data"},
		{"SELECT 'aaaa' REGEXP _utf16le'^(a|aa)+$' AS m", "utf16le"},
		{"SELECT name REGEXP email AS m FROM customers", "literal"},
		{"SELECT EXTRACTVALUE(" + doc + ", '//a//a//a//a//a//a//a//a') AS x", "XPath"},
		{"SELECT SFORMAT('{:>1000000000}', 1) AS s", "SFORMAT"},
		{"SELECT WEIGHT_STRING('a' AS CHAR(100000000)) AS w", "WEIGHT_STRING"},
	} {
		res, err := guarded(t, srv.ReadOnlyDSN(), c.code)
		wantRefusal(t, res, err, c.word)
	}
	// Bounded patterns still run and match as the guard modelled them.
	res, err := guarded(t, srv.ReadOnlyDSN(), "SELECT 'foofoobar' REGEXP '^(foo|bar)+$' AS a, '3.14' REGEXP '^[0-9]+\\\\.[0-9]+$' AS b, 'x' LIKE '%x%' AS c")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Rows)
	if want := `[[1,1,1]]`; string(got) != want {
		t.Errorf("bounded patterns = %s, want %s", got, want)
	}
}

// A pattern more than linear per start is bounded by the declared column
// lengths the executor reads from the current database: in a database
// whose longest column is VARCHAR(50) it runs; once a LONGTEXT column
// exists there, the same statement is refused. (The corpus schema has JSON
// columns, LONGTEXT in MariaDB: there it is refused.)
func testRegexOverDeclaredLengths(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	for _, q := range []string{
		"CREATE DATABASE regexdb",
		"CREATE TABLE regexdb.names (name VARCHAR(50))",
		"INSERT INTO regexdb.names VALUES ('aab'), ('xyz')",
		fmt.Sprintf("GRANT SELECT ON regexdb.* TO '%s'@'localhost'", srv.ReadOnlyUser),
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	defer func() {
		if _, err := admin.Exec("DROP DATABASE regexdb"); err != nil {
			t.Error(err)
		}
	}()
	cfg, err := mysql.ParseDSN(srv.ReadOnlyDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = "regexdb"
	dsn := cfg.FormatDSN()
	const q = "SELECT COUNT(*) AS n FROM names WHERE name REGEXP '^a.*a.*b'"
	res, err := guarded(t, dsn, q)
	if err != nil {
		t.Fatalf("refused over VARCHAR(50) values: %v", err)
	}
	if got, _ := json.Marshal(res.Rows); string(got) != "[[1]]" {
		t.Errorf("rows = %s, want [[1]]", got)
	}
	res, err = guarded(t, srv.ReadOnlyDSN(), "SELECT COUNT(*) AS n FROM customers WHERE email REGEXP '^a.*a.*b'")
	wantRefusal(t, res, err, "declared column lengths")
	if _, err := admin.Exec("CREATE TABLE regexdb.notes (body LONGTEXT)"); err != nil {
		t.Fatal(err)
	}
	res, err = guarded(t, dsn, q)
	wantRefusal(t, res, err, "declared column lengths")
}
