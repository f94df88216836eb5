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
)

// TestResultNeverTakesBackATerminalStatus: contract §7, once a poll answers a terminal
// status every later poll answers it. A vendor that does not answer a poll (an error
// status, a body that is no answer, unreachable) leaves the push undecided: the poll says
// PENDING and Verify polls again, so an approval made meanwhile still signs the user in,
// and the deadline still ends it as TIMEOUT. A failure of emfa's own configuration (a
// transform that fails) is FAILED, and stays so whatever the vendor says later.
func TestResultNeverTakesBackATerminalStatus(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	status, says := 500, `{"status":"PENDING"}`
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			return 200, `{"txid":"vendor-tx"}`
		}
		mu.Lock()
		defer mu.Unlock()
		return status, says
	})
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
		"result": {Suffix: "/status", Method: "GET", Transform: Transform{
			Incoming: `{"body": {"status": body.status == "BROKEN" ? body.missing : body.status}}`}},
	}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	set := func(s int, body string) { mu.Lock(); status, says = s, body; mu.Unlock() }
	poll := func(txid string, want provider.Status) {
		t.Helper()
		out, err := e.Result(ctx, req("push", txid, ""))
		if err != nil || out.Status != want {
			t.Fatalf("result: %+v %v, want %s", out, err, want)
		}
	}
	start := func() string {
		t.Helper()
		out, err := e.Initiate(ctx, req("push", "", ""))
		if err != nil || out.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v %v", out, err)
		}
		return out.TransactionID
	}

	// A vendor fault, then the approval: PENDING, then SUCCESS.
	set(500, `{"status":"PENDING"}`)
	tx := start()
	poll(tx, provider.StatusPending)
	set(200, `<html>maintenance</html>`)
	poll(tx, provider.StatusPending)
	set(200, `{"status":"SUCCESS"}`)
	poll(tx, provider.StatusSuccess)

	// Ended says so, reading only: the Provider answers a refused poll with it.
	if out, ok, err := e.Ended(ctx, req("push", tx, "")); err != nil || !ok || out.Status != provider.StatusSuccess {
		t.Errorf("Ended: %+v %v %v, want SUCCESS", out, ok, err)
	}
	pending := start()
	if out, ok, err := e.Ended(ctx, req("push", pending, "")); err != nil || ok {
		t.Errorf("Ended of a pending push: %+v %v %v, want not ended", out, ok, err)
	}

	// A transform that fails is FAILED, remembered: the vendor's approval after it changes
	// nothing.
	tx = start()
	set(200, `{"status":"BROKEN"}`)
	poll(tx, provider.StatusFailed)
	set(200, `{"status":"SUCCESS"}`)
	poll(tx, provider.StatusFailed)

	// A vendor that stays away past the deadline: TIMEOUT, remembered.
	tx = start()
	set(503, `{}`)
	poll(tx, provider.StatusPending)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	poll(tx, provider.StatusTimeout)
	set(200, `{"status":"SUCCESS"}`)
	poll(tx, provider.StatusTimeout)
}
