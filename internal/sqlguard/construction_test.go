package sqlguard

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// Tests for issue 10: what is sent is exactly what was checked.

func wantViolation(t *testing.T, g *Guard, sql, word string) {
	t.Helper()
	st, err := g.Check(sql)
	if err == nil {
		t.Fatalf("accepted %q, sent %q", sql, st.SQL)
	}
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != result.SecurityViolation {
		t.Fatalf("%q: want a SecurityViolation, got %v", sql, err)
	}
	if word != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(word)) {
		t.Errorf("%q: message %q does not name %q", sql, err, word)
	}
}

// Finding 1: the names vitess keeps as raw strings and prints unquoted
// (COLLATE, CONVERT ... USING, CHAR(... USING), CAST ... CHARACTER SET,
// JSON_TABLE column types) carried arbitrary SQL in backticks.
func TestRawNamesCarryNoSQL(t *testing.T) {
	payload := "`utf8mb4_bin, SLEEP(3), CURRENT_USER(), VERSION(), DATABASE(), @@datadir`"
	cases := map[string]struct{ sql, word string }{
		"collate":             {"SELECT 'x' COLLATE " + payload, "collation"},
		"collate-comment":     {"SELECT 'x' COLLATE `utf8mb4_bin # ` FROM orders", "collation"},
		"collate-outfile":     {"SELECT 'x' COLLATE `utf8mb4_bin INTO OUTFILE '/tmp/x'` FROM orders", "collation"},
		"collate-lock":        {"SELECT id COLLATE `utf8mb4_bin FROM orders LOCK IN SHARE MODE --` FROM orders", "collation"},
		"collate-unknown":     {"SELECT 'x' COLLATE nosuch_ci", "collation"},
		"collate-space":       {"SELECT 'x' COLLATE `utf8mb4_bin `", "collation"},
		"order-collate":       {"SELECT name FROM customers ORDER BY name COLLATE `utf8mb4_bin, (SELECT LOAD_FILE('/etc/passwd'))`", "collation"},
		"convert-using":       {"SELECT CONVERT('x' USING " + payload + ")", "character set"},
		"convert-using-plain": {"SELECT CONVERT('x' USING nosuchcs)", "character set"},
		"char-using":          {"SELECT CHAR(65 USING " + payload + ")", "character set"},
		"cast-charset":        {"SELECT CAST('x' AS CHAR CHARACTER SET " + payload + ")", "character set"},
		"convert-charset":     {"SELECT CONVERT('x', CHAR CHARACTER SET " + payload + ")", "character set"},
		"json-table-charset": {"SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a VARCHAR(10) CHARACTER SET " + payload +
			" PATH '$')) AS j", "character set"},
		"json-table-collate": {"SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a VARCHAR(10) COLLATE " + payload +
			" PATH '$')) AS j", "collation"},
	}
	g := newGuard(t, Policy{})
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { wantViolation(t, g, c.sql, c.word) })
	}
	// Known names still pass, in any case, on every construct.
	for _, sql := range []string{
		"SELECT 'x' COLLATE utf8mb4_bin",
		"SELECT 'x' COLLATE `UTF8MB4_GENERAL_CI`",
		"SELECT 'x' COLLATE utf8_general_ci",
		"SELECT CONVERT('x' USING latin1), CHAR(65 USING utf8mb4), CAST('x' AS CHAR CHARACTER SET utf8mb4)",
		"SELECT _latin1'x', _utf8mb4 X'41', _binary'y'",
		"SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j",
	} {
		if _, err := g.Check(sql); err != nil {
			t.Errorf("%q refused: %v", sql, err)
		}
	}
}

// A sibling of finding 1: vitess writes the content of DATE, TIME and
// TIMESTAMP literals between quotes without escaping it.
func TestTemporalLiteralsAreEscaped(t *testing.T) {
	g := newGuard(t, Policy{})
	for _, sql := range []string{
		"SELECT DATE 'x'' OR SLEEP(1) OR ''' AS d",
		"SELECT TIME 'x\\' OR SLEEP(1) -- ' AS d",
		"SELECT TIMESTAMP '2024-01-01'' UNION SELECT LOAD_FILE(''/etc/passwd'')' AS d",
	} {
		st, err := g.Check(sql)
		if err != nil {
			continue // refused is fine too
		}
		for _, bad := range []string{"sleep(", "load_file(", "union"} {
			if strings.Contains(strings.ToLower(st.SQL), bad) && !strings.Contains(st.SQL, "\\'") {
				t.Errorf("%q sent as %q", sql, st.SQL)
			}
		}
		stmt, err := g.parser.Parse(st.SQL)
		if err != nil {
			t.Fatalf("%q: sent %q does not parse: %v", sql, st.SQL, err)
		}
		n := 0
		_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
			if _, ok := node.(*sqlparser.FuncExpr); ok {
				n++
			}
			return true, nil
		}, stmt)
		if n != 0 {
			t.Errorf("%q: sent %q calls %d functions", sql, st.SQL, n)
		}
	}
}

