package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// With the shortest server.idempotency.ttl the configuration takes, an answer recorded at
// the latest (the request deadline and the write grace after the claim) is still replayed
// to Verify's retry a request deadline after it. The minimum was twice requestTimeout: such
// an answer was kept a second, or not at all, and the retry ran the call again (a second
// code sent, a validation refused as a replay). The record's expiry stays the claim's: moving
// it when the answer came cost every idempotent call a write to the expiry's index.
func TestShortestTTLKeepsALateAnswer(t *testing.T) {
	if provider.WriteGrace != config.IdempotencyWriteGrace {
		t.Fatalf("provider.WriteGrace %v, config.IdempotencyWriteGrace %v: the configuration's minimum TTL counts the latter", provider.WriteGrace, config.IdempotencyWriteGrace)
	}
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		const requestTimeout = time.Second
		newIdem, now, advance := idemOnClock(st, requestTimeout, config.MinIdempotencyTTL(requestTimeout))
		idem := newIdem()
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-late", Fingerprint: "initiate:x"}
		runs := 0
		run := func(context.Context) (provider.Answer, error) {
			runs++
			advance(requestTimeout + provider.WriteGrace - time.Millisecond) // the send, then the write grace
			return provider.Answer{Status: 200, Body: []byte(`{"status":"PENDING"}`)}, nil
		}
		if _, _, _, err := idem.Do(ctx, key, run); err != nil {
			t.Fatal(err)
		}
		advance(requestTimeout - time.Millisecond)                              // Verify's retry, a deadline later
		if _, err := st.DeleteExpiredIdempotency(ctx, now(), 100); err != nil { // the sweeper
			t.Fatal(err)
		}
		ans, served, _, err := newIdem().Do(ctx, key, run)
		if err != nil || served != provider.Replayed || runs != 1 || string(ans.Body) != `{"status":"PENDING"}` {
			t.Errorf("a retry a request deadline after the latest answer: %v %s %v, %d runs; want it replayed, one run", served, ans.Body, err, runs)
		}
	})
}
