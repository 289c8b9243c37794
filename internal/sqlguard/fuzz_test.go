package sqlguard

import (
	"errors"
	"testing"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/codeexec/codeexec-operator/internal/result"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

// FuzzGuard checks that the guard never panics and that whatever it accepts
// re-parses as exactly one SELECT or UNION whose outer LIMIT is a literal at
// most maxRows, passes the guard again and is then sent as exactly the same
// text (the round trip, by construction). Seeds: the shared corpus
// and testdata/fuzz/FuzzGuard (inputs found interesting while building it).
// Hangs are caught by go test's -timeout; the size and nesting bounds keep
// every input small. Run it with
//
//	go test -run '^$' -fuzz FuzzGuard -fuzztime 5m -fuzzminimizetime 1x ./internal/sqlguard/
//
// (minimizing every new interesting input, the default, stalls the loop for
// long stretches on a loaded machine).
func FuzzGuard(f *testing.F) {
	repanic = true
	if acc, err := corpus.LoadAccept(); err == nil {
		for _, r := range acc {
			f.Add(r.SQL, uint16(1000))
		}
	}
	if rej, err := corpus.LoadReject(); err == nil {
		for _, r := range rej {
			f.Add(r.SQL, uint16(1000))
		}
	}
	p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: mysqlVersion})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sql string, maxRows uint16) {
		if maxRows == 0 {
			maxRows = 1
		}
		g := newGuard(t, Policy{MaxRows: uint64(maxRows), MaxBytes: 4096})
		regen := newGuard(t, Policy{MaxRows: uint64(maxRows), MaxBytes: 1 << 20, MaxTokens: 1 << 20})
		st, err := g.Check(sql)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %T is not a *Refusal: %v", err, err)
			}
			if ref.Reason != result.SecurityViolation && ref.Reason != result.CompilationError {
				t.Fatalf("reason %q", ref.Reason)
			}
			return
		}
		stmts, err := p.ParseMultiple(st.SQL)
		if err != nil || len(stmts) != 1 {
			t.Fatalf("accepted %q, sent %q, which does not re-parse as one statement: %v", sql, st.SQL, err)
		}
		var lim *sqlparser.Limit
		switch s := stmts[0].(type) {
		case *sqlparser.Select:
			lim = s.Limit
		case *sqlparser.Union:
			lim = s.Limit
		case *sqlparser.ValuesStatement:
			lim = s.Limit
		default:
			t.Fatalf("accepted %q, sent %q, which re-parses as %T", sql, st.SQL, s)
		}
		if lim == nil {
			t.Fatalf("accepted %q, sent %q without an outer LIMIT", sql, st.SQL)
		}
		n, err := limitValue(lim.Rowcount)
		if err != nil || n > uint64(maxRows) || n != st.Limit {
			t.Fatalf("accepted %q, sent %q: outer LIMIT %d (Limit %d, max %d, %v)", sql, st.SQL, n, st.Limit, maxRows, err)
		}
		// Round trip: what was sent passes the guard again and is sent as
		// exactly the same text, with the same outer LIMIT.
		// (The printed text may be longer than the input: escapes.)
		again, err := regen.Check(st.SQL)
		if err != nil || again.Limit != st.Limit || again.SQL != st.SQL {
			t.Fatalf("accepted %q, sent %q, which the guard then turns into %q, %v", sql, st.SQL, again.SQL, err)
		}
		// Every function the sent text calls is a built-in on the list.
		for _, f := range st.Functions {
			if !(Dialect{}).IsBuiltin(f) {
				t.Fatalf("accepted %q, sent %q, calling %s", sql, st.SQL, f)
			}
		}
	})
}