// Finding 2: an identifier that is also a keyword or a function name of
// MariaDB or MySQL was printed bare and read by the server as the keyword
// or function. Every identifier is now quoted: checked for every keyword
// and function name MariaDB 10.11 lists (information_schema.KEYWORDS and
// SQL_FUNCTIONS, in testdata) and for MySQL 8's that MariaDB lacks.
func TestKeywordIdentifiersAreQuoted(t *testing.T) {
	g := newGuard(t, Policy{})
	st, err := g.Check("SELECT current_role")
	if err != nil {
		t.Fatal(err)
	}
	if want := "select `current_role` from dual limit 1000"; st.SQL != want {
		t.Errorf("sent %q, want %q", st.SQL, want)
	}
	words := append(readLines(t, "testdata/mariadb-keywords.txt"), readLines(t, "testdata/mariadb-functions.txt")...)
	words = append(words, "current_role", "current_user", "user", "session_user", "system_user", "database",
		"schema", "version", "connection_id", "localtime", "sysdate", "utc_date", "rownum", "sql_calc_found_rows",
		"any_value", "grouping", "lateral", "member", "json_table", "window", "over", "recursive", "cube")
	for _, w := range words {
		if strings.ContainsAny(w, " `") || strings.EqualFold(w, "dual") {
			// vitess keeps no difference between dual and `dual`, and
			// prints the table as the DUAL keyword (one empty row).
			continue
		}
		quoted := "`" + strings.ToLower(w) + "`"
		for _, sql := range []string{
			"SELECT " + quoted + " FROM t",
			"SELECT t." + quoted + " AS " + quoted + " FROM " + quoted + " AS t ORDER BY " + quoted,
		} {
			st, err := g.Check(sql)
			if err != nil {
				t.Errorf("%q refused: %v", sql, err)
				continue
			}
			if !strings.Contains(st.SQL, quoted) {
				t.Errorf("%q sent as %q: the identifier is not quoted", sql, st.SQL)
			}
			if strings.Count(st.SQL, quoted) != strings.Count(sql, quoted) {
				t.Errorf("%q sent as %q: identifiers lost their quotes", sql, st.SQL)
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Finding 3: names that are not built-ins of the served server call a
// stored function of that name. The allow-list is the served dialect's
// built-ins, with no prefix wildcards.
func TestFunctionsAreBuiltinsOfTheServedDialect(t *testing.T) {
	maria := newGuard(t, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}})
	mysql := newGuard(t, Policy{Dialect: Dialect{Flavor: MySQL, Major: 8, Minor: 0}})
	notOnMariaDB := []string{
		"SELECT FORMAT_BYTES(1024)", "SELECT FORMAT_PICO_TIME(1000)", "SELECT ANY_VALUE(id) FROM orders",
		"SELECT REGEXP_LIKE('a', 'a')", "SELECT JSON_SCHEMA_VALID('{}', '{}')", "SELECT JSON_STORAGE_SIZE('[]')",
		"SELECT ST_GEOHASH(1, 2, 3)", "SELECT ST_LATFROMGEOHASH('x')", "SELECT MONTHS_BETWEEN(NOW(), NOW())",
		"SELECT DIFFERENCE(1, 2)", "SELECT DISTANCE(1, 2)", "SELECT INTERSECTION(1, 2)", "SELECT SYMDIFFERENCE(1, 2)",
		"SELECT JSON_ANYTHING(1)", "SELECT ST_ANYTHING(1)", "SELECT MBRANYTHING(1)", "SELECT COLUMN_ANYTHING(1)",
		"SELECT REGEXP_ANYTHING(1)", "SELECT POINT(1)", "SELECT POINT()", "SELECT LINESTRING()",
		"SELECT BIN_TO_UUID(x'00')", "SELECT GROUPING(id) FROM orders GROUP BY id WITH ROLLUP",
	}
	for _, sql := range notOnMariaDB {
		if st, err := maria.Check(sql); err == nil {
			t.Errorf("MariaDB: accepted %q as %q", sql, st.SQL)
		}
	}
	for _, sql := range []string{"SELECT JSON_ANYTHING(1)", "SELECT ST_ANYTHING(1)", "SELECT NVL(id, 0) FROM orders", "SELECT CHR(65)"} {
		wantViolation(t, mysql, sql, "")
	}
	for _, sql := range []string{"SELECT FORMAT_BYTES(1024)", "SELECT ANY_VALUE(id) FROM orders", "SELECT REGEXP_LIKE('a', 'a')"} {
		if _, err := mysql.Check(sql); err != nil {
			t.Errorf("MySQL 8: %q refused: %v", sql, err)
		}
	}
	for _, sql := range []string{"SELECT CHR(65), JSON_DETAILED('[]'), POINT(1, 2), REGEXP_REPLACE('a', 'a', 'b')", "SELECT ST_ASTEXT(POINT(1, 2))"} {
		if _, err := maria.Check(sql); err != nil {
			t.Errorf("MariaDB: %q refused: %v", sql, err)
		}
	}
	st, err := maria.Check("SELECT UPPER(name), COUNT(*), DATE_ADD(NOW(), INTERVAL 1 DAY) FROM customers GROUP BY name")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"upper", "count", "now", "date_add"}; strings.Join(st.Functions, ",") != strings.Join(want, ",") {
		t.Errorf("Functions = %q, want %q", st.Functions, want)
	}
}

func TestParseServerVersion(t *testing.T) {
	for v, want := range map[string]string{
		"10.11.6-MariaDB-0+deb12u1": "MariaDB 10.11",
		"11.4.2-MariaDB":            "MariaDB 11.4",
		"5.5.5-10.11.6-MariaDB-log": "MariaDB 10.11",
		"8.0.36":                    "MySQL 8.0",
		"8.4.0-commercial":          "MySQL 8.4",
		"10.5.23-MariaDB":           "",
		"5.7.44":                    "",
		"garbage":                   "",
	} {
		d, err := ParseServerVersion(v)
		got := ""
		if err == nil {
			got = d.String()
		}
		if got != want {
			t.Errorf("ParseServerVersion(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}

// Finding 4: string-building functions only with literal lengths under a
// bound, and no pattern function on a generated string.
func TestGeneratedStringsAreBounded(t *testing.T) {
	g := newGuard(t, Policy{})
	for _, sql := range []string{
		"SELECT LENGTH(REGEXP_REPLACE(REPEAT('a', 8000000), 'a', 'bb'))",
		"SELECT REPEAT('a', 10001)",
		"SELECT REPEAT('a', id) FROM orders",
		"SELECT SPACE(1 + 1)",
		"SELECT LPAD('a', 99999999, 'b')",
		"SELECT RPAD('a', total, 'b') FROM orders",
		"SELECT INSERT('a', 1, 20000, 'b')",
		"SELECT REGEXP_REPLACE(REPEAT('a', 10), 'a', 'bb')",
		"SELECT INSTR(REPEAT('a', 5000), 'b')",
		"SELECT LOCATE('b', SPACE(5000))",
		"SELECT POSITION('b' IN LPAD('', 5000, 'a'))",
		"SELECT REPLACE(REPEAT('a', 10), 'a', 'bb')",
		"SELECT REPLACE(REPLACE(REPLACE(name, 'a', 'aa'), 'a', 'aa'), 'a', 'aa') FROM customers",
		"SELECT REPEAT(REPEAT('a', 1000), 1000)",
		"SELECT SUBSTRING_INDEX(GROUP_CONCAT(name), ',', 1) FROM customers",
		"SELECT REGEXP_INSTR(GROUP_CONCAT(name), 'x') FROM customers",
		"SELECT 1 FROM customers WHERE REPEAT(name, 100) REGEXP 'x'",
		"SELECT 1 FROM customers WHERE RPAD(name, 9000, 'x') LIKE '%a%b%'",
		"SELECT CONCAT(" + strings.Repeat("REPEAT('a', 9000), ", 12) + "'x')",
	} {
		wantViolation(t, g, sql, "")
	}
	for _, sql := range []string{
		"SELECT RPAD(name, 20, ' '), LPAD(id, 6, '0'), REPEAT('-', 40), SPACE(4) FROM customers",
		"SELECT REPLACE(REPLACE(email, '-', ''), ' ', '') FROM customers",
		"SELECT REGEXP_REPLACE(name, 'a', 'b'), INSTR(name, 'x'), LOCATE('x', name) FROM customers",
		"SELECT INSERT(name, 1, 3, 'abc') FROM customers",
		"SELECT GROUP_CONCAT(name ORDER BY name SEPARATOR ', ') FROM customers",
		"SELECT name FROM customers WHERE name LIKE 'a%' OR name REGEXP '^b'",
	} {
		if _, err := g.Check(sql); err != nil {
			t.Errorf("%q refused: %v", sql, err)
		}
	}
}
