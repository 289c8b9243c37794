package sqlguard

import (
	"fmt"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

// The generated-length class (bounds.go), attacked as someone who has read
// the analysis would: every way to carry a long generated string to a
// pattern function that the analysis must follow (nesting, derived tables,
// CTEs, recursive CTEs, subqueries, UNION branches, CASE/IF/COALESCE,
// CAST/CONVERT/COLLATE, literal forms, renames through column lists, *,
// names the server folds or truncates, functions it does not model).
func TestGeneratedLengthsByConstruction(t *testing.T) {
	g := newGuard(t, Policy{})
	a5k := "'" + strings.Repeat("a", 5000) + "'"
	hex5k := strings.Repeat("61", 5000)
	for _, sql := range []string{
		// Literal forms over the bound, straight into a pattern function.
		"SELECT REGEXP_REPLACE(" + a5k + ", 'a', 'bb')",
		"SELECT REGEXP_REPLACE(X'" + hex5k + "', 'a', 'bb')",
		"SELECT REGEXP_REPLACE(0x" + hex5k + ", 'a', 'bb')",
		"SELECT REGEXP_REPLACE(_utf8mb4" + a5k + ", 'a', 'bb')",
		"SELECT REGEXP_REPLACE(_binary X'" + hex5k + "', 'a', 'bb')",
		"SELECT REGEXP_REPLACE(N" + a5k + ", 'a', 'bb')",
		"SELECT " + a5k + " LIKE '%a%a%a%b'",
		"SELECT 'a' LIKE " + a5k,
		"SELECT 'a' REGEXP " + a5k,
		"SELECT REGEXP_REPLACE('a', 'a', " + a5k + ")",
		// Nesting of functions the old rule did not know.
		"SELECT INSTR(HEX(HEX('" + strings.Repeat("a", 100) + "')), 'x') FROM dual WHERE REGEXP_LIKE(TO_BASE64(REPEAT('a', 1000)), 'x')",
		"SELECT LOCATE('x', QUOTE(QUOTE(QUOTE(QUOTE(QUOTE(QUOTE(QUOTE('" + strings.Repeat("'", 100) + "')))))))) ",
		"SELECT FIND_IN_SET('x', JSON_QUOTE(JSON_QUOTE(JSON_QUOTE('" + strings.Repeat("\\\\", 200) + "'))))",
		"SELECT SUBSTRING_INDEX(EXPORT_SET(5, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'b'), ',', 1)",
		"SELECT REPLACE(MAKE_SET(7, " + a5k + ", 'b'), 'a', 'b')",
		"SELECT REGEXP_INSTR(DATE_FORMAT(NOW(), '" + strings.Repeat("%W", 100) + "'), 'x')",
		"SELECT REGEXP_INSTR(REGEXP_REPLACE(REPEAT('a', 2000), 'a', 'bb'), 'x')",
		"SELECT REGEXP_INSTR(REPLACE(REPEAT('a', 2000), 'a', 'bbb'), 'x')",
		"SELECT REGEXP_INSTR(LPAD('', 5000, 'x'), 'x')",
		"SELECT REGEXP_INSTR(INSERT('a', 1, 1, " + a5k + "), 'x')",
		"SELECT REGEXP_INSTR(CHAR(" + strings.Repeat("65, ", 1200) + "65), 'x')",
		// Branches: the longest one counts.
		"SELECT REGEXP_INSTR(CASE WHEN 1 = 0 THEN 'a' ELSE REPEAT('a', 5000) END, 'x')",
		"SELECT REGEXP_INSTR(IF(1, 'a', SPACE(5000)), 'x')",
		"SELECT REGEXP_INSTR(COALESCE(NULL, SPACE(5000)), 'x')",
		"SELECT REGEXP_INSTR(IFNULL(NULL, SPACE(5000)), 'x')",
		"SELECT REGEXP_INSTR(GREATEST('a', SPACE(5000)), 'x')",
		"SELECT REGEXP_INSTR(ELT(2, 'a', SPACE(5000)), 'x')",
		// Conversions keep the length (or multiply it).
		"SELECT REGEXP_INSTR(CAST(SPACE(5000) AS CHAR), 'x')",
		"SELECT REGEXP_INSTR(CAST(SPACE(2000) AS BINARY), 'x')",
		"SELECT REGEXP_INSTR(CONVERT(SPACE(5000), CHAR), 'x')",
		"SELECT REGEXP_INSTR(CONVERT(SPACE(5000) USING latin1), 'x')",
		"SELECT REGEXP_INSTR(CONVERT(LPAD('', 2000, 'é') USING binary), 'x')",
		"SELECT REGEXP_INSTR(SPACE(5000) COLLATE utf8mb4_bin, 'x')",
		// Derived tables, CTEs, renames, *.
		"SELECT REGEXP_INSTR(s, 'x') FROM (SELECT SPACE(5000) AS s) AS t",
		"SELECT REGEXP_INSTR(t.s, 'x') FROM (SELECT * FROM (SELECT SPACE(5000) AS s) AS u) AS t",
		"SELECT REGEXP_INSTR(v, 'x') FROM (SELECT s AS v FROM (SELECT SPACE(5000) AS s) AS u) AS t",
		"WITH c(v) AS (SELECT SPACE(5000)) SELECT REGEXP_INSTR(v, 'x') FROM c",
		"WITH c(v) AS (SELECT * FROM (SELECT SPACE(5000) AS s) AS u) SELECT REGEXP_INSTR(v, 'x') FROM c",
		"WITH c AS (SELECT SPACE(5000) AS s), d AS (SELECT CONCAT(s, 'x') AS s FROM c) SELECT REGEXP_INSTR(s, 'x') FROM d",
		"SELECT REGEXP_INSTR(t.`SPACE(5000)`, 'x') FROM (SELECT SPACE(5000)) AS t",
		"SELECT REGEXP_INSTR(t.`space(5000)`, 'x') FROM (SELECT space(5000)) AS t",
		"SELECT REGEXP_INSTR(t.aaaa, 'x') FROM (SELECT 'aaaa' UNION SELECT SPACE(5000)) AS t",
		"SELECT REGEXP_INSTR(t.a, 'x') FROM (SELECT 'a' AS a UNION ALL SELECT SPACE(5000)) AS t",
		"SELECT REGEXP_INSTR(t.a, 'x') FROM (SELECT 'a' AS a UNION ALL SELECT SPACE(5000) AS b) AS t",
		"SELECT REGEXP_INSTR(t.b, 'x') FROM (SELECT SPACE(5000) AS `  b`) AS t",
		"SELECT REGEXP_INSTR(t.S, 'x') FROM (SELECT SPACE(5000) AS ſ) AS t",
		"SELECT REGEXP_INSTR(t.ſ, 'x') FROM (SELECT SPACE(5000) AS s) AS t",
		"SELECT REGEXP_INSTR(t." + strings.Repeat("a", 64) + ", 'x') FROM (SELECT SPACE(5000) AS " + strings.Repeat("a", 70) + ") AS t",
		"SELECT REGEXP_INSTR(t.a, 'x') FROM (SELECT SPACE(5000) AS a) AS t(b)",
		"SELECT REGEXP_INSTR(t.b, 'x') FROM (SELECT 'a' AS a, 'b' AS b UNION ALL SELECT * FROM (SELECT 'c', SPACE(5000)) AS u) AS t",
		"SELECT REGEXP_INSTR(t.b, 'x') FROM (SELECT 'a' AS a, 'b' AS b UNION ALL SELECT 'c', SPACE(5000)) AS t",
		"WITH c(" + wideNames(300) + ") AS (SELECT " + strings.Repeat("'a', ", 299) + "SPACE(5000)) SELECT REGEXP_INSTR(n1, 'x') FROM c",
		"SELECT REGEXP_INSTR(t.b, 'x') FROM (SELECT SPACE(5000) AS a) AS t(b)",
		"SELECT REGEXP_INSTR(s, 'x') FROM customers JOIN LATERAL (SELECT CONCAT(name, SPACE(5000)) AS s) AS t",
		// Subqueries.
		"SELECT REGEXP_INSTR((SELECT SPACE(5000)), 'x')",
		"SELECT REGEXP_INSTR((SELECT * FROM (SELECT SPACE(5000) AS s) AS t), 'x')",
		"SELECT 1 FROM customers WHERE name LIKE (SELECT MAX(SPACE(5000)))",
		// Names in ORDER BY and HAVING refer to select-list aliases.
		"SELECT SPACE(5000) AS s FROM customers HAVING s REGEXP 'x'",
		"SELECT SPACE(5000) AS s FROM customers ORDER BY REGEXP_INSTR(s, 'x')",
		// Window functions and aggregates carry their argument.
		"SELECT REGEXP_INSTR(LAG(name, 1, SPACE(5000)) OVER (ORDER BY id), 'x') FROM customers",
		"SELECT REGEXP_INSTR(MAX(SPACE(5000)), 'x') FROM customers",
		"SELECT REGEXP_INSTR(FIRST_VALUE(SPACE(5000)) OVER (), 'x') FROM customers",
		// Rows concatenated: unbounded by the guard, never searched.
		"SELECT REGEXP_INSTR(GROUP_CONCAT(name), 'x') FROM customers",
		"SELECT REGEXP_INSTR(JSON_ARRAYAGG(name), 'x') FROM customers",
		"SELECT 1 FROM (SELECT GROUP_CONCAT(name) AS g FROM customers) AS t WHERE g LIKE '%x%'",
		"SELECT JSON_SEARCH(JSON_ARRAYAGG(name), 'all', 'x') FROM customers",
		// Functions the table does not model, and decompression.
		"SELECT REGEXP_INSTR(UNCOMPRESS(COMPRESS(SPACE(10000))), 'x')",
		"SELECT REGEXP_INSTR(JSON_PRETTY('[1,2,3,4,5,6,7,8,9,0]'), 'x')", // up to 258 characters a byte
		"SELECT REGEXP_INSTR(ST_ASTEXT(ST_BUFFER(POINT(0, 0), 1000)), 'x')",
		"SELECT REGEXP_INSTR(WEIGHT_STRING(SPACE(1000)), 'x')",
		"SELECT REGEXP_INSTR(JSON_EXTRACT('[[[[1]]]]', '$**'), 'x')",
		"SELECT REGEXP_INSTR(JSON_EXTRACT('[" + strings.Repeat("1e15,", 200) + "1]', '$'), 'x')",
		"SELECT REGEXP_INSTR(JSON_NORMALIZE('[1]'), 'x')",
		"SELECT EXTRACTVALUE(CONCAT('<a>', REPEAT('<b>x</b>', 1000), '</a>'), '//b[. = //b]')",
		"SELECT UPDATEXML(CONCAT('<a>', REPEAT('<b>x</b>', 1000), '</a>'), '//b', '<c/>')",
		// Data copied too many times.
		"SELECT REGEXP_INSTR(REPEAT(name, 17), 'x') FROM customers",
		"SELECT REGEXP_INSTR(CONCAT(" + strings.Repeat("name, ", 16) + "name), 'x') FROM customers",
		"SELECT REGEXP_INSTR(HEX(HEX(name)), 'x') FROM customers",
		"SELECT REGEXP_INSTR(REGEXP_REPLACE(name, 'a', 'bbbbbbbbbbbbbbbbb'), 'x') FROM customers",
		"SELECT REGEXP_INSTR(REGEXP_REPLACE(name, 'a', '\\\\0\\\\0'), 'x') FROM customers",
		"SELECT REGEXP_INSTR(REPLACE(name, 'a', name), 'x') FROM customers",
		// Recursive CTEs: a column that grows each iteration is unbounded.
		"WITH RECURSIVE r(n, s) AS (SELECT 1, 'a' UNION ALL SELECT n + 1, CONCAT(s, s) FROM r WHERE n < 20) SELECT REGEXP_INSTR(s, 'x') FROM r",
		"WITH RECURSIVE r(n, s) AS (SELECT 1, 'a' UNION ALL SELECT n + 1, REPEAT(s, 2) FROM r WHERE n < 20) SELECT n FROM r WHERE s LIKE '%x%'",
		"WITH RECURSIVE r(n, s) AS (SELECT 1, CAST('a' AS CHAR(10)) UNION ALL SELECT n + 1, REGEXP_REPLACE(s, 'a', 'aa') FROM r WHERE n < 20) SELECT n FROM r",
		// Builders over their own bound.
		"SELECT CONCAT(" + strings.Repeat("HEX(HEX('"+strings.Repeat("a", 1000)+"')), ", 3) + "'x')",
		"SELECT HEX(HEX(HEX(HEX(HEX('" + strings.Repeat("a", 1000) + "')))))",
		"WITH c AS (SELECT SPACE(10000) AS s), d AS (SELECT CONCAT(s, s, s, s, s, s, s, s, s, s, s) AS s FROM c) SELECT LENGTH(s) FROM d",
		"SELECT EXPORT_SET(5, SPACE(2000), 'b')",
		"SELECT REPEAT(name, 1025) FROM customers",
		// A chain of CTEs doubling a string, in order and reversed.
		chain(20, true, false), chain(20, true, true),
	} {
		if st, err := g.Check(sql); err == nil {
			t.Errorf("accepted %.150q, sent %.150q", sql, st.SQL)
		}
	}
	for _, sql := range []string{
		"SELECT REGEXP_INSTR(CAST(SPACE(100) AS CHAR(5000)), 'x') FROM customers WHERE REGEXP_LIKE(CAST(name AS CHAR(9000)), 'x')",
		"SELECT REGEXP_REPLACE(name, '[^a-z]', ''), REPLACE(REPLACE(email, '-', ''), ' ', '') FROM customers",
		"SELECT CONCAT(first_name, ' ', last_name) AS full_name FROM (SELECT name AS first_name, name AS last_name FROM customers) AS t WHERE CONCAT(first_name, ' ', last_name) LIKE 'a%'",
		"SELECT CONCAT('[', GROUP_CONCAT(name ORDER BY name SEPARATOR ', '), ']') FROM customers",
		"SELECT GROUP_CONCAT(name) FROM customers WHERE name LIKE 'a%'",
		"SELECT LOWER(name) LIKE '%x%', UPPER(TRIM(name)) REGEXP '^A', LEFT(name, 3) = 'abc' FROM customers",
		"SELECT DATE_FORMAT(created_at, '%Y-%m') AS m, COUNT(*) FROM orders WHERE DATE_FORMAT(created_at, '%Y') LIKE '202%' GROUP BY m",
		"WITH c AS (SELECT id, name FROM customers) SELECT id FROM c WHERE name REGEXP '^a'",
		"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 10) SELECT n FROM seq WHERE CAST(n AS CHAR) LIKE '1%'",
		"WITH RECURSIVE r(n, p) AS (SELECT 1, CAST('a' AS CHAR(100)) UNION ALL SELECT n + 1, CONCAT(p, '/', 'x') FROM r WHERE n < 10) SELECT p FROM r",
		"SELECT REGEXP_INSTR(HEX(name), 'x'), LOCATE('x', CONCAT_WS(',', name, email, name)) FROM customers",
		"SELECT REGEXP_INSTR(REPEAT('ab', 2000), 'x'), INSTR(SPACE(4096), ' ') FROM dual",
		"SELECT REGEXP_INSTR(t.s, 'x') FROM (SELECT REPEAT('a', 100) AS s) AS t",
		"SELECT LPAD(id, 8, '0') LIKE '0000%', CAST(name AS CHAR(50)) REGEXP 'x' FROM customers",
		"SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) LIKE 'a%', name->>'$.b' REGEXP 'x' FROM (SELECT name AS doc, name FROM customers) AS t",
		"SELECT FORMAT(SUM(id), 2) LIKE '1%' FROM customers",
		"SELECT SPACE(5000) AS pad, name FROM customers WHERE name LIKE 'a%'",
		// A long chain of bounded CTEs and derived tables settles.
		chain(40, false, false), chain(40, false, true),
	} {
		if _, err := g.Check(sql); err != nil {
			t.Errorf("%q refused: %v", sql, err)
		}
	}
}

// GET_FORMAT's first argument is a keyword vitess parses as a column: the
// printer must not quote it (GET_FORMAT(`DATE`, 'EUR') is a syntax error on
// the server), and nothing else may stand there.
func TestKeywordArguments(t *testing.T) {
	g := newGuard(t, Policy{})
	for sql, want := range map[string]string{
		"SELECT GET_FORMAT(DATE, 'EUR')":                     "select GET_FORMAT(DATE, 'EUR') from dual limit 1000",
		"SELECT get_format(time, 'USA')":                     "select get_format(TIME, 'USA') from dual limit 1000",
		"SELECT GET_FORMAT(`datetime`, 'ISO')":               "select GET_FORMAT(DATETIME, 'ISO') from dual limit 1000",
		"SELECT GET_FORMAT(TIMESTAMP, 'JIS')":                "select GET_FORMAT(TIMESTAMP, 'JIS') from dual limit 1000",
		"SELECT DATE_FORMAT(NOW(), GET_FORMAT(DATE, 'EUR'))": "select DATE_FORMAT(now(), GET_FORMAT(DATE, 'EUR')) from dual limit 1000",
	} {
		st, err := g.Check(sql)
		if err != nil || st.SQL != want {
			t.Errorf("%q: sent %q, %v; want %q", sql, st.SQL, err, want)
		}
	}
	for _, sql := range []string{
		"SELECT GET_FORMAT(name, 'EUR') FROM customers",
		"SELECT GET_FORMAT(c.date, 'EUR') FROM customers AS c",
		"SELECT GET_FORMAT('DATE', 'EUR')",
		"SELECT GET_FORMAT(1, 'EUR')",
		"SELECT GET_FORMAT(DATE)",
		"SELECT GET_FORMAT(DATE, 'EUR', 1)",
	} {
		wantViolation(t, g, sql, "GET_FORMAT")
	}
}

// chain is WITH c1 AS (SELECT 'a' AS s1), c2 AS (SELECT CONCAT(s1, 'a')
// AS s2 FROM c1), ... SELECT s<n> FROM c<n> WHERE s<n> LIKE '%x%', or the
// same with nested derived tables; doubling, CONCAT(s, s) instead.
func chain(n int, double, derived bool) string {
	arg := func(i int) string {
		if double {
			return fmt.Sprintf("s%d", i-1)
		}
		return "'a'"
	}
	var b strings.Builder
	if derived {
		from := "(SELECT 'a' AS s1) AS c1"
		for i := 2; i <= n; i++ {
			from = fmt.Sprintf("(SELECT CONCAT(s%d, %s) AS s%d FROM %s) AS c%d", i-1, arg(i), i, from, i)
		}
		fmt.Fprintf(&b, "SELECT s%d FROM %s", n, from)
	} else {
		b.WriteString("WITH c1 AS (SELECT 'a' AS s1)")
		for i := 2; i <= n; i++ {
			fmt.Fprintf(&b, ", c%d AS (SELECT CONCAT(s%d, %s) AS s%d FROM c%d)", i, i-1, arg(i), i, i-1)
		}
		fmt.Fprintf(&b, " SELECT s%d FROM c%d", n, n)
	}
	fmt.Fprintf(&b, " WHERE s%d LIKE '%%x%%'", n)
	return b.String()
}

// The fast printing and the names calledFuncs takes from the tree are
// exactly those of the checking printer, on the accept corpus and the
// statements of these tests.
func TestPrintOracle(t *testing.T) {
	rows, err := corpus.LoadAccept()
	if err != nil {
		t.Fatal(err)
	}
	sqls := []string{
		"SELECT GET_FORMAT(DATE, 'EUR'), EXTRACT(DAY_MINUTE FROM NOW()), TIMESTAMPADD(MINUTE, 1, NOW()), CHAR(65 USING utf8mb4)",
		"SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a INT PATH '$', b VARCHAR(10) PATH '$.b' DEFAULT '\"x\"' ON EMPTY, NESTED PATH '$.c[*]' COLUMNS (c INT PATH '$'))) AS jt",
		"SELECT TRIM(LEADING 'x' FROM name), POSITION('a' IN name), SUBSTRING(name FROM 2 FOR 1), CAST(id AS CHAR(3)), CONVERT(name USING latin1), WEIGHT_STRING(name AS CHAR(3)) FROM customers",
		"SELECT COUNT(*), SUM(id), GROUP_CONCAT(DISTINCT name ORDER BY name SEPARATOR ';'), JSON_ARRAYAGG(id), LAG(id) OVER w, ROW_NUMBER() OVER w FROM customers WINDOW w AS (ORDER BY id)",
		"SELECT DATE_ADD(NOW(), INTERVAL 1 DAY), NOW() - INTERVAL 1 HOUR, JSON_EXTRACT('{}', '$.a'), JSON_SET('{}', '$.a', 1), REGEXP_REPLACE(name, 'a', 'b') FROM customers",
	}
	for _, r := range rows {
		sqls = append(sqls, r.SQL)
	}
	g := newGuard(t, Policy{})
	for _, sql := range sqls {
		st, err := g.Check(sql)
		if err != nil {
			t.Errorf("%q refused: %v", sql, err)
			continue
		}
		if err := printOracle(g, st); err != nil {
			t.Errorf("%q: %v", sql, err)
		}
	}
}

// wideNames is n1, n2, ..., n<n>.
func wideNames(n int) string {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("n%d", i))
	}
	return strings.Join(names, ", ")
}
