package sqlexec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

// Issue 10 on the real server: what the guard sends is what it checked, on
// the dialect actually served.

func guarded(t *testing.T, dsn, code string) (*Result, error) {
	t.Helper()
	return ExecuteGuarded(context.Background(), dsn, code, sqlguard.Policy{MaxRows: 100}, Options{Timeout: 60 * time.Second, MaxRows: 100})
}

func wantRefusal(t *testing.T, res *Result, err error, word string) {
	t.Helper()
	var ref *sqlguard.Refusal
	if !errors.As(err, &ref) || ref.Reason != result.SecurityViolation {
		got, _ := json.Marshal(res)
		t.Fatalf("want a SecurityViolation, got %v, %s", err, got)
	}
	if !strings.Contains(strings.ToLower(ref.Error()), strings.ToLower(word)) {
		t.Errorf("message %q does not name %q", ref.Error(), word)
	}
}

// Finding 1: a collation name in backticks carried SQL that MariaDB ran
// (the account, the version, the data directory came back).
func testCollatePayload(t *testing.T, srv *mariadb.Server) {
	for _, code := range []string{
		"SELECT 'x' COLLATE `utf8mb4_bin, SLEEP(3), CURRENT_USER(), VERSION(), DATABASE(), @@datadir`",
		"SELECT CONVERT('x' USING `utf8mb4), CURRENT_USER(), CONVERT('x' USING utf8mb4`)",
		"SELECT CAST('x' AS CHAR CHARACTER SET `utf8mb4), VERSION(), CAST('x' AS CHAR CHARACTER SET utf8mb4`)",
		"SELECT DATE '2024-01-01'' OR 1 = 1 UNION SELECT CURRENT_USER() -- '",
	} {
		res, err := guarded(t, srv.ReadOnlyDSN(), code)
		if err == nil {
			b, _ := json.Marshal(res)
			if strings.Contains(string(b), srv.ReadOnlyUser) || strings.Contains(string(b), "MariaDB") {
				t.Errorf("%q ran and returned server data: %s", code, b)
			}
			continue
		}
		var ref *sqlguard.Refusal
		var e *Error
		if !errors.As(err, &ref) && !(errors.As(err, &e) && e.Reason == result.QueryError) {
			t.Errorf("%q: %v", code, err)
		}
	}
}

