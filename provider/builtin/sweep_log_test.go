package builtin_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestSweepLogsTheAuditPurge: with an audit retention, a sweep deletes audit
// events, and its log line said how many transactions, sends, nonces, idempotency
// records, sessions and links it removed, but not how many audit events: a purge of the
// audit trail, the one deletion an auditor asks about, logged as a sweep of nothing
// ("transactions=0 sends=0 …"). The line says "audit=N" now.
func TestSweepLogsTheAuditPurge(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		for i, age := range []time.Duration{100 * 24 * time.Hour, 95 * 24 * time.Hour, time.Hour} {
			ev := store.AuditEvent{Time: clk.Now().Add(-age), RequestID: string(rune('a' + i)), Username: "alice", Outcome: "SUCCESS"}
			if err := st.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		rctx, cancel := context.WithCancel(ctx)
		s := &builtin.Sweeper{Store: st, Now: clk.Now, AuditRetention: 90 * 24 * time.Hour,
			Log: slog.New(slog.NewTextHandler(&buf, nil)), OnSweep: func(builtin.Swept, error) { cancel() }}
		s.Run(rctx, nil) // one sweep: OnSweep ends it
		if line := buf.String(); !strings.Contains(line, "msg=sweep") || !strings.Contains(line, "audit=2") {
			t.Errorf("log of a sweep that deleted 2 audit events: %q", line)
		}
	})
}
