package sqlguard

import (
	"errors"
	"strings"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/result"
)

// TestValuesNoPanic: a VALUES clause panicked the guard in an earlier
// attack review (the input was lost with its branch). Table value
// constructors in every position the grammar has them, in queries and
// under EXPLAIN, are checked with our own panics re-raised.
func TestValuesNoPanic(t *testing.T) {
	repanic = true
	defer func() { repanic = false }()
	for _, q := range []string{
		"VALUES ROW(1)", "VALUES ROW()", "VALUES ROW(1), ROW(2) ORDER BY column_0",
		"SELECT * FROM (VALUES ROW(1)) t", "SELECT * FROM (VALUES ROW(1)) AS t(a)",
		"WITH c AS (VALUES ROW(1)) SELECT * FROM c", "WITH c(a) AS (VALUES ROW(1)) SELECT a FROM c",
		"VALUES ROW(1) UNION VALUES ROW(2)", "SELECT 1 UNION VALUES ROW(1)", "VALUES ROW(1) UNION SELECT 1",
		"(VALUES ROW(1)) UNION (VALUES ROW(2))", "SELECT (VALUES ROW(1))", "SELECT 1 WHERE 1 IN (VALUES ROW(1))",
		"SELECT EXISTS (VALUES ROW(1))", "VALUES ROW(1) LIMIT 1", "VALUES ROW((SELECT 1))",
		"SELECT * FROM (VALUES ROW(1) UNION VALUES ROW(2)) t", "SELECT * FROM (VALUES ROW('a') UNION SELECT REGEXP_REPLACE('a','a','b')) t",
		"SELECT LOCATE('a', x) FROM (VALUES ROW('a')) t(x)", "SELECT LOCATE('a', column_0) FROM (VALUES ROW('a')) t",
		"VALUES ROW(LOCATE('a','b'))", "SELECT * FROM (VALUES ROW(1), ROW(2)) t UNION SELECT * FROM (VALUES ROW(REPEAT('a',3))) u",
		"WITH RECURSIVE c AS (VALUES ROW(1) UNION ALL SELECT column_0+1 FROM c WHERE column_0 < 3) SELECT LOCATE('a', column_0) FROM c",
		"SELECT LOCATE('a', s) FROM (VALUES ROW(1) UNION SELECT 'x' AS s) t",
		"SELECT LOCATE('a', s) FROM (SELECT 'x' AS s UNION VALUES ROW(1)) t",
		"SELECT LOCATE('a', s) FROM (SELECT 'x' AS s UNION (VALUES ROW(1) UNION VALUES ROW(2))) t",
		"SELECT LOCATE('a', s) FROM (VALUES ROW(1) UNION VALUES ROW(2) UNION SELECT 'x' s) t",
		"EXPLAIN INSERT INTO t VALUES (REPEAT('a',3))",
		"EXPLAIN INSERT INTO t VALUES ROW(LOCATE('a','b'))",
		"EXPLAIN INSERT INTO t (a) VALUES (1) AS r ON DUPLICATE KEY UPDATE a = LOCATE('a', r.a)",
		"EXPLAIN INSERT INTO t SELECT LOCATE('a', x) FROM (VALUES ROW('a')) u(x)",
		"EXPLAIN INSERT INTO t VALUES ROW(1), ROW(2)",
		"EXPLAIN SELECT LOCATE('a', column_0) FROM (VALUES ROW('a')) t",
		"EXPLAIN VALUES ROW(LOCATE('a','b'))",
		"EXPLAIN INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)",
		"EXPLAIN INSERT INTO t (a) VALUES ROW(1) AS r(x) ON DUPLICATE KEY UPDATE a = REGEXP_REPLACE(r.x, 'a', 'b')",
		"EXPLAIN UPDATE t SET a = LOCATE('a', (SELECT column_0 FROM (VALUES ROW('x')) v))",
		"EXPLAIN INSERT INTO t VALUES (LOCATE('a', (VALUES ROW(1))))",
		"EXPLAIN INSERT INTO t VALUES ()",
		"EXPLAIN INSERT INTO t VALUES (), ()",
		"EXPLAIN INSERT INTO t () VALUES (REPEAT('a', 2))",
		"SELECT LOCATE('a', x) FROM (VALUES ROW()) t(x)",
		"SELECT LOCATE('a', x) FROM (VALUES ROW(1)) t(x, y)",
		"SELECT LOCATE('a', y) FROM (VALUES ROW(1)) t(x, y)",
		"WITH c(x, y) AS (VALUES ROW(1)) SELECT LOCATE('a', y) FROM c",
		"SELECT * FROM (VALUES ROW(1)) AS t(x) JOIN (VALUES ROW(LOCATE('a','b'))) u(y)",
	} {
		for _, p := range []Policy{{AllowShow: true}, {AllowShow: true, Dialect: Dialect{Flavor: MariaDB}}} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("panic on %s: %v", q, r)
					}
				}()
				_, _ = Check(q, p)
			}()
		}
	}
}

// TestGuardPanicIsRefusal: a panic in the guard's own code never escapes
// Check and never accepts: it is a SecurityViolation that says so.
func TestGuardPanicIsRefusal(t *testing.T) {
	checkHook = func(string) { panic("injected") }
	defer func() { checkHook = nil }()
	st, err := Check("SELECT 1", Policy{})
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != result.SecurityViolation || st.SQL != "" {
		t.Fatalf("got %+v, %v; want a SecurityViolation", st, err)
	}
	if want := "internal error"; !containsFold(ref.Message, want) {
		t.Errorf("message %q does not say %q", ref.Message, want)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
