package builtin_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestSendLimitsAcrossReplicas: the README promises send limits "atomically across
// replicas". Two engines, each on a store of its own (two connection pools, as two
// replicas have) over one PostgreSQL schema, are asked for codes at once, half each: no
// more go out than the per-user limit allows, summed over both.
func TestSendLimitsAcrossReplicas(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	open := func() store.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	stA, stB := open(), open()
	var c *engineConfig
	f := newEngineFixture(t, stA, func(cfg *engineConfig) {
		cfg.set("sendLimits.perUser", []any{map[string]any{"window": "1h", "max": 3}})
		c = cfg
	})
	b := newEngine(t, stB, f.clock.Now, c)
	id := f.enroll(t, "smsotp", "alice", "phone", "+15550100001").Factor.ID
	const n = 12
	var pending atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		e := f.engine
		if i%2 == 1 {
			e = b
		}
		wg.Go(func() {
			out, err := e.Initiate(context.Background(), provider.Request{Capability: "smsotp", ID: id, Username: "alice",
				Attributes: map[string]any{"username": "alice"}})
			if err != nil {
				t.Errorf("initiate: %v", err)
			}
			if out.Status == provider.StatusPending {
				pending.Add(1)
			}
		})
	}
	wg.Wait()
	if pending.Load() != 3 || f.sms.count() != 3 {
		t.Errorf("%d initiates on two replicas: %d PENDING, %d codes sent; want 3 and 3 (3 an hour per user)",
			n, pending.Load(), f.sms.count())
	}
}
