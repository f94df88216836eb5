package provider_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

func TestCapability(t *testing.T) {
	p := &provider.Provider{CredentialPrefix: "Acme", Capabilities: []string{"totp", "mobileOTP"}}
	for raw, want := range map[string]string{
		"totp": "totp", "TOTP": "totp", "acme:totp": "totp", "ACME:mobileotp": "mobileOTP",
		"other:totp": "", "push": "", "": "",
	} {
		got, ok := p.Capability(raw)
		if got != want || ok != (want != "") {
			t.Errorf("Capability(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func TestTransactions(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		txs := provider.Transactions{Store: st, Prefix: "t:", Now: clock}
		req := provider.Request{Username: "alice", Capability: "push", ID: "dev-1", TransactionID: "tx"}
		if err := txs.Start(ctx, req, store.Transaction{ID: "tx", Provider: "p"}); err == nil {
			t.Error("a transaction without a deadline was started")
		}
		if err := txs.Start(ctx, req, store.Transaction{ID: "tx", Provider: "p", ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		for _, foreign := range []provider.Request{
			{Username: "bob", Capability: "push", ID: "dev-1", TransactionID: "tx"},
			{Username: "alice", Capability: "smsotp", ID: "dev-1", TransactionID: "tx"},
			{Username: "alice", Capability: "push", ID: "dev-2", TransactionID: "tx"},
			{Username: "alice", Capability: "push", ID: "dev-1", TransactionID: "nope"},
		} {
			if _, refusal, err := txs.Load(ctx, foreign); err != nil || refusal == nil || refusal.Status != provider.StatusFailed {
				t.Errorf("%+v: refusal %+v, %v", foreign, refusal, err)
			}
		}
		tx, refusal, err := txs.Load(ctx, provider.Request{Username: "alice", Capability: "PUSH", ID: "dev-1", TransactionID: "tx"})
		if err != nil || refusal != nil || tx.Status != "PENDING" || tx.ID != "t:tx" {
			t.Fatalf("own transaction: %+v %+v %v", tx, refusal, err)
		}
		// Of concurrent finishes, one wins and all see its status.
		var wg sync.WaitGroup
		statuses := make(chan string, 10)
		for i := range 10 {
			wg.Go(func() {
				s := provider.StatusSuccess
				if i%2 == 1 {
					s = provider.StatusFailed
				}
				done, err := txs.Finish(ctx, "t:tx", s)
				if err != nil {
					t.Error(err)
				}
				statuses <- done.Status
			})
		}
		wg.Wait()
		close(statuses)
		first := ""
		for s := range statuses {
			if first == "" {
				first = s
			}
			if s != first {
				t.Errorf("finishers disagree: %s and %s", first, s)
			}
		}
		// Past the deadline a pending transaction is TIMEOUT, and stays so.
		if err := txs.Start(ctx, req, store.Transaction{ID: "late", Provider: "p", ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		late := req
		late.TransactionID = "late"
		if tx, refusal, err := txs.Load(ctx, late); err != nil || refusal != nil || tx.Status != "TIMEOUT" {
			t.Errorf("expired: %+v %+v %v", tx, refusal, err)
		}
		done, _, err := txs.Load(ctx, req)
		if out := provider.Remembered(done); err != nil || out.Status != provider.Status(first) {
			t.Errorf("remembered %s, want %s", out.Status, first)
		}
	})
}
