package sqlguard

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// Attack review 4 (atk-sql). Helpers build the inputs; each test says what
// the reviewed commit did with them and asserts the safe behaviour.

// combPolygons returns two literal comb polygons with n teeth each whose
// teeth cross (n*n crossings): MariaDB's Gcalc set operations on them take
// super-cubic time (measured on MariaDB 10.11.19: n=50 0.7 s, n=100 2.6 s,
// n=200 25 s) and see neither max_statement_time nor KILL QUERY (n=200 ran
// 27 s under max_statement_time=2 and returned its result; after a KILL
// QUERY at 2 s the thread stayed listed 33 s more).
func combPolygons(n int) (a, b string) {
	var pa, pb []string
	for i := 0; i < n; i++ {
		x := 2 * i
		pa = append(pa, fmt.Sprintf("%d 0,%d 100,%d 100,%d 1", x, x, x+1, x+1))
		y0 := float64(2*i)*100/float64(2*n) + 0.01
		y1 := float64(2*i+1)*100/float64(2*n) + 0.01
		pb = append(pb, fmt.Sprintf("-5 %g,%d %g,%d %g,-4 %g", y0, 2*n+5, y0, 2*n+5, y1, y1))
	}
	pa = append(pa, fmt.Sprintf("%d 1,%d -1,0 -1,0 0", 2*n, 2*n))
	pb = append(pb, "-4 101,-6 101,-6 0.01,-5 0.01")
	return "POLYGON((" + strings.Join(pa, ",") + "))", "POLYGON((" + strings.Join(pb, ",") + "))"
}

// spatialSetOp builds fn(a, b) over the two comb polygons.
func spatialSetOp(fn string, n int) string {
	a, b := combPolygons(n)
	return "SELECT " + fn + "(ST_GeomFromText('" + a + "'), ST_GeomFromText('" + b + "')) IS NULL AS x"
}

// TestAttackReview4SpatialSetOps: spatial set operations and buffers over
// literal geometries of thousands of vertices are accepted (no bound on
// geometry work at all); each is an unkillable server thread for minutes
// to hours with a statement of 13-60 kB, under every input bound.
func TestAttackReview4SpatialSetOps(t *testing.T) {
	var cases []string
	for _, fn := range []string{"ST_UNION", "ST_INTERSECTION", "ST_DIFFERENCE", "ST_SYMDIFFERENCE"} {
		cases = append(cases, spatialSetOp(fn, 200))
	}
	// A zigzag line of 6 000 vertices buffered (n=400: 1.7 s, quadratic).
	var pts []string
	for i := 0; i < 6000; i++ {
		pts = append(pts, fmt.Sprintf("%d %d", 100*(i%2), i))
	}
	cases = append(cases, "SELECT ST_AREA(ST_BUFFER(ST_GeomFromText('LINESTRING("+strings.Join(pts, ",")+")'), 50)) AS x")
	// Overlapping circles: a MULTIPOINT of n points buffered (n=500 8 s,
	// n=1000 26 s, 6 kB of SQL); here 4 000 points, and the MariaDB alias.
	var mp []string
	for i := 0; i < 4000; i++ {
		mp = append(mp, fmt.Sprintf("%d %d", i%50, i/50))
	}
	cases = append(cases,
		"SELECT ST_AREA(ST_BUFFER(ST_GeomFromText('MULTIPOINT("+strings.Join(mp, ",")+")'), 3)) AS x",
		"SELECT AREA(BUFFER(GEOMFROMTEXT('MULTIPOINT("+strings.Join(mp, ",")+")'), 3)) AS x",
		// Geometry text built by allowed string functions.
		"SELECT ST_AREA(ST_BUFFER(ST_GeomFromText(CONCAT('MULTIPOINT(', REPEAT('1 1,', 2500), '1 1)')), 3)) AS x")
	for _, c := range cases {
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err == nil {
			t.Errorf("accepted an unbounded spatial operation (%d bytes): %s...", len(c), c[:40])
		}
	}
}

// compressBomb returns, as a hex literal, what MariaDB's COMPRESS makes of
// n bytes of '1': a 4-byte little-endian length and a zlib stream (about
// 1 000:1; 8 MB is an 8 kB literal).
func compressBomb(n int) string {
	var b bytes.Buffer
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(n))
	b.Write(l[:])
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	chunk := bytes.Repeat([]byte("1"), 1<<20)
	for left := n; left > 0; left -= len(chunk) {
		_, _ = w.Write(chunk[:min(left, len(chunk))])
	}
	_ = w.Close()
	return "X'" + hex.EncodeToString(b.Bytes()) + "'"
}

