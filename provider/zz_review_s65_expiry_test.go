package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestReviewS65LateAnswerKeptForTTL: an answer is kept for retries server.idempotency.ttl
// after it was recorded (and sent), however long its attempt ran. The expiry was counted
// from the claim: with the shortest TTL the configuration takes (twice requestTimeout, 2 s
// for 1 s), an attempt whose send took until its deadline and whose record was written in
// the write grace after it recorded an answer that expired a second later (at its lease,
// C59's floor), or already had. Verify's retry a request deadline after the answer then
// ran the call again: a second code sent, a second validation refused as a replay.
// Recorded by the call (Do: CompleteIdempotency) and in a deciding unit (a Writer's).
func TestReviewS65LateAnswerKeptForTTL(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		const requestTimeout, ttl = time.Second, 2 * time.Second
		newIdem, now, set := shortestTTL(st, requestTimeout)
		idem := newIdem()
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-late", Fingerprint: "initiate:x"}
		runs := 0
		run := func(context.Context) (provider.Answer, error) {
			runs++
			set(requestTimeout + provider.WriteGrace - time.Millisecond) // the send, then the write grace
			return provider.Answer{Status: 200, Body: []byte(`{"status":"PENDING"}`)}, nil
		}
		if _, _, _, err := idem.Do(ctx, key, run); err != nil {
			t.Fatal(err)
		}
		answered := now()
		rec, err := st.GetIdempotency(ctx, key)
		if err != nil || rec.ExpiresAt.Before(answered.Add(ttl)) {
			t.Errorf("the answer recorded at +%v expires at +%v (%v); want no sooner than +%v",
				answered.Sub(rec.CreatedAt), rec.ExpiresAt.Sub(rec.CreatedAt), err, answered.Add(ttl).Sub(rec.CreatedAt))
		}
		// A retry just inside the TTL after the answer, past a sweep, gets it.
		set(ttl - time.Millisecond)
		if swept, err := (&builtin.Sweeper{Store: st, Now: now}).Sweep(ctx); err != nil || swept.Idempotency != 0 {
			t.Errorf("the sweeper deleted %d records inside the TTL (%v)", swept.Idempotency, err)
		}
		ans, served, _, err := idem.Do(ctx, key, run)
		if err != nil || served != provider.Replayed || runs != 1 || string(ans.Body) != `{"status":"PENDING"}` {
			t.Errorf("a retry %v after the answer: %v %s %v, %d runs; want it replayed, one run", ttl-time.Millisecond, served, ans.Body, err, runs)
		}

		// The same, recorded in a deciding unit.
		key.WebhookID = "wh-late-unit"
		claimed := now()
		if c, err := st.ClaimIdempotency(ctx, key, "me", claimed.Add(idem.Lease), claimed.Add(ttl), claimed); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		set(idem.Lease - time.Millisecond)
		answered = now()
		if err := st.Update(ctx, func(w store.Writer) error {
			return w.CompleteIdempotency(ctx, key, "me", 200, []byte(`{}`), answered)
		}); err != nil {
			t.Fatal(err)
		}
		if rec, err := st.GetIdempotency(ctx, key); err != nil || rec.ExpiresAt.Before(answered.Add(ttl)) {
			t.Errorf("recorded in a unit at +%v: expires at +%v (%v); want no sooner than +%v",
				answered.Sub(claimed), rec.ExpiresAt.Sub(claimed), err, answered.Add(ttl).Sub(claimed))
		}
	})
}
