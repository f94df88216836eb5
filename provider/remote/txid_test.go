package remote

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// txidWebhook is a vendor whose initiate answers its own txid, whose validate and result
// take it back in the body, and whose incoming transforms report the transactionId the
// request carried as their CEL sees it (request.body.transactionId).
func txidWebhook(url string) *Webhook {
	return &Webhook{URLs: []string{url}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
		"validate": {Suffix: "/check", Transform: Transform{Incoming: `{"body": {"status": body.status,
			"attributes": {"sent": request.body.transactionId}}}`}},
		// A result transform that echoes a transactionId: Verify must not see it.
		"result": {Suffix: "/status", Transform: Transform{Incoming: `{"body": {"status": body.status,
			"transactionId": request.body.transactionId, "attributes": {"sent": request.body.transactionId}}}`}},
	}}
}

// sentTxid is the transactionId of the vendor request's JSON body.
func sentTxid(t *testing.T, r seen) string {
	t.Helper()
	var b struct {
		TransactionID string `json:"transactionId"`
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatalf("vendor request body %q: %v", r.Body, err)
	}
	return b.TransactionID
}

// isFresh128 reports whether id is what emfa mints: lower-case base32 of at least 128 bits.
func isFresh128(id string) bool {
	b, err := base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding).DecodeString(id)
	return err == nil && len(b) >= 16
}

// TestVerifySeesEmfasTransactionID: initiate answers a transactionId emfa minted (fresh,
// at least 128 bits; contract §5, emfa's rule), never the vendor's; the vendor's own id
// is kept in the stored transaction and is what the vendor and its transforms receive on
// the next step; a vendor reusing its id for two users starts two transactions; the
// vendor's id is not a transactionId Verify can use. The transactions are read back by a
// second engine on the same store, on each store.
func TestVerifySeesEmfasTransactionID(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		v := newVendor(t, func(r *http.Request, _ string) (int, string) {
			if strings.HasSuffix(r.URL.Path, "/start") {
				return 200, `{"txid":"vendor-tx"}` // the same id for every challenge
			}
			return 200, `{"status":"SUCCESS"}`
		})
		e, err := New(Options{Webhook: txidWebhook(v.srv.URL), Provider: "acme", Store: st, ChallengeLifetime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		ctx := context.Background()
		as := func(user string, r provider.Request) provider.Request {
			r.Username, r.Attributes["username"] = user, user
			return r
		}

		alice, err := e.Initiate(ctx, req("smsotp", "", ""))
		if err != nil || alice.Status != provider.StatusPending {
			t.Fatalf("alice's initiate: %+v %v", alice, err)
		}
		bob, err := e.Initiate(ctx, as("bob", req("push", "", "")))
		if err != nil || bob.Status != provider.StatusPending {
			t.Fatalf("bob's initiate, the vendor reusing its id: %+v %v, want PENDING", bob, err)
		}
		for _, id := range []string{alice.TransactionID, bob.TransactionID} {
			if id == "vendor-tx" || !isFresh128(id) {
				t.Errorf("transactionId %q: want one emfa minted (>= 128 bits), not the vendor's", id)
			}
		}
		if alice.TransactionID == bob.TransactionID {
			t.Errorf("two challenges share the transactionId %q", alice.TransactionID)
		}
		tx, err := st.GetTransaction(ctx, e.txs.Key(alice.TransactionID))
		if err != nil || tx.Username != "alice" || !strings.Contains(string(tx.Data), `"vendor-tx"`) {
			t.Errorf("alice's stored transaction: %+v %v; want hers, keeping the vendor's id", tx, err)
		}

		// The vendor's own id names nothing Verify may use: refused before the vendor.
		asked := len(v.requests())
		for name, call := range map[string]func() (provider.Outcome, error){
			"validate with the vendor's id": func() (provider.Outcome, error) { return e.Validate(ctx, req("smsotp", "vendor-tx", "1")) },
			"result with the vendor's id":   func() (provider.Outcome, error) { return e.Result(ctx, as("bob", req("push", "vendor-tx", ""))) },
			"alice validating bob's id":     func() (provider.Outcome, error) { return e.Validate(ctx, req("push", bob.TransactionID, "1")) },
			"bob polling alice's id": func() (provider.Outcome, error) {
				return e.Result(ctx, as("bob", req("smsotp", alice.TransactionID, "")))
			},
			"an id emfa never minted": func() (provider.Outcome, error) { return e.Result(ctx, req("push", "made-up", "")) },
			"alice's id as another factor's": func() (provider.Outcome, error) {
				r := req("smsotp", alice.TransactionID, "1")
				r.ID = "dev-2"
				return e.Validate(ctx, r)
			},
		} {
			if out, err := call(); err != nil || out.Status != provider.StatusFailed {
				t.Errorf("%s: %+v %v, want FAILED", name, out, err)
			}
		}
		if n := len(v.requests()) - asked; n != 0 {
			t.Errorf("the vendor was asked %d times about transactions that are not the caller's", n)
		}

		// A second engine on the same store: what the next step needs was persisted.
		e2, err := New(Options{Webhook: txidWebhook(v.srv.URL), Provider: "acme", Store: st, ChallengeLifetime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e2.Close() })
		out, err := e2.Validate(ctx, req("smsotp", alice.TransactionID, "1"))
		if err != nil || out.Status != provider.StatusSuccess || out.Attributes["sent"] != "vendor-tx" {
			t.Errorf("alice's validate: %+v %v; want SUCCESS, the transform seeing the vendor's id", out, err)
		}
		out, err = e2.Result(ctx, as("bob", req("push", bob.TransactionID, "")))
		if err != nil || out.Status != provider.StatusSuccess || out.Attributes["sent"] != "vendor-tx" || out.TransactionID != "" {
			t.Errorf("bob's result: %+v %v; want SUCCESS, the transform seeing the vendor's id, no transactionId", out, err)
		}
		reqs := v.requests()[asked:]
		if len(reqs) != 2 || sentTxid(t, reqs[0]) != "vendor-tx" || sentTxid(t, reqs[1]) != "vendor-tx" {
			t.Errorf("the vendor's second steps %+v: want its own txid in each", reqs)
		}
		// Terminal: answered from the store as before.
		if out, err := e.Result(ctx, as("bob", req("push", bob.TransactionID, ""))); err != nil || out.Status != provider.StatusSuccess || len(v.requests()) != asked+2 {
			t.Errorf("bob's repeated result: %+v %v (vendor asked %d times)", out, err, len(v.requests())-asked-2)
		}
	})
}

