package sqlguard

import (
	"fmt"
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
	for _, c := range cases {
		if _, err := Check(c, Policy{Dialect: Dialect{Flavor: MariaDB, Major: 10, Minor: 11}}); err == nil {
			t.Errorf("accepted an unbounded spatial operation (%d bytes): %s...", len(c), c[:40])
		}
	}
}
