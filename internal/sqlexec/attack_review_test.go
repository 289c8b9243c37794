package sqlexec

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/codeexec/codeexec-operator/internal/sqlguard"
	"github.com/codeexec/codeexec-operator/internal/sqlguard/corpus"
	"github.com/codeexec/codeexec-operator/internal/testutil/mariadb"
)

// Attack review (atk-sql), on the real MariaDB: a pattern function over a
// string grown by an allowed function the bounds do not know (HEX) is
// accepted, runs past the time limit and is not stopped by the kills. The
// safe behaviour asserted: the guard refuses it before it reaches the
// server. What the server did is logged (elapsed, Unkillable, how long the
// thread stayed listed).
func TestAttackReview(t *testing.T) {
	schema, err := corpus.SchemaPath()
	if err != nil {
		t.Fatal(err)
	}
	srv := mariadb.Start(t, mariadb.Options{Schema: schema})
	admin := srv.Admin(t)
	t.Run("HexGrownPatternSubject", func(t *testing.T) { testHexGrownPatternSubject(t, srv, admin) })
}

func testHexGrownPatternSubject(t *testing.T, srv *mariadb.Server, admin *sql.DB) {
	// 40 000 characters, HEX three times: a 320 000-character subject with
	// 160 000 matches. The statement is 40 kB, under every input bound.
	code := "SELECT LENGTH(REGEXP_REPLACE(HEX(HEX(HEX('" + strings.Repeat("a", 40000) + "'))), '3', '33')) AS n"
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
	// How long the server keeps the thread (bounded: 90 s).
	for i := 0; i < 90; i++ {
		var n int
		var state sql.NullString
		if err := admin.QueryRow("SELECT COUNT(*), MAX(STATE) FROM information_schema.PROCESSLIST WHERE USER = ? AND INFO LIKE 'select length(regexp_replace%'", srv.ReadOnlyUser).Scan(&n, &state); err != nil {
			t.Logf("processlist: %v", err)
			return
		}
		if n == 0 {
			t.Logf("the server thread ended %v after the call started", time.Since(start).Round(time.Second))
			return
		}
		if i%10 == 0 {
			t.Logf("%v after the start: thread still listed, state %q", time.Since(start).Round(time.Second), state.String)
		}
		time.Sleep(time.Second)
	}
	t.Logf("the server thread still listed after %v; the server is stopped by the test cleanup", time.Since(start).Round(time.Second))
}
