// Command bench-sqlguard times the SQL guard over the accept corpus and
// prints the median time per query in nanoseconds (hack/bench-sqlguard.sh
// compares it with the seed's sqlglot guard). It asserts nothing.
//
// For each query it repeats batches of calls until a batch lasts at least
// -min-batch, keeps the median of -reps batch means, then prints the median
// over all queries.
//
// With -parse-only it times, for each query, only the two vitess parses
// Check makes (the query, then the statement it sends): the floor of
// Check's time with the round trip, whatever the guard itself costs.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"vitess.io/vitess/go/vt/sqlparser"

	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
)

func main() {
	reps := flag.Int("reps", 7, "batches per query")
	minBatch := flag.Duration("min-batch", 2*time.Millisecond, "shortest batch")
	parseOnly := flag.Bool("parse-only", false, "time only the two parses of each query's round trip")
	flag.Parse()
	rows, err := corpus.LoadAccept()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sqlguard:", err)
		os.Exit(1)
	}
	g, err := sqlguard.New(sqlguard.Policy{MaxRows: 1000})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sqlguard:", err)
		os.Exit(1)
	}
	// The grammar version sqlguard parses with (its mysqlVersion).
	parser, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: "8.0.40"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sqlguard:", err)
		os.Exit(1)
	}
	var perQuery []float64
	accepted := 0
	for _, r := range rows {
		call := func() { _, _ = g.Check(r.SQL) }
		st, err := g.Check(r.SQL)
		if err == nil {
			accepted++
			if *parseOnly {
				call = func() {
					_, _ = parser.ParseMultiple(r.SQL)
					_, _ = parser.Parse(st.SQL)
				}
			}
		}
		n := 1
		for {
			start := time.Now()
			for i := 0; i < n; i++ {
				call()
			}
			if time.Since(start) >= *minBatch {
				break
			}
			n *= 2
		}
		var batches []float64
		for range *reps {
			start := time.Now()
			for i := 0; i < n; i++ {
				call()
			}
			batches = append(batches, float64(time.Since(start).Nanoseconds())/float64(n))
		}
		perQuery = append(perQuery, median(batches))
	}
	fmt.Printf("queries=%d accepted=%d median_ns=%.0f\n", len(rows), accepted, median(perQuery))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
