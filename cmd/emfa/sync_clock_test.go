package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// aheadStore is a store whose clock every process shares, as PostgreSQL's, to which this
// process's clock is ahead by ahead (store.SharedClock).
type aheadStore struct {
	*sqlite.Store
	ahead time.Duration
}

func (s aheadStore) ClockAhead() time.Duration { return s.ahead }

// TestSyncPendingOnSkewedMachine: `emfa sync pending` says whether an event waits on its
// backoff by the clock the queue dated it by (the database's, on PostgreSQL), not the
// machine's: run on a machine 10 minutes ahead of the database, an event backing off 2
// minutes more is "backoff", with its next attempt; run on one 10 minutes behind, one due
// a minute ago is "queued", its turn. Before, the first said "queued" and the second
// "backoff", due in 9 minutes.
func TestSyncPendingOnSkewedMachine(t *testing.T) {
	ctx := t.Context()
	db := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) // the database's clock now
	for _, c := range []struct {
		ahead time.Duration
		next  time.Duration // the event's next attempt, from the database's now
		want  string
	}{{10 * time.Minute, 2 * time.Minute, "backoff"}, {-10 * time.Minute, -time.Minute, "queued"}} {
		st, err := sqlite.Open(ctx, "file:"+filepath.Join(t.TempDir(), "emfa.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ev := store.QueuedEvent{Source: "okta", EventID: "e1", Key: "user:alice", Type: provider.EventUserDisable, Time: db.Add(-time.Hour), Body: []byte(`{}`),
			CreatedAt: db.Add(-time.Hour)}
		if _, err := st.EnqueueEvents(ctx, []store.QueuedEvent{ev}, db.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		evs, err := st.ClaimEvents(ctx, "w", 1, db.Add(-time.Hour), db.Add(-time.Hour).Add(time.Minute), db)
		if err != nil || len(evs) != 1 {
			t.Fatalf("claimed %d, %v", len(evs), err)
		}
		if err := st.FinishEvent(ctx, evs[0].Seq, "w", store.QueuePending, "vendor down", false, db.Add(c.next), db.Add(c.next-time.Minute)); err != nil {
			t.Fatal(err)
		}
		local := db.Add(c.ahead)
		clock := func() time.Time { return local }
		var out bytes.Buffer
		d := &deps{stdout: &out, now: clock}
		e := &env{cfg: &config.Config{}, store: aheadStore{st, c.ahead}, now: clock}
		if err := d.listEvents(ctx, e, store.QueuePending, eventListOptions{asJSON: true}); err != nil {
			t.Fatal(err)
		}
		var v struct{ Waiting string }
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if v.Waiting != c.want {
			t.Errorf("on a machine %s ahead of the database, an event due at %s by the database's clock waits for %q, want %q",
				c.ahead, c.next, v.Waiting, c.want)
		}
	}
}
