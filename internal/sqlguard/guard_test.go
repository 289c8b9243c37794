package sqlguard

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

func newGuard(t testing.TB, p Policy) *Guard {
	t.Helper()
	g, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCorpusReject(t *testing.T) {
	rows, err := corpus.LoadReject()
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(t, Policy{MaxRows: 1000})
	for _, r := range rows {
		t.Run(r.ID, func(t *testing.T) {
			st, err := g.Check(r.SQL)
			if err == nil {
				t.Fatalf("accepted %q (%s) as %q", r.SQL, r.Category, st.SQL)
			}
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error is %T, want *Refusal: %v", err, err)
			}
			if r.Category == "syntax" && ref.Reason != result.CompilationError {
				t.Errorf("reason %s, want CompilationError: %v", ref.Reason, err)
			}
			if r.Category == "syntax" && ref.Line == 0 {
				t.Errorf("syntax error without a position: %v", err)
			}
		})
	}
}

func TestCorpusAccept(t *testing.T) {
	rows, err := corpus.LoadAccept()
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(t, Policy{MaxRows: 1000})
	for _, r := range rows {
		t.Run(r.ID, func(t *testing.T) {
			st, err := g.Check(r.SQL)
			if err != nil {
				t.Fatalf("refused %q (%s): %v", r.SQL, r.Category, err)
			}
			if st.Limit != r.ExpectedLimit {
				t.Errorf("Limit = %d, want %d (sent %q)", st.Limit, r.ExpectedLimit, st.SQL)
			}
			if got := reparseOuterLimit(t, st.SQL); got != r.ExpectedLimit {
				t.Errorf("the sent statement's outer LIMIT is %d, want %d: %q", got, r.ExpectedLimit, st.SQL)
			}
		})
	}
}

// reparseOuterLimit parses sent (the guard's output) again, checks it is one
// SELECT or UNION with a literal outer LIMIT, and returns the row count.
func reparseOuterLimit(t testing.TB, sent string) uint64 {
	t.Helper()
	p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: mysqlVersion})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := p.ParseMultiple(sent)
	if err != nil || len(stmts) != 1 {
		t.Fatalf("the sent statement %q does not re-parse as one statement: %v (%d)", sent, err, len(stmts))
	}
	var lim *sqlparser.Limit
	switch s := stmts[0].(type) {
	case *sqlparser.Select:
		lim = s.Limit
	case *sqlparser.Union:
		lim = s.Limit
	default:
		t.Fatalf("the sent statement %q re-parses as %T", sent, s)
	}
	if lim == nil {
		t.Fatalf("the sent statement %q has no outer LIMIT", sent)
	}
	lit, ok := lim.Rowcount.(*sqlparser.Literal)
	if !ok {
		t.Fatalf("outer LIMIT of %q is %T", sent, lim.Rowcount)
	}
	n, err := strconv.ParseUint(lit.Val, 10, 64)
	if err != nil {
		t.Fatalf("outer LIMIT of %q: %v", sent, err)
	}
	return n
}

