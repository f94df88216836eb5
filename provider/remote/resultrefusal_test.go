package remote

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestResultRefusalIsTerminal: a poll refused FAILED because the provider has no
// result resource is terminal to Verify (contract §7): a later poll, past the deadline
// too, answers FAILED again, not TIMEOUT.
func TestResultRefusalIsTerminal(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			return 200, `{"status":"PENDING","transactionId":"vendor-tx"}`
		}
		return 200, `{"status":"SUCCESS"}`
	})
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start"},
	}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	out, err := e.Initiate(ctx, req("push", "", ""))
	if err != nil || out.Status != provider.StatusPending {
		t.Fatalf("initiate: %+v %v", out, err)
	}
	tx := out.TransactionID
	for i, advance := range []time.Duration{0, 0, 2 * time.Minute} {
		mu.Lock()
		now = now.Add(advance)
		mu.Unlock()
		got, err := e.Result(ctx, req("push", tx, ""))
		if err != nil || got.Status != provider.StatusFailed {
			t.Fatalf("poll %d: %+v %v, want FAILED every time", i, got, err)
		}
	}
}

// TestResultCorruptDataIsTerminal: a poll refused FAILED because its transaction
// does not name the vendor's is terminal too: past the deadline it is still FAILED.
func TestResultCorruptDataIsTerminal(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	st := testdb.SQLite(t)
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"result": {Suffix: "/status"},
	}}, Provider: "acme", Store: st, ChallengeLifetime: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if err := st.CreateTransaction(ctx, store.Transaction{ID: "r:acme:tx-1", Provider: "acme", Username: "alice", Capability: "push",
		FactorID: "dev-1", Status: string(provider.StatusPending), Data: []byte(`{"other":1}`), ExpiresAt: now.Add(time.Minute), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i, advance := range []time.Duration{0, 2 * time.Minute} {
		mu.Lock()
		now = now.Add(advance)
		mu.Unlock()
		got, err := e.Result(ctx, req("push", "tx-1", ""))
		if err != nil || got.Status != provider.StatusFailed {
			t.Fatalf("poll %d: %+v %v, want FAILED every time", i, got, err)
		}
	}
}