// Finding 2: a column named current_role was read by MariaDB as the
// CURRENT_ROLE function.
func testKeywordColumn(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	for _, q := range []string{
		"CREATE TABLE kw (id INT, `current_role` VARCHAR(20), `user` VARCHAR(20), `database` VARCHAR(20), `current_user` VARCHAR(20))",
		"INSERT INTO kw VALUES (1, 'the-column', 'u-col', 'd-col', 'cu-col')",
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	res, err := guarded(t, srv.ReadOnlyDSN(), "SELECT current_role, user, `database`, `current_user` FROM kw")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(res.Rows)
	if want := `[["the-column","u-col","d-col","cu-col"]]`; string(got) != want {
		t.Errorf("rows %s, want %s (sent %q)", got, want, res.SQL)
	}
	// Without the table, the bare word is an unknown column, never the
	// server's function.
	_, err = guarded(t, srv.ReadOnlyDSN(), "SELECT current_role")
	var e *Error
	if !errors.As(err, &e) || e.Reason != result.QueryError || !strings.Contains(e.Message, "Unknown column") {
		t.Errorf("SELECT current_role: want an unknown-column QueryError, got %v", err)
	}
}

// Finding 3: names the guard allowed that are not MariaDB built-ins ran a
// stored function of the database (a SQL SECURITY DEFINER one returned
// mysql.user). Now the allow-list is MariaDB's built-ins, and a name that
// is also a routine of the database is refused whatever the list says.
func testStoredFunctionShadowing(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	names := []string{"format_bytes", "any_value", "regexp_like", "json_schema_valid", "st_geohash",
		"months_between", "difference", "upper", "concat", "json_extract", "point"}
	for _, n := range names {
		q := fmt.Sprintf("CREATE FUNCTION %s(a INT, b INT) RETURNS TEXT SQL SECURITY DEFINER RETURN (SELECT GROUP_CONCAT(CONCAT(user, ':', password)) FROM mysql.user)", n)
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := admin.Exec(fmt.Sprintf("GRANT EXECUTE ON `%s`.* TO '%s'@'%s'", srv.Database, srv.ReadOnlyUser, host)); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, n := range names {
			admin.Exec("DROP FUNCTION " + n)
		}
	}()
	for _, code := range []string{
		"SELECT FORMAT_BYTES(1, 2)", "SELECT ANY_VALUE(1, 2)", "SELECT REGEXP_LIKE(1, 2)",
		"SELECT JSON_SCHEMA_VALID(1, 2)", "SELECT MONTHS_BETWEEN(1, 2)", "SELECT DIFFERENCE(1, 2)",
		"SELECT UPPER('a')", "SELECT CONCAT('a', 'b')", "SELECT JSON_EXTRACT('[1]', '$[0]')", "SELECT POINT(1)",
	} {
		res, err := guarded(t, srv.ReadOnlyDSN(), code)
		if err == nil {
			b, _ := json.Marshal(res)
			t.Errorf("%q ran: %s", code, b)
			continue
		}
		var ref *sqlguard.Refusal
		var e *Error
		if !errors.As(err, &ref) && !(errors.As(err, &e) && e.Reason == result.CompilationError) {
			t.Errorf("%q: want a refusal, got %v", code, err)
		}
		if strings.Contains(err.Error(), "mysql_native_password") || strings.Contains(err.Error(), "*") {
			t.Errorf("%q leaked hashes: %v", code, err)
		}
	}
	// The routine check names the routine.
	_, err := guarded(t, srv.ReadOnlyDSN(), "SELECT UPPER('a')")
	wantRefusal(t, nil, err, "stored routine")
}

// Every name the guard allows on MariaDB 10.11, at every arity from 0 to
// 4 the guard accepts, is a built-in there: the server never looks it up
// as a stored function (error 1305, "FUNCTION db.name does not exist").
func testBuiltinsAreBuiltin(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	d := sqlguard.Dialect{Flavor: sqlguard.MariaDB, Major: 10, Minor: 11}
	g, err := sqlguard.New(sqlguard.Policy{Dialect: d})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"", "'1'", "'1', '1'", "'1', '1', '1'", "'1', '1', '1', '1'"}
	checked := 0
	for _, name := range d.Builtins() {
		for _, a := range args {
			st, err := g.Check("SELECT " + name + "(" + a + ")")
			if err != nil {
				continue
			}
			checked++
			_, err = admin.Exec(st.SQL)
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1305 {
				t.Errorf("%s with %d arguments is not a MariaDB built-in: %v", name, strings.Count(a, "'")/2, err)
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d calls checked", checked)
	}
}

// Finding 5 on MariaDB: WITH ROLLUP runs; GROUPING() and VALUES ROW(...),
// which MariaDB 10.11 lacks, are refused with a message that says so.
func testDialectSyntax(t *testing.T, srv *mariadb.Server) {
	res, err := guarded(t, srv.ReadOnlyDSN(), "SELECT category, SUM(price) AS s FROM products GROUP BY category WITH ROLLUP")
	if err != nil || res.RowCount < 2 {
		t.Errorf("WITH ROLLUP: %+v, %v", res, err)
	}
	_, err = guarded(t, srv.ReadOnlyDSN(), "SELECT category, GROUPING(category) AS g FROM products GROUP BY category WITH ROLLUP")
	wantRefusal(t, nil, err, "GROUPING is not a built-in function of MariaDB 10.11")
	_, err = guarded(t, srv.ReadOnlyDSN(), "SELECT * FROM (VALUES ROW(1, 2)) AS v")
	wantRefusal(t, nil, err, "MariaDB 10.11 does not have it")
}

// Finding 4: the statement of the issue is refused before it reaches the
// server; bounded string building still runs.
func testGeneratedStrings(t *testing.T, srv *mariadb.Server) {
	_, err := guarded(t, srv.ReadOnlyDSN(), "SELECT LENGTH(REGEXP_REPLACE(REPEAT('a', 8000000), 'a', 'bb'))")
	wantRefusal(t, nil, err, "REPEAT")
	res, err := guarded(t, srv.ReadOnlyDSN(), "SELECT LENGTH(REPEAT('ab', 5000)) AS n, RPAD(name, 12, '.') AS p FROM customers ORDER BY id LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(res.Rows[0][0]); string(got) != "10000" {
		t.Errorf("LENGTH = %s", got)
	}
}

// The differential test: for the accept corpus and the fuzz seed corpus,
// what the guard sends, explained by the real MariaDB, reads only the
// tables the statement names and calls no stored function, and every
// function in the server's own rendering of it (EXPLAIN EXTENDED's note)
// is one the guard allows or an operator the server writes as a call.
func testDifferentialExplain(t *testing.T, srv *mariadb.Server) {
	d := sqlguard.Dialect{Flavor: sqlguard.MariaDB, Major: 10, Minor: 11}
	g, err := sqlguard.New(sqlguard.Policy{Dialect: d, MaxRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	acc, err := corpus.LoadAccept()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range acc {
		inputs = append(inputs, r.SQL)
	}
	inputs = append(inputs, fuzzSeeds(t)...)
	db, err := sql.Open("mysql", srv.ReadOnlyDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "SET SESSION sql_mode = '"+SQLMode+"'"); err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	rows, err := conn.QueryContext(context.Background(), "SELECT LOWER(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables[n] = true
	}
	rows.Close()
	// Calls the server writes in its rendering that are operators or
	// internal forms, not functions the statement names.
	internal := map[string]bool{"cast": true, "convert": true, "in": true, "exists": true, "if": true,
		"case": true, "octet_length": true, "interval": true, "rand": true, "char": true, "collate": true,
		"json_extract": true, "json_unquote": true, "substring_index": true, "group_concat": true,
		"count": true, "coalesce": true, "trigcond": true, "rollup_sum_switcher": true, "isnull": true,
		"is_not_null_test": true, "not": true, "or": true, "and": true, "weight_string": true,
		// type names in CAST and JSON_TABLE columns
		"decimal": true, "int": true, "bigint": true, "varchar": true, "double": true, "float": true,
		"datetime": true, "time": true, "date": true, "binary": true, "varbinary": true}
	strRe := regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)
	callRe := regexp.MustCompile("([A-Za-z_][A-Za-z0-9_]*|`[^`]+`\\.`[^`]+`)\\(")
	explained, sent := 0, 0
	for _, in := range inputs {
		st, err := g.Check(in)
		if err != nil || st.Kind != sqlguard.KindSelect && st.Kind != sqlguard.KindUnion {
			continue
		}
		sent++
		ctx := context.Background()
		if _, err := conn.ExecContext(ctx, "EXPLAIN EXTENDED "+st.SQL); err != nil {
			continue // unknown tables or columns: the fuzz seeds name tables that do not exist
		}
		explained++
		var level, note string
		var code int
		if err := conn.QueryRowContext(ctx, "SHOW WARNINGS").Scan(&level, &code, &note); err != nil {
			t.Errorf("%q: SHOW WARNINGS: %v", st.SQL, err)
			continue
		}
		for _, m := range callRe.FindAllStringSubmatch(strRe.ReplaceAllString(note, "''"), -1) {
			name := strings.ToLower(m[1])
			if strings.HasPrefix(name, "`") {
				t.Errorf("%q: the server calls the stored function %s: %s", st.SQL, name, note)
				continue
			}
			if !d.IsBuiltin(name) && !internal[name] && !slices.Contains(st.Functions, name) {
				t.Errorf("%q: the server's rendering calls %s, which the guard does not allow: %s", st.SQL, name, note)
			}
		}
		// Tables: every table the server reads is one the statement names.
		var planJSON string
		if err := conn.QueryRowContext(ctx, "EXPLAIN FORMAT=JSON "+st.SQL).Scan(&planJSON); err != nil {
			t.Errorf("%q: EXPLAIN FORMAT=JSON: %v", st.SQL, err)
			continue
		}
		for _, m := range regexp.MustCompile(`"table_name": "([^"]+)"`).FindAllStringSubmatch(planJSON, -1) {
			tn := strings.ToLower(m[1])
			if strings.HasPrefix(tn, "<") || !tables[tn] {
				continue // derived tables, subqueries, unions: <derived2>, <union1,2>
			}
			if !strings.Contains(strings.ToLower(st.SQL), "`"+tn+"`") {
				t.Errorf("%q: the server reads table %s, which the statement does not name", st.SQL, tn)
			}
		}
	}
	t.Logf("%d inputs, %d accepted, %d explained by the server", len(inputs), sent, explained)
	if explained < 40 {
		t.Errorf("only %d statements explained", explained)
	}
}

// fuzzSeeds reads the string of each seed file of FuzzGuard.
func fuzzSeeds(t *testing.T) []string {
	dir := filepath.Join("..", "sqlguard", "testdata", "fuzz", "FuzzGuard")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	re := regexp.MustCompile(`(?m)^string\((".*")\)$`)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(b)
		if m == nil {
			continue
		}
		var s string
		if err := json.Unmarshal(m[1], &s); err != nil {
			// Go-quoted strings that are not JSON: skip.
			continue
		}
		out = append(out, s)
	}
	return out
}

// Finding 4, the last layer: when the server does not drop the statement
// after the kills, the execution ends with a message an administrator can
// act on, flagged Unkillable (the runner logs it). Simulated by giving the
// kill no time to be seen.
func testUnkillableIsReported(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	old := killWait
	killWait = time.Millisecond
	defer func() { killWait = old }()
	_, err := exec(t, srv.ReadOnlyDSN(), slowQuery, Options{Timeout: time.Second, ServerTimeout: 60 * time.Second})
	var e *Error
	if !errors.As(err, &e) || !e.Unkillable || e.Reason != result.Timeout {
		t.Fatalf("want an Unkillable Timeout, got %#v", err)
	}
	for _, want := range []string{"did not stop it", "SHOW PROCESSLIST", "administrator"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not say %q", e.Message, want)
		}
	}
	if strings.Contains(e.Message, srv.ReadOnlyPassword) {
		t.Error("the message leaks the password")
	}
	admin.Exec("KILL QUERY USER " + srv.ReadOnlyUser)
	waitNoThreads(t, admin, srv.ReadOnlyUser)
}

// The quoted forms the printer sends (every identifier in backticks, also
// after @@ and in SHOW and DESCRIBE) mean on MariaDB what they meant.
func testQuotedFormsRun(t *testing.T, srv *mariadb.Server) {
	p := sqlguard.Policy{MaxRows: 100, AllowShow: true, AllowSystemSchemas: true}
	for code, want := range map[string]string{
		"SELECT @@version LIKE '%MariaDB%' AS m, @@global.max_connections AS c, @@session.sql_mode = '" + SQLMode + "' AS s": `[[1,64,1]]`,
		"SELECT COUNT(*) > 0 AS n FROM information_schema.tables WHERE table_schema = 'cx'":                                  `[[1]]`,
		"SELECT id FROM orders FORCE INDEX (PRIMARY) WHERE id = 2":                                                           `[[2]]`,
		"SELECT `order`.id FROM orders AS `order` WHERE `order`.id = 3":                                                      `[[3]]`,
	} {
		res, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, p, Options{Timeout: time.Minute})
		if err != nil {
			t.Errorf("%q: %v", code, err)
			continue
		}
		if got, _ := json.Marshal(res.Rows); string(got) != want {
			t.Errorf("%q (sent %q): rows %s, want %s", code, res.SQL, got, want)
		}
	}
	for _, code := range []string{"SHOW COLUMNS FROM orders", "DESCRIBE orders", "SHOW TABLES LIKE 'ord%'"} {
		res, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, p, Options{Timeout: time.Minute})
		if err != nil || res.RowCount == 0 {
			t.Errorf("%q: %+v, %v", code, res, err)
		}
	}
}