func TestRefusedConstructs(t *testing.T) {
	// Each case: SQL, and a word the message must contain (the construct).
	cases := map[string]struct {
		sql, want string
	}{
		// Statement kinds.
		"insert":          {"INSERT INTO t VALUES (1)", "INSERT"},
		"update":          {"UPDATE t SET a = 1", "UPDATE"},
		"delete":          {"DELETE FROM t", "DELETE"},
		"with-delete":     {"WITH x AS (SELECT 1) DELETE FROM t", "DELETE"},
		"set":             {"SET @a = 1", "SET"},
		"set-names":       {"SET NAMES latin1", "SET"},
		"begin":           {"BEGIN", "BEGIN"},
		"start-tx":        {"START TRANSACTION READ WRITE", "BEGIN"},
		"commit":          {"COMMIT", "COMMIT"},
		"use":             {"USE mysql", "USE"},
		"lock-tables":     {"LOCK TABLES t WRITE", "LOCK TABLES"},
		"unlock-tables":   {"UNLOCK TABLES", "UNLOCK"},
		"call":            {"CALL p()", "CALL"},
		"prepare":         {"PREPARE s FROM 'DROP TABLE t'", "PREPARE"},
		"execute":         {"EXECUTE s", "EXECUTE"},
		"load-data":       {"LOAD DATA INFILE '/etc/passwd' INTO TABLE t", "LOAD"},
		"create-view":     {"CREATE VIEW v AS SELECT 1", "CREATE VIEW"},
		"alter":           {"ALTER TABLE t ADD COLUMN c INT", "ALTER TABLE"},
		"drop-db":         {"DROP DATABASE d", "DROP DATABASE"},
		"rename":          {"RENAME TABLE a TO b", "RENAME TABLE"},
		"analyze":         {"ANALYZE TABLE t", "ANALYZE"},
		"do":              {"DO 1", "DO statement"},
		"optimize":        {"/* x */ OPTIMIZE TABLE t", "OPTIMIZE statement"},
		"purge":           {"PURGE BINARY LOGS TO 'x'", "PURGE"},
		"savepoint":       {"SAVEPOINT s", "SAVEPOINT"},
		"vexplain":        {"VEXPLAIN SELECT 1", "EXPLAIN"},
		"stacked":         {"SELECT 1; SELECT 2", "more than one statement"},
		"stacked-comment": {"SELECT 1; /* x */ SELECT 2", "more than one statement"},
		// INTO.
		"into-outfile":        {"SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"},
		"into-dumpfile":       {"SELECT 1 INTO DUMPFILE '/tmp/x'", "INTO DUMPFILE"},
		"into-var":            {"SELECT 1 INTO @a", "INTO variables"},
		"into-union":          {"SELECT 1 UNION SELECT 2 INTO OUTFILE '/tmp/x'", "INTO OUTFILE"},
		"into-subquery-union": {"SELECT 1 UNION (SELECT 2 INTO @a)", "INTO"},
		// Locking.
		"for-share":        {"SELECT * FROM t FOR SHARE", "FOR SHARE"},
		"lock-share-mode":  {"SELECT * FROM t LOCK IN SHARE MODE", "LOCK IN SHARE MODE"},
		"skip-locked":      {"SELECT * FROM t FOR UPDATE SKIP LOCKED", "SKIP LOCKED"},
		"share-nowait":     {"SELECT * FROM t FOR SHARE NOWAIT", "NOWAIT"},
		"union-for-update": {"SELECT 1 UNION SELECT 2 FOR UPDATE", "FOR UPDATE"},
		"cte-for-update":   {"WITH c AS (SELECT * FROM t FOR UPDATE) SELECT * FROM c", "FOR UPDATE"},
		"exists-lock":      {"SELECT 1 WHERE EXISTS (SELECT 1 FROM t LOCK IN SHARE MODE)", "LOCK IN SHARE MODE"},
		// Variables.
		"assign":       {"SELECT @a := 1", ":="},
		"user-var":     {"SELECT @a", "user variable"},
		"sys-var":      {"SELECT @@datadir", "system variable"},
		"sys-var-glob": {"SELECT @@global.secure_file_priv", "system variable"},
		"bind-var":     {"SELECT :x", "bind parameter"},
		"placeholder":  {"SELECT ?", "bind parameter"},
		// Functions.
		"sleep-where":      {"SELECT * FROM t WHERE SLEEP(1) = 0", "SLEEP"},
		"sleep-order":      {"SELECT * FROM t ORDER BY SLEEP(1)", "SLEEP"},
		"sleep-group":      {"SELECT a FROM t GROUP BY a HAVING SLEEP(1)", "SLEEP"},
		"sleep-join":       {"SELECT * FROM t JOIN u ON SLEEP(1)", "SLEEP"},
		"sleep-window":     {"SELECT SUM(a) OVER (ORDER BY SLEEP(1)) FROM t", "SLEEP"},
		"sleep-cte":        {"WITH c AS (SELECT SLEEP(1)) SELECT * FROM c", "SLEEP"},
		"sleep-limit-sub":  {"SELECT * FROM t WHERE a IN (SELECT SLEEP(1))", "SLEEP"},
		"sleep-cast":       {"SELECT CAST(SLEEP(1) AS CHAR)", "SLEEP"},
		"sleep-json-table": {"SELECT * FROM JSON_TABLE(CONCAT('[', SLEEP(1), ']'), '$[*]' COLUMNS (a INT PATH '$')) AS j", "SLEEP"},
		"sleep-upper":      {"SELECT sLeEp(1)", "SLEEP"},
		// Inside every node kind vitess gives built-ins of its own.
		"in-group-concat":       {"SELECT GROUP_CONCAT(SLEEP(1) SEPARATOR ',') FROM t", "SLEEP"},
		"in-json-extract":       {"SELECT JSON_EXTRACT(LOAD_FILE('/etc/passwd'), '$')", "LOAD_FILE"},
		"in-json-table":         {"SELECT * FROM JSON_TABLE(LOAD_FILE('/x'), '$[*]' COLUMNS (a INT PATH '$')) AS j", "LOAD_FILE"},
		"in-convert-using":      {"SELECT CONVERT(LOAD_FILE('/x') USING utf8mb4)", "LOAD_FILE"},
		"in-interval":           {"SELECT NOW() + INTERVAL SLEEP(1) DAY", "SLEEP"},
		"in-date-add":           {"SELECT DATE_ADD(NOW(), INTERVAL SLEEP(1) SECOND)", "SLEEP"},
		"in-match":              {"SELECT MATCH(a) AGAINST (SLEEP(1)) FROM t", "SLEEP"},
		"in-timestampdiff":      {"SELECT TIMESTAMPDIFF(DAY, SLEEP(1), NOW())", "SLEEP"},
		"in-substr":             {"SELECT SUBSTRING(LOAD_FILE('/x'), 1, 10)", "LOAD_FILE"},
		"in-trim":               {"SELECT TRIM(LOAD_FILE('/x'))", "LOAD_FILE"},
		"in-locate":             {"SELECT LOCATE('root', LOAD_FILE('/etc/passwd'))", "LOAD_FILE"},
		"in-extract":            {"SELECT EXTRACT(YEAR FROM SLEEP(1))", "SLEEP"},
		"in-regexp":             {"SELECT REGEXP_LIKE(LOAD_FILE('/x'), 'root')", "LOAD_FILE"},
		"in-json-arrayagg":      {"SELECT JSON_ARRAYAGG(SLEEP(1)) FROM t", "SLEEP"},
		"in-lag-default":        {"SELECT LAG(a, 1, SLEEP(1)) OVER (ORDER BY a) FROM t", "SLEEP"},
		"in-partition-by":       {"SELECT ROW_NUMBER() OVER (PARTITION BY SLEEP(1)) FROM t", "SLEEP"},
		"in-named-window":       {"SELECT SUM(a) OVER w FROM t WINDOW w AS (ORDER BY BENCHMARK(1, 1))", "BENCHMARK"},
		"in-case-value":         {"SELECT CASE SLEEP(1) WHEN 0 THEN 1 END", "SLEEP"},
		"in-in-list":            {"SELECT 1 FROM t WHERE a IN (1, SLEEP(1))", "SLEEP"},
		"in-collate":            {"SELECT LOAD_FILE('/x') COLLATE utf8mb4_bin", "LOAD_FILE"},
		"in-weight-string":      {"SELECT WEIGHT_STRING(LOAD_FILE('/x'))", "LOAD_FILE"},
		"in-char":               {"SELECT CHAR(SLEEP(1) USING utf8mb4)", "SLEEP"},
		"in-join-using-sub":     {"SELECT * FROM t JOIN (SELECT SLEEP(1) AS a) AS s USING (a)", "SLEEP"},
		"in-order-union":        {"SELECT a FROM t UNION SELECT b FROM u ORDER BY SLEEP(1)", "SLEEP"},
		"in-having-sub":         {"SELECT a FROM t GROUP BY a HAVING a > (SELECT GET_LOCK('x', 1))", "GET_LOCK"},
		"in-recursive-cte":      {"WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT SLEEP(n) FROM r) SELECT * FROM r", "SLEEP"},
		"in-exists":             {"SELECT EXISTS (SELECT LOAD_FILE('/x'))", "LOAD_FILE"},
		"sleep-backtick":        {"SELECT `SLEEP`(1)", "SLEEP"},
		"benchmark":             {"SELECT BENCHMARK(1000000, MD5('a'))", "BENCHMARK"},
		"release-lock":          {"SELECT RELEASE_LOCK('a')", "RELEASE_LOCK"},
		"release-all-locks":     {"SELECT RELEASE_ALL_LOCKS()", "RELEASE_ALL_LOCKS"},
		"is-free-lock":          {"SELECT IS_FREE_LOCK('a')", "IS_FREE_LOCK"},
		"master-pos-wait":       {"SELECT MASTER_POS_WAIT('f', 4)", "MASTER_POS_WAIT"},
		"wait-gtid-set":         {"SELECT WAIT_FOR_EXECUTED_GTID_SET('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5', 10)", "WAIT_FOR_EXECUTED_GTID_SET"},
		"wait-until-sql-thread": {"SELECT WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS('3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5', 10)", "WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS"},
		"gtid-subset":           {"SELECT GTID_SUBSET('a', 'b')", "GTID_SUBSET"},
		"ps-thread-id":          {"SELECT PS_CURRENT_THREAD_ID()", "PS_CURRENT_THREAD_ID"},
		"connection-id":         {"SELECT CONNECTION_ID()", "CONNECTION_ID"},
		"current-user":          {"SELECT CURRENT_USER()", "CURRENT_USER"},
		"version":               {"SELECT VERSION()", "VERSION"},
		"last-insert-id":        {"SELECT LAST_INSERT_ID(5)", "LAST_INSERT_ID"},
		"lastval":               {"SELECT LASTVAL(s)", "LASTVAL"},
		"setval":                {"SELECT SETVAL(s, 10)", "SETVAL"},
		"next-value-for":        {"SELECT NEXT VALUE FOR s", "NEXT"},
		"udf":                   {"SELECT my_udf(1)", "MY_UDF"},
		"stored-func":           {"SELECT app.f(1)", "stored function"},
		"default-func":          {"SELECT DEFAULT(a) FROM t", "DEFAULT"},
		// System schemas.
		"mysql-upper":        {"SELECT * FROM MySQL.user", "system schema mysql"},
		"mysql-backtick":     {"SELECT * FROM `mysql`.`user`", "system schema mysql"},
		"is-column-ref":      {"SELECT information_schema.tables.table_name FROM t", "information_schema"},
		"sys-func":           {"SELECT sys.format_statement('x')", "system schema sys"},
		"ps-join":            {"SELECT 1 FROM t JOIN performance_schema.threads p ON 1 = 1", "performance_schema"},
		"mysql-in-exists":    {"SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM mysql.db)", "mysql"},
		"mysql-union":        {"SELECT 1 UNION SELECT user FROM mysql.user", "mysql"},
		"sys-star":           {"SELECT sys.x.* FROM sys.x", "sys"},
		"non-ascii-schema":   {"SELECT * FROM `ſys`.x", "non-ASCII"},
		"information-schema": {"SELECT * FROM INFORMATION_SCHEMA.PROCESSLIST", "information_schema"},
		// Policy-gated statements.
		"show-tables":  {"SHOW TABLES", "SHOW"},
		"describe":     {"DESCRIBE t", "DESCRIBE"},
		"explain":      {"EXPLAIN SELECT 1", "EXPLAIN"},
		"show-grants":  {"SHOW GRANTS", "SHOW"},
		"show-process": {"SHOW PROCESSLIST", "SHOW"},
		// Comments that MariaDB and vitess read differently.
		"versioned":        {"SELECT 1 /*!50000 + 1 */", "versioned comment"},
		"versioned-short":  {"SELECT 1 /*! + 1 */", "versioned comment"},
		"mariadb-exec":     {"SELECT 1 /*M!100000 + 1 */", "/*M!"},
		"mariadb-exec-low": {"SELECT 1 /*m! + 1 */", "/*M!"},
		"slash-comment":    {"SELECT 1 // x", "'//'"},
		// Bounds.
		"too-big":  {"SELECT '" + strings.Repeat("a", DefaultMaxBytes) + "'", "bytes"},
		"too-deep": {"SELECT " + strings.Repeat("(", DefaultMaxDepth+1) + "1" + strings.Repeat(")", DefaultMaxDepth+1), "nesting"},
	}
	g := newGuard(t, Policy{})
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := g.Check(c.sql)
			if err == nil {
				t.Fatalf("accepted %q as %q", c.sql, st.SQL)
			}
			var ref *Refusal
			if !errors.As(err, &ref) || ref.Reason != result.SecurityViolation {
				t.Fatalf("want a SecurityViolation, got %v (%#v)", err, ref)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.want)) {
				t.Errorf("message %q does not name %q", err.Error(), c.want)
			}
		})
	}
}

