package adapter

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestAuditSubMillisecondBounds: the audit trail keeps times to the millisecond
// and shows them so (10:00:00.000Z), but GET /audit takes since and until to the
// nanosecond, and the store truncated both to the millisecond below: until=10:00:00.0005Z
// left out the event shown at 10:00:00.000Z, which is before it, and since=10:00:00.0005Z
// took it in, though it is before that too. Both bounds are now rounded up, so an event
// is listed exactly when the time it is shown with is in [since, until).
func TestAuditSubMillisecondBounds(t *testing.T) {
	stores := map[string]func(testing.TB) store.Store{"sqlite": func(tb testing.TB) store.Store { return testdb.SQLite(tb) }}
	if os.Getenv("EMFA_TEST_POSTGRES_DSN") != "" {
		stores["postgres"] = testdb.Postgres
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			h := newAdminHarnessOn(t, open(t))
			at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
			ctx := context.Background()
			if err := h.store.Update(ctx, func(w store.Writer) error {
				return w.AppendAudit(ctx, store.AuditEvent{Time: at, Username: "zed", Resource: "admin.users.create", Outcome: "SUCCESS", Actor: "cli"})
			}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				query string
				want  int
			}{
				{"until=2026-06-01T10:00:00.0005Z", 1},
				{"until=2026-06-01T10:00:00.000000001Z", 1},
				{"until=2026-06-01T10:00:00Z", 0},
				{"since=2026-06-01T10:00:00.0005Z", 0},
				{"since=2026-06-01T10:00:00Z", 1},
				{"since=2026-06-01T09:59:59.9995Z&until=2026-06-01T10:00:00.0001Z", 1},
			} {
				code, out := h.admin(t, h.read, "GET", AdminPrefix+"/audit?user=zed&"+tc.query, "")
				if events, _ := out["events"].([]any); code != http.StatusOK || len(events) != tc.want {
					t.Errorf("%s, an event at 10:00:00.000Z: %d %v, want %d events", tc.query, code, out, tc.want)
				}
			}
		})
	}
}
