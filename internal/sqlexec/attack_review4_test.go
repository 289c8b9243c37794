package sqlexec

import (
	"bytes"
	"compress/zlib"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

// Attack review 4 (atk-sql), on the real MariaDB.
func TestAttackReview4(t *testing.T) {
	schema, err := corpus.SchemaPath()
	if err != nil {
		t.Fatal(err)
	}
	srv := mariadb.Start(t, mariadb.Options{Schema: schema})
	admin := srv.Admin(t)
	t.Run("SpatialUnionUnkillable", func(t *testing.T) { testSpatialUnionUnkillable(t, srv, admin) })
	t.Run("UncompressMemory", func(t *testing.T) { testUncompressMemory(t, srv, admin) })
	t.Run("XPathNestedPredicates", func(t *testing.T) { testXPathNestedPredicates(t, srv, admin) })
}

// combUnion: ST_UNION of two literal comb polygons whose n teeth cross
// (n*n crossings; n=300 is 20 kB of SQL). MariaDB's Gcalc takes 15-25 s at n=200
// (n=100: 2.6 s; super-cubic) and checks neither max_statement_time nor
// KILL QUERY. The safe behaviour asserted: refused before it is sent.
func combUnion(n int) string {
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
	return "SELECT ST_UNION(ST_GeomFromText('POLYGON((" + strings.Join(pa, ",") + "))'), ST_GeomFromText('POLYGON((" +
		strings.Join(pb, ",") + "))')) IS NULL AS x"
}

func testSpatialUnionUnkillable(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	code := combUnion(300)
	start := time.Now()
	_, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, sqlguard.Policy{MaxRows: 10}, Options{Timeout: 2 * time.Second})
	elapsed := time.Since(start)
	var ref *sqlguard.Refusal
	if errors.As(err, &ref) {
		return // safe
	}
	var e *Error
	unkillable := errors.As(err, &e) && e.Unkillable
	t.Errorf("accepted and sent: after %v with a 2 s timeout: unkillable=%v err=%v", elapsed.Round(time.Second), unkillable, err)
	for i := 0; i < 90; i++ {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'select ST_UNION%'", srv.ReadOnlyUser).Scan(&n); err != nil {
			t.Logf("processlist: %v", err)
			return
		}
		if n == 0 {
			t.Logf("the server thread ended %v after the call started", time.Since(start).Round(time.Second))
			return
		}
		time.Sleep(time.Second)
	}
	t.Logf("the server thread still listed after %v", time.Since(start).Round(time.Second))
}

// uncompressBomb is MariaDB's COMPRESS of n bytes of '1' as a hex literal.
func uncompressBomb(n int) string {
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

func vmHWM(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

// 150 calls of UNCOMPRESS over one 8 MB compression bomb: MariaDB keeps
// each call's 8 MB buffer until the statement ends and checks no kill
// between them (1.2 GB and ~25 s here; 2 000 calls fit the input bound).
// The safe behaviour asserted: refused before it is sent. Logged: the
// server's peak RSS before and after, and how long the thread stayed.
func testUncompressMemory(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	code := "SELECT " + strings.Repeat("LENGTH(UNCOMPRESS(b))+", 149) + "LENGTH(UNCOMPRESS(b)) AS n FROM (SELECT " +
		uncompressBomb(8<<20) + " AS b) AS t"
	before := vmHWM(srv.PID)
	start := time.Now()
	_, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, sqlguard.Policy{MaxRows: 10}, Options{Timeout: 2 * time.Second})
	elapsed := time.Since(start)
	var ref *sqlguard.Refusal
	if errors.As(err, &ref) {
		return // safe
	}
	var e *Error
	unkillable := errors.As(err, &e) && e.Unkillable
	t.Errorf("accepted and sent (%d bytes): after %v with a 2 s timeout: unkillable=%v err=%v", len(code), elapsed.Round(time.Second), unkillable, err)
	for i := 0; i < 90; i++ {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'select length(uncompress%'", srv.ReadOnlyUser).Scan(&n); err != nil {
			t.Logf("processlist: %v", err)
			break
		}
		if n == 0 {
			t.Logf("the server thread ended %v after the call started", time.Since(start).Round(time.Second))
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("mariadbd peak RSS: %s before, %s after", before, vmHWM(srv.PID))
}

// EXTRACTVALUE over 250 <b/> with three nested count predicates (n^4,
// ~30 s; 13 s at n=200): the XPath evaluator checks no kill. The safe
// behaviour asserted: refused before it is sent.
func testXPathNestedPredicates(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	code := "SELECT LENGTH(EXTRACTVALUE('<a>" + strings.Repeat("<b/>", 250) +
		"</a>', '/a/b[count(/a/b[count(/a/b[count(/a/b) = 0]) = 0]) = 0]')) AS x"
	start := time.Now()
	_, err := ExecuteGuarded(context.Background(), srv.ReadOnlyDSN(), code, sqlguard.Policy{MaxRows: 10}, Options{Timeout: 2 * time.Second})
	elapsed := time.Since(start)
	var ref *sqlguard.Refusal
	if errors.As(err, &ref) {
		return // safe
	}
	var e *Error
	unkillable := errors.As(err, &e) && e.Unkillable
	t.Errorf("accepted and sent: after %v with a 2 s timeout: unkillable=%v err=%v", elapsed.Round(time.Second), unkillable, err)
	for i := 0; i < 90; i++ {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'select length(extractvalue%'", srv.ReadOnlyUser).Scan(&n); err != nil {
			t.Logf("processlist: %v", err)
			return
		}
		if n == 0 {
			t.Logf("the server thread ended %v after the call started", time.Since(start).Round(time.Second))
			return
		}
		time.Sleep(time.Second)
	}
	t.Logf("the server thread still listed after %v", time.Since(start).Round(time.Second))
}
