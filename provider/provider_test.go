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

// ForValidate, ForResult and Succeed are the rules every engine answers validate and
// result with: a transaction succeeds once, a success is not validated again, an expiry
// is TIMEOUT to both.
func TestTransactionAnswers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		txs := provider.Transactions{Store: st, Prefix: "t:", Now: func() time.Time { return now }}
		req := provider.Request{Username: "alice", Capability: "smsotp", ID: "f1", TransactionID: "a"}
		for _, id := range []string{"a", "b"} {
			if err := txs.Start(ctx, req, store.Transaction{ID: id, ExpiresAt: now.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		tx, _, done, err := txs.ForValidate(ctx, req)
		if err != nil || done || tx.ID != "t:a" {
			t.Fatalf("pending: %+v %v %v", tx, done, err)
		}
		if _, _, done, err := txs.ForResult(ctx, req); err != nil || done {
			t.Fatalf("result of a pending transaction answered: %v %v", done, err)
		}
		// Of concurrent successes exactly one is ok; the others are FAILED.
		var wg sync.WaitGroup
		oks := make(chan bool, 8)
		for range 8 {
			wg.Go(func() {
				out, ok, err := txs.Succeed(ctx, tx)
				if err != nil || (ok != (out.Status == provider.StatusSuccess)) {
					t.Errorf("succeed: %+v %v %v", out, ok, err)
				}
				oks <- ok
			})
		}
		wg.Wait()
		close(oks)
		n := 0
		for ok := range oks {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d successes of one transaction", n)
		}
		if _, out, done, err := txs.ForValidate(ctx, req); err != nil || !done || out.Status != provider.StatusFailed {
			t.Errorf("validate after success: %+v %v %v", out, done, err)
		}
		if _, out, done, err := txs.ForResult(ctx, req); err != nil || !done || out.Status != provider.StatusSuccess {
			t.Errorf("result after success: %+v %v %v", out, done, err)
		}
		if out, err := txs.Reread(ctx, "t:a"); err != nil || out.Status != provider.StatusFailed {
			t.Errorf("reread: %+v %v", out, err)
		}
		// Past the deadline both steps answer TIMEOUT, and so does a success decided after
		// it on a transaction loaded in time (a vendor's answer that came late).
		late := req
		late.TransactionID = "b"
		txB, _, _, err := txs.ForValidate(ctx, late)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if out, ok, err := txs.Succeed(ctx, txB); err != nil || ok || out.Status != provider.StatusTimeout {
			t.Errorf("success past the deadline: %+v %v %v", out, ok, err)
		}
		if _, out, done, err := txs.ForValidate(ctx, late); err != nil || !done || out.Status != provider.StatusTimeout {
			t.Errorf("validate after expiry: %+v %v %v", out, done, err)
		}
		if _, out, done, err := txs.ForResult(ctx, late); err != nil || !done || out.Status != provider.StatusTimeout {
			t.Errorf("result after expiry: %+v %v %v", out, done, err)
		}
		if _, out, done, err := txs.ForValidate(ctx, provider.Request{Username: "bob", Capability: "smsotp", ID: "f1", TransactionID: "b"}); err != nil || !done || out.Status != provider.StatusFailed {
			t.Errorf("another user's: %+v %v %v", out, done, err)
		}
	})
}