func TestCompilationErrors(t *testing.T) {
	cases := map[string]struct {
		sql       string
		line, col int
	}{
		"typo":          {"SELEC 1", 1, 1},
		"second-line":   {"SELECT id\nFROM t WHERE WHERE", 2, 14},
		"unicode-col":   {"SELECT 'é', FROM t", 1, 13},
		"unterminated":  {"SELECT 'abc", 1, 1},
		"nul-byte":      {"SELECT 1\x00", 1, 9},
		"limit-3":       {"SELECT 1 LIMIT 1, 2, 3", 1, 20},
		"empty":         {"", 0, 0},
		"only-comment":  {"-- nothing", 0, 0},
		"only-semi":     {";", 0, 0},
		"limit-float":   {"SELECT 1 LIMIT 1.5", 0, 0},
		"invalid-utf8":  {"SELECT '\xff'", 0, 0},
		"unclosed-cmnt": {"SELECT 1 /* x", 1, 1},
	}
	g := newGuard(t, Policy{})
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := g.Check(c.sql)
			var ref *Refusal
			if !errors.As(err, &ref) || ref.Reason != result.CompilationError {
				t.Fatalf("want a CompilationError, got %v", err)
			}
			if c.line != 0 && ref.Line == 0 {
				t.Fatalf("no position in %v", err)
			}
			if c.line != 0 && (ref.Line != c.line || (c.col != 1 && ref.Column != c.col)) {
				t.Errorf("position %d:%d, want %d:%d (%v)", ref.Line, ref.Column, c.line, c.col, err)
			}
		})
	}
}