// TestTransactionOfAnEarlierVersion: a transaction recorded before emfa minted its own
// ids (keyed by the vendor's, without Data) still completes across an upgrade: Verify
// names it by the vendor's id, which the vendor gets back.
func TestTransactionOfAnEarlierVersion(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, txidWebhook(v.srv.URL))
	ctx := context.Background()
	r := req("push", "old-vendor-tx", "")
	if err := e.txs.Start(ctx, r, store.Transaction{ID: "old-vendor-tx", Provider: "acme", ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	out, err := e.Result(ctx, r)
	if err != nil || out.Status != provider.StatusSuccess || out.Attributes["sent"] != "old-vendor-tx" {
		t.Errorf("result: %+v %v; want SUCCESS on the vendor's own id", out, err)
	}
}

// TestVendorTransactionIDOutsideTheRule: a vendor's id emfa could not keep as text or send
// back (a control character, too long) is a clear FAILED at initiate, on every store.
func TestVendorTransactionIDOutsideTheRule(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		for _, id := range []string{"tx\x00nul", "tx\nline", strings.Repeat("x", provider.MaxTransactionIDBytes+1)} {
			body, _ := json.Marshal(map[string]string{"txid": id})
			v := newVendor(t, func(*http.Request, string) (int, string) { return 200, string(body) })
			e, err := New(Options{Webhook: txidWebhook(v.srv.URL), Provider: "acme", Store: st, ChallengeLifetime: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Initiate(context.Background(), req("push", "", ""))
			e.Close()
			if err != nil || out.Status != provider.StatusFailed || out.TransactionID != "" || !strings.Contains(out.Reason, "the vendor's transactionId") {
				t.Errorf("vendor txid %.20q: %+v %v; want FAILED naming the vendor's transactionId", id, out, err)
			}
		}
	})
}

// TestUnreadableTransactionData: a transaction whose Data does not name the vendor's id
// is FAILED without asking the vendor.
func TestUnreadableTransactionData(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, txidWebhook(v.srv.URL))
	ctx := context.Background()
	for i, data := range []string{`not json`, `{}`, `{"vendorTransactionId": 7}`} {
		id := "tx-" + string(rune('a'+i))
		r := req("push", id, "")
		if err := e.txs.Start(ctx, r, store.Transaction{ID: id, Provider: "acme", Data: []byte(data), ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if out, err := e.Result(ctx, r); err != nil || out.Status != provider.StatusFailed {
			t.Errorf("Data %s: %+v %v, want FAILED", data, out, err)
		}
	}
	if n := len(v.requests()); n != 0 {
		t.Errorf("the vendor was asked %d times", n)
	}
}
