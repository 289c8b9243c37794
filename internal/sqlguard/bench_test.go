package sqlguard

import (
	"testing"

	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

// BenchmarkGuardAccept times the guard over the whole accept corpus (one
// op = every query once). hack/bench-sqlguard.sh gives the per-query median
// against the seed's sqlglot guard.
func BenchmarkGuardAccept(b *testing.B) {
	rows, err := corpus.LoadAccept()
	if err != nil {
		b.Fatal(err)
	}
	g := newGuard(b, Policy{MaxRows: 1000})
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rows {
			if _, err := g.Check(r.SQL); err != nil {
				b.Fatal(err)
			}
		}
	}
}
