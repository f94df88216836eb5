package sync_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestAncientDatedEvent: an event dated before 1970 (an Okta published of
// 0000-01-01T00:00:00+01:00, a year before the year 1 in UTC) is ordered at its receipt,
// as one dated in the future is: kept as given, it was older than the zero time that
// stands for "no mark", and a brand-new user's create was skipped as "older than an event
// already applied".
func TestAncientDatedEvent(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, _ := newQueue(t, st)
		var logs bytes.Buffer
		q.Log = slog.New(slog.NewTextHandler(&logs, nil))
		for i, at := range []time.Time{
			time.Date(0, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)),
			time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Unix(-1, 0),
		} {
			name := []string{"ann", "bea", "cal"}[i]
			if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev(name, provider.EventUserCreate, name, at)}); err != nil {
				t.Fatal(err)
			}
			drain(t, q)
			if _, err := m.GetUser(ctx, name); err != nil {
				t.Errorf("a create dated %s: %v", at, err)
			}
		}
		if !strings.Contains(logs.String(), `level=WARN msg="sync event dated before 1970`) {
			t.Errorf("the log does not say the dates were replaced:\n%s", logs.String())
		}
	})
}