func TestAcceptedRewrites(t *testing.T) {
	cases := map[string]struct {
		sql, want string
		limit     uint64
	}{
		"adds-limit":        {"SELECT a FROM t", "select `a` from `t` limit 5", 5},
		"keeps-smaller":     {"SELECT a FROM t LIMIT 3", "select `a` from `t` limit 3", 3},
		"clamps":            {"SELECT a FROM t LIMIT 50", "select `a` from `t` limit 5", 5},
		"offset-count":      {"SELECT a FROM t LIMIT 100, 2", "select `a` from `t` limit 100, 2", 2},
		"offset-clamp":      {"SELECT a FROM t LIMIT 100, 200", "select `a` from `t` limit 100, 5", 5},
		"offset-keyword":    {"SELECT a FROM t LIMIT 2 OFFSET 100", "select `a` from `t` limit 100, 2", 2},
		"huge":              {"SELECT a FROM t LIMIT 99999999999999999999999", "select `a` from `t` limit 5", 5},
		"union-limit":       {"SELECT a FROM t UNION SELECT b FROM u", "select `a` from `t` union select `b` from `u` limit 5", 5},
		"union-paren-inner": {"(SELECT a FROM t LIMIT 1) UNION ALL (SELECT b FROM u LIMIT 100)", "(select `a` from `t` limit 1) union all (select `b` from `u` limit 100) limit 5", 5},
		"subquery-limit":    {"SELECT * FROM (SELECT a FROM t LIMIT 100) AS x", "select * from (select `a` from `t` limit 100) as `x` limit 5", 5},
		"in-subquery-limit": {"SELECT a FROM t WHERE a IN (SELECT a FROM (SELECT a FROM u LIMIT 9) AS v) LIMIT 2", "select `a` from `t` where `a` in (select `a` from (select `a` from `u` limit 9) as `v`) limit 2", 2},
		"cte":               {"WITH c AS (SELECT 1 AS x) SELECT x FROM c", "with `c` as (select 1 as `x` from dual) select `x` from `c` limit 5", 5},
		"hint-stripped":     {"SELECT /*+ SET_VAR(sql_mode='') */ a FROM t", "select `a` from `t` limit 5", 5},
		"comment-stripped":  {"SELECT a /* hi */ FROM t -- bye", "select `a` from `t` limit 5", 5},
		"trailing-semi":     {"SELECT a FROM t;", "select `a` from `t` limit 5", 5},
		"semi-comment":      {"SELECT a FROM t; -- done", "select `a` from `t` limit 5", 5},
		"string-escapes":    {`SELECT 'it''s', "dq", 'a\nb'`, `select 'it\'s', 'dq', 'a\nb' from dual limit 5`, 5},
		"keyword-table":     {"SELECT `select`, `from` FROM `weird names`", "select `select`, `from` from `weird names` limit 5", 5},
		"json-table":        {"SELECT j.a FROM t, JSON_TABLE(t.doc, '$[*]' COLUMNS (a INT PATH '$.a')) AS j", "", 5},
		"for-update-string": {"SELECT 'FOR UPDATE' AS x", "select 'FOR UPDATE' as `x` from dual limit 5", 5},
		"system-lookalike":  {"SELECT * FROM mysql_stats JOIN sys_log ON 1 = 1", "", 5},
		"table-named-user":  {"SELECT * FROM `user`", "", 5},
		"group-concat":      {"SELECT GROUP_CONCAT(a ORDER BY a SEPARATOR ',') FROM t", "", 5},
		"window-named":      {"SELECT ROW_NUMBER() OVER w FROM t WINDOW w AS (ORDER BY a)", "", 5},
		"lag":               {"SELECT LAG(a, 1) OVER (ORDER BY a) FROM t", "", 5},
		"regexp":            {"SELECT REGEXP_REPLACE(a, 'x', 'y'), a REGEXP 'z' FROM t", "", 5},
		"date-funcs":        {"SELECT DATE_ADD(d, INTERVAL 1 DAY), EXTRACT(YEAR FROM d), TIMESTAMPDIFF(DAY, d, NOW()), STR_TO_DATE('2024', '%Y') FROM t", "", 5},
		"string-funcs":      {"SELECT TRIM(a), SUBSTRING(a, 2), LOCATE('x', a), CONCAT_WS('-', a, b), UPPER(a), COALESCE(a, b), IFNULL(a, 0), IF(a, 1, 2) FROM t", "", 5},
		"convert":           {"SELECT CONVERT(a, CHAR), CONVERT(a USING utf8mb4), CAST(a AS SIGNED), _utf8mb4'x' COLLATE utf8mb4_bin FROM t", "", 5},
		"exists-not":        {"SELECT * FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.id = t.id)", "", 5},
		"index-hints":       {"SELECT * FROM t USE INDEX (i) IGNORE INDEX (j)", "", 5},
		"limit-zero":        {"SELECT a FROM t LIMIT 0", "select `a` from `t` limit 0", 0},
		"json-ops":          {"SELECT JSON_EXTRACT(doc, '$.a'), JSON_OBJECT('k', a), JSON_ARRAYAGG(a) FROM t", "", 5},
	}
	g := newGuard(t, Policy{MaxRows: 5})
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := g.Check(c.sql)
			if err != nil {
				t.Fatalf("refused %q: %v", c.sql, err)
			}
			if c.want != "" && st.SQL != c.want {
				t.Errorf("sent %q, want %q", st.SQL, c.want)
			}
			if st.Limit != c.limit {
				t.Errorf("Limit %d, want %d", st.Limit, c.limit)
			}
			if got := reparseOuterLimit(t, st.SQL); got != c.limit {
				t.Errorf("sent outer LIMIT %d, want %d", got, c.limit)
			}
			// The sent statement is a fixed point of the guard.
			again, err := g.Check(st.SQL)
			if err != nil || again.SQL != st.SQL {
				t.Errorf("re-checking %q gives %q, %v", st.SQL, again.SQL, err)
			}
		})
	}
}