// uncompressMany is k calls of UNCOMPRESS over one derived-table column
// holding an n-byte compression bomb.
func uncompressMany(n, k int) string {
	return "SELECT " + strings.Repeat("LENGTH(UNCOMPRESS(b))+", k-1) + "LENGTH(UNCOMPRESS(b)) AS n FROM (SELECT " +
		compressBomb(n) + " AS b) AS t"
}

// TestAttackReview4UncompressMemory: UNCOMPRESS is "opaque by design" in
// the bounds, yet every call of it is accepted where its output is not
// searched by a pattern function. Each call inflates up to
// max_allowed_packet (16 MB by default) and MariaDB keeps every item's
// buffer until the statement ends, with no kill check between the items
// of an expression: measured on MariaDB 10.11.19 with an 8 MB bomb, 60
// calls took 9 s and 450 MB of server RSS, ignored max_statement_time=2
// and a KILL QUERY at 3 s, and returned their result at 12 s. The 60 kB
// statement below (2 000 calls, 8 MB each) asks the server for about
// 16 GB and 5 minutes of one thread it cannot interrupt: an out-of-memory
// kill of mariadbd takes down every tenant of the datasource.
func TestAttackReview4UncompressMemory(t *testing.T) {
	for _, c := range []string{
		uncompressMany(8<<20, 2000),
		// The same through a CTE and with the bomb in the select list.
		"WITH t AS (SELECT " + compressBomb(8<<20) + " AS b) SELECT " +
			strings.Repeat("CRC32(UNCOMPRESS(b))+", 999) + "CRC32(UNCOMPRESS(b)) AS n FROM t",
	} {
		if len(c) > DefaultMaxBytes {
			t.Fatalf("test input %d bytes, over the input bound", len(c))
		}
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err == nil {
			t.Errorf("accepted %d UNCOMPRESS calls of an 8 MB compression bomb (%d bytes of SQL)", strings.Count(c, "UNCOMPRESS("), len(c))
		}
	}
}

// TestAttackReview4BinaryChainGuardTime: calledFuncs printed the whole
// subtree of every function node (printFast) to read its name, so a chain
// of nested function nodes cost the guard quadratic time. MaxDepth bounds
// parentheses, but BINARY x is a ConvertExpr written without any: 8 000 of
// them (56 kB, 8 002 tokens, the default Policy) kept Check busy 25.6 s on
// the reviewed commit (2 000: 1.8 s; 4 000: 5.1 s); the executor checks
// twice. Asserted without a clock: the bytes Check allocates grow linearly
// with the chain (4 times the chain, at most 6 times the bytes; the
// quadratic printing allocated 16 times as much, about 1 GB at 8 000).
func TestAttackReview4BinaryChainGuardTime(t *testing.T) {
	alloc := func(n int) uint64 {
		q := "SELECT " + strings.Repeat("BINARY ", n) + "'a'"
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Check(q, Policy{})
		runtime.ReadMemStats(&after)
		t.Logf("%d nested BINARY: %v, %d bytes allocated", n, err, after.TotalAlloc-before.TotalAlloc)
		return after.TotalAlloc - before.TotalAlloc
	}
	_ = alloc(100) // one-time initialisation outside the measurement
	small, large := alloc(2000), alloc(8000)
	if large > 6*small {
		t.Errorf("Check of 8 000 nested BINARY allocated %d bytes, %.1f times the %d of 2 000: the guard's work grows faster than the statement", large, float64(large)/float64(small), small)
	}
}

// xpathNested builds EXTRACTVALUE over <a> with n empty <b/> children and
// an XPath whose predicates nest k counts of /a/b: child steps only (no
// descendant step), each level multiplies the work by n, n^(k+1) in all.
func xpathNested(fn string, n, k int) string {
	p := "count(/a/b) = 0"
	for i := 1; i < k; i++ {
		p = "count(/a/b[" + p + "]) = 0"
	}
	doc := "<a>" + strings.Repeat("<b/>", n) + "</a>"
	if fn == "UPDATEXML" {
		return "SELECT LENGTH(UPDATEXML('" + doc + "', '/a/b[" + p + "]', '<c/>')) AS x"
	}
	return "SELECT LENGTH(EXTRACTVALUE('" + doc + "', '/a/b[" + p + "]')) AS x"
}

