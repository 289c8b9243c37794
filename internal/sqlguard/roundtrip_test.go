package sqlguard

import (
	"fmt"
	"testing"

	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

// TestRoundTripShortcutMatchesFullPass checks that skipping the second
// guard pass and the second printing when the tree parsed again equals the
// checked tree (roundTrip) changes nothing: over the shared corpus, under
// several policies, Check gives exactly the same statement or the same
// refusal with the shortcut as with the full second pass, and the shortcut
// is taken for most accepted statements (else it is not being tested).
func TestRoundTripShortcutMatchesFullPass(t *testing.T) {
	acc, err := corpus.LoadAccept()
	if err != nil {
		t.Fatal(err)
	}
	rej, err := corpus.LoadReject()
	if err != nil {
		t.Fatal(err)
	}
	var sqls []string
	for _, r := range acc {
		sqls = append(sqls, r.SQL)
	}
	for _, r := range rej {
		sqls = append(sqls, r.SQL)
	}
	sqls = append(sqls,
		"SELECT GET_FORMAT(DATE, 'EUR') /* c */ FROM t LIMIT 5000",
		"SELECT /*+ SET_VAR(sort_buffer_size = 16M) */ a FROM t LIMIT 3, 10",
		"SELECT a FROM t UNION SELECT b FROM u LIMIT 2000",
		"VALUES ROW(1, 'a'), ROW(2, 'b')",
		"SHOW TABLES", "DESCRIBE t", "EXPLAIN SELECT * FROM t",
		// vitess prints this without the parentheses it needs: the tree
		// parsed again differs, the full pass refuses it, and so must
		// Check with the shortcut (found by FuzzGuard).
		"SELECT * FROM orders WHERE (customer_id< status) IN ((1, 'shipped'), (2, 'pending'))",
	)
	defer func() { roundTripFullPass = false }()
	shortcut, accepted := 0, 0
	for _, p := range []Policy{{MaxRows: 1000}, {MaxRows: 7, AllowShow: true}, {AllowShow: true, AllowSystemSchemas: true, Dialect: Dialect{}}} {
		g := newGuard(t, p)
		for _, sql := range sqls {
			roundTripFullPass = false
			fast, fastErr := g.Check(sql)
			roundTripFullPass = true
			full, fullErr := g.Check(sql)
			if fmt.Sprintf("%#v %v", fast, fastErr) != fmt.Sprintf("%#v %v", full, fullErr) {
				t.Errorf("%q under %+v: with the shortcut %#v, %v; with the full pass %#v, %v", sql, p, fast, fastErr, full, fullErr)
			}
			if fastErr != nil {
				continue
			}
			accepted++
			// Was the shortcut taken? Redo Check's first half by hand.
			tree, err := g.parser.Parse(sql)
			if err != nil {
				t.Fatalf("%q: %v", sql, err)
			}
			if _, err := g.checkStatement(tree, sql); err != nil {
				t.Fatalf("%q: %v", sql, err)
			}
			again, err := g.parser.Parse(fast.SQL)
			if err != nil {
				t.Fatalf("%q: %v", fast.SQL, err)
			}
			if sameTree(tree, again) {
				shortcut++
			}
		}
	}
	t.Logf("%d accepted, %d through the shortcut", accepted, shortcut)
	if accepted == 0 || shortcut*2 < accepted {
		t.Fatalf("the shortcut was taken for %d of %d accepted statements", shortcut, accepted)
	}
}
