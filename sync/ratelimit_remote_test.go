package sync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
)

// TestRemoteVendorRateLimits: the whole path, a remote engine's lifecycle call to
// a vendor that rate-limits: the vendor answers the first call 429 with Retry-After 300;
// it is asked nothing more for five minutes (the rest of the batch given back untried),
// then gets every propagation.
func TestRemoteVendorRateLimits(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		var mu gosync.Mutex
		calls, limited := 0, true
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			w.Header().Set("Content-Type", "application/json")
			if limited {
				w.Header().Set("Retry-After", "300")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"stat":"FAIL","code":42901,"message":"Too Many Requests"}`)
				return
			}
			fmt.Fprint(w, `{"stat":"OK","response":{}}`)
		}))
		t.Cleanup(srv.Close)
		e, err := remote.New(remote.Options{Webhook: &remote.Webhook{URLs: []string{srv.URL}, Lifecycle: map[string][]remote.LifecycleStep{
			"user.create": {{Name: "add", Resource: remote.Resource{Suffix: "/admin/v1/users"}}}}},
			Provider: "duoadmin", Store: testdb.SQLite(t), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		q.Propagators = []provider.LifecyclePropagator{e}
		var evs []provider.LifecycleEvent
		for i, name := range []string{"alice", "bob", "carol"} {
			evs = append(evs, ev(fmt.Sprint(i), provider.EventUserCreate, name, clk.Now().Add(-time.Minute)))
		}
		if _, err := q.Enqueue(ctx, evs); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		clk.Advance(4 * time.Minute)
		drain(t, q)
		mu.Lock()
		if calls != 1 {
			t.Errorf("the vendor was called %d times within its Retry-After, want once", calls)
		}
		limited = false
		mu.Unlock()
		clk.Advance(time.Minute)
		drain(t, q)
		done, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("duoadmin"), State: store.QueueDone, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(done) != 3 {
			t.Errorf("%d propagations done once the vendor's wait passed, want 3", len(done))
		}
	})
}