// TestAttackReview4XPathNestedPredicates: the XPath bound counts
// descendant steps only. Nested predicates over child steps are
// polynomial of any degree: measured on MariaDB 10.11.19 with k=3,
// n=50 0.1 s, n=100 0.9 s, n=200 12.9 s (n^4), and MariaDB's XPath
// evaluator ignores max_statement_time and KILL QUERY (a quadratic
// '/a/b[count(/a/b) = 0]' killed at 3 s ran on to 48 s). The document
// below is 4 007 characters, under MaxPatternLength: k=3 is about two
// hours of one server thread, k=4 far more.
func TestAttackReview4XPathNestedPredicates(t *testing.T) {
	for _, c := range []string{
		xpathNested("EXTRACTVALUE", 1000, 3),
		xpathNested("UPDATEXML", 1000, 4),
		xpathNested("EXTRACTVALUE", 200, 3),
	} {
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err == nil {
			t.Errorf("accepted an XPath with nested predicates (%d bytes): ...%s", len(c), c[len(c)-80:])
		}
	}
}

// The refusals name the function and say why, on both dialects.
func TestAttackReview4RefusalMessages(t *testing.T) {
	for _, d := range []Dialect{{Flavor: MariaDB, Major: 10, Minor: 11}, {Flavor: MySQL, Major: 8}, {}} {
		for fn, call := range map[string]string{
			"ST_UNION":         "ST_UNION(POINT(1, 1), POINT(2, 2))",
			"ST_INTERSECTION":  "ST_INTERSECTION(POINT(1, 1), POINT(2, 2))",
			"ST_DIFFERENCE":    "ST_DIFFERENCE(POINT(1, 1), POINT(2, 2))",
			"ST_SYMDIFFERENCE": "ST_SYMDIFFERENCE(POINT(1, 1), POINT(2, 2))",
			"ST_BUFFER":        "ST_BUFFER(POINT(1, 1), 1)",
			"BUFFER":           "BUFFER(POINT(1, 1), 1)",
			"UNCOMPRESS":       "UNCOMPRESS(COMPRESS('a'))",
		} {
			_, err := Check("SELECT "+call+" IS NULL AS x", Policy{Dialect: d})
			if err == nil || !strings.Contains(err.Error(), "function "+fn+" ") ||
				!strings.Contains(err.Error(), "KILL") {
				t.Errorf("%s on %s: %v", fn, d, err)
			}
		}
		// The predicates and the convex hull (n log n) stay.
		for _, q := range []string{"SELECT ST_INTERSECTS(POINT(1, 1), POINT(2, 2)) AS x", "SELECT ST_CONVEXHULL(POINT(1, 1)) AS x"} {
			if _, err := Check(q, Policy{Dialect: d}); err != nil {
				t.Errorf("%s on %s: %v", q, d, err)
			}
		}
	}
}

// JSON_PRETTY and JSON_DETAILED were opaque like UNCOMPRESS: a 20 kB
// array 30 deep prints 2.4 MB (measured on MariaDB 10.11), so a thousand
// calls over one derived-table literal ask the server for gigabytes. Their
// output is now bounded (258 characters a byte of input) and checked
// against MaxBuiltLength; over table data they stay accepted.
func TestAttackReview4JSONPrettyBound(t *testing.T) {
	doc := strings.Repeat("[", 30) + strings.Repeat("1,", 10000) + "1" + strings.Repeat("]", 30)
	for _, c := range []string{
		"WITH t AS (SELECT '" + doc + "' AS b) SELECT " + strings.Repeat("LENGTH(JSON_DETAILED(b, 8))+", 99) + "LENGTH(JSON_DETAILED(b, 8)) AS n FROM t",
		"SELECT LENGTH(JSON_PRETTY(b)) AS n FROM (SELECT '" + doc + "' AS b) AS t",
	} {
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err == nil {
			t.Errorf("accepted JSON_PRETTY/JSON_DETAILED of a %d-byte document: %.60s", len(doc), c)
		}
	}
	for _, c := range []string{
		"SELECT JSON_PRETTY(name), JSON_DETAILED(name, 2) FROM customers",
		"SELECT JSON_DETAILED('{\"a\": [1, 2, {\"b\": null}]}')",
	} {
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}