func TestPolicySwitches(t *testing.T) {
	cases := map[string]struct {
		policy Policy
		sql    string
		kind   Kind
		refuse string // empty: accepted
	}{
		"schema-allowed":       {Policy{AllowSystemSchemas: true}, "SELECT user FROM mysql.user", KindSelect, ""},
		"is-allowed":           {Policy{AllowSystemSchemas: true}, "SELECT * FROM information_schema.tables", KindSelect, ""},
		"sysvar-allowed":       {Policy{AllowSystemSchemas: true}, "SELECT @@version", KindSelect, ""},
		"schema-still-sleep":   {Policy{AllowSystemSchemas: true}, "SELECT SLEEP(1) FROM mysql.user", "", "SLEEP"},
		"show-allowed":         {Policy{AllowShow: true}, "SHOW TABLES", KindShow, ""},
		"show-columns":         {Policy{AllowShow: true}, "SHOW COLUMNS FROM orders", KindShow, ""},
		"show-create":          {Policy{AllowShow: true}, "SHOW CREATE TABLE orders", KindShow, ""},
		"describe-allowed":     {Policy{AllowShow: true}, "DESCRIBE orders", KindDescribe, ""},
		"explain-allowed":      {Policy{AllowShow: true}, "EXPLAIN SELECT * FROM orders", KindExplain, ""},
		"describe-select":      {Policy{AllowShow: true}, "DESCRIBE SELECT * FROM orders", KindExplain, ""},
		"explain-analyze":      {Policy{AllowShow: true}, "EXPLAIN ANALYZE SELECT 1", "", "ANALYZE"},
		"explain-delete":       {Policy{AllowShow: true}, "EXPLAIN DELETE FROM orders", KindExplain, ""},
		"explain-update-sleep": {Policy{AllowShow: true}, "EXPLAIN UPDATE orders SET total = SLEEP(1)", "", "SLEEP"},
		"explain-insert-mysql": {Policy{AllowShow: true}, "EXPLAIN INSERT INTO t SELECT * FROM mysql.user", "", "mysql"},
		"values-allowed":       {Policy{AllowShow: true}, "VALUES ROW(1, 2), ROW(3, 4)", KindValues, ""},
		"values-policy":        {Policy{}, "VALUES ROW(1, 2), ROW(3, 4)", "", "VALUES statement is not allowed by the policy"},
		"values-derived":       {Policy{}, "SELECT * FROM (VALUES ROW(1, 2)) AS v", KindSelect, ""},
		"values-union":         {Policy{}, "SELECT 1, 2 UNION VALUES ROW(3, 4)", KindUnion, ""},
		"values-mysql":         {Policy{AllowShow: true, Dialect: Dialect{Flavor: MySQL, Major: 8}}, "VALUES ROW(1, 2)", KindValues, ""},
		"values-mariadb":       {Policy{AllowShow: true, Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}, "VALUES ROW(1, 2)", "", "MariaDB 10.11 does not have it"},
		"values-mariadb-sub":   {Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}, "SELECT * FROM (VALUES ROW(1, 2)) AS v", "", "MariaDB 10.11 does not have it"},
		"grouping-rollup":      {Policy{}, "SELECT category, GROUPING(category) AS g, SUM(price) FROM products GROUP BY category WITH ROLLUP", KindSelect, ""},
		"grouping-mysql":       {Policy{Dialect: Dialect{Flavor: MySQL, Major: 8}}, "SELECT category, GROUPING(category) AS g FROM products GROUP BY category WITH ROLLUP", KindSelect, ""},
		"grouping-mariadb":     {Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}, "SELECT category, GROUPING(category) AS g FROM products GROUP BY category WITH ROLLUP", "", "GROUPING is not a built-in function of MariaDB 10.11"},
		"rollup-mariadb":       {Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}, "SELECT category, SUM(price) FROM products GROUP BY category WITH ROLLUP", KindSelect, ""},
		"values-sleep":         {Policy{AllowShow: true}, "VALUES ROW(SLEEP(1))", "", "SLEEP"},
		"explain-sleep":        {Policy{AllowShow: true}, "EXPLAIN SELECT SLEEP(1)", "", "SLEEP"},
		"show-mysql-tables":    {Policy{AllowShow: true}, "SHOW TABLES FROM mysql", "", "mysql"},
		"describe-mysql":       {Policy{AllowShow: true}, "DESCRIBE mysql.user", "", "mysql"},
		"show-variables":       {Policy{AllowShow: true}, "SHOW VARIABLES", "", "server state"},
		"show-processlist":     {Policy{AllowShow: true}, "SHOW PROCESSLIST", "", "server state"},
		"show-variables-both":  {Policy{AllowShow: true, AllowSystemSchemas: true}, "SHOW VARIABLES LIKE 'x'", KindShow, ""},
		"show-mysql-both":      {Policy{AllowShow: true, AllowSystemSchemas: true}, "SHOW TABLES FROM mysql", KindShow, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st, err := newGuard(t, c.policy).Check(c.sql)
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("want a refusal naming %q, got %q, %v", c.refuse, st.SQL, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if st.Kind != c.kind {
				t.Errorf("kind %q, want %q (%q)", st.Kind, c.kind, st.SQL)
			}
		})
	}
}

// With both switches on, every policy-show and policy-schema line of the
// reject sample is accepted: they are refused by policy, not by nature.
func TestCorpusPolicyCategoriesAllowed(t *testing.T) {
	rows, err := corpus.LoadReject()
	if err != nil {
		t.Fatal(err)
	}
	g := newGuard(t, Policy{AllowShow: true, AllowSystemSchemas: true})
	for _, r := range rows {
		if r.Category != "policy-show" && r.Category != "policy-schema" {
			continue
		}
		if st, err := g.Check(r.SQL); err != nil {
			t.Errorf("%s: %q refused with both policy switches on: %v", r.ID, r.SQL, err)
		} else {
			t.Logf("%s: %s", r.ID, st.SQL)
		}
	}
}

// Inputs on which vitess' parser panics are refused, never a crash.
func TestParserPanicIsRefused(t *testing.T) {
	_, err := newGuard(t, Policy{}).Check("SELECT 0 INTO````FILE'0'")
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != result.CompilationError {
		t.Fatalf("want a CompilationError, got %v", err)
	}
}

func TestRefusalMessagesDoNotEchoSQL(t *testing.T) {
	secret := "password_" + strings.Repeat("x", 40)
	g := newGuard(t, Policy{})
	for _, sql := range []string{
		"SELECT SLEEP(1), '" + secret + "'",
		"INSERT INTO t VALUES ('" + secret + "')",
		"SELECT '" + secret + "' INTO OUTFILE '/tmp/x'",
	} {
		_, err := g.Check(sql)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Check(%q) = %v", sql, err)
		}
	}
}

func ExampleGuard_Check() {
	g, _ := New(Policy{MaxRows: 100})
	st, err := g.Check("SELECT id FROM orders /* report */ ORDER BY id LIMIT 5000")
	fmt.Println(st.SQL, err)
	_, err = g.Check("SELECT id FROM orders WHERE SLEEP(5) = 0")
	fmt.Println(err)
	// Output:
	// select `id` from `orders` order by `id` asc limit 100 <nil>
	// function SLEEP sleeps
}
