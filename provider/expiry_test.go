package provider_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestRunningRecordOutlivesTTL: with the shortest TTL the configuration takes
// (twice server.requestTimeout: 2 s for 1 s), an attempt may still run past it: its
// lease is requestTimeout + 2 s, and its writes may take until then. Its record must not
// expire meanwhile: before, a retry at the TTL took the running record over and ran the
// call a second time beside the first (a second code sent), and the sweeper deleted it,
// so that the first attempt, its code sent, could not record its answer and answered 503.
func TestRunningRecordOutlivesTTL(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		const requestTimeout = time.Second
		idem, now, set := idemOnClock(st, requestTimeout, 2*requestTimeout) // TTL shorter than the lease
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-slow", Fingerprint: "initiate:x"}
		var runs atomic.Int64
		entered, release := make(chan struct{}), make(chan struct{})
		type result struct {
			ans provider.Answer
			err error
		}
		first := make(chan result, 1)
		go func() {
			ans, _, _, err := idem().Do(ctx, key, func(context.Context) (provider.Answer, error) {
				runs.Add(1)
				close(entered)
				<-release // the send, and the writes after it, take their time
				return provider.Answer{Status: 200, Body: []byte(`{"status":"PENDING"}`)}, nil
			})
			first <- result{ans, err}
		}()
		<-entered
		set(2*requestTimeout + time.Millisecond) // past the TTL, inside the lease
		sw := &builtin.Sweeper{Store: st, Now: now}
		if swept, err := sw.Sweep(ctx); err != nil || swept.Idempotency != 0 {
			t.Errorf("the sweeper deleted %d records, one of them running (%v)", swept.Idempotency, err)
		}
		retry := idem()
		retry.Wait = 50 * time.Millisecond
		_, _, _, err := retry.Do(ctx, key, func(context.Context) (provider.Answer, error) {
			runs.Add(1)
			return provider.Answer{Status: 200, Body: []byte(`{"status":"PENDING","second":true}`)}, nil
		})
		if !errors.Is(err, provider.ErrInFlight) || runs.Load() != 1 {
			t.Errorf("a retry while the first attempt runs, past the TTL: err %v, %d runs; want ErrInFlight and one run", err, runs.Load())
		}
		close(release)
		if r := <-first; r.err != nil || r.ans.Status != 200 {
			t.Errorf("the first attempt: %d %v", r.ans.Status, r.err)
		}
		// Its answer is then kept for the retries that come.
		ans, served, _, err := idem().Do(ctx, key, func(context.Context) (provider.Answer, error) {
			runs.Add(1)
			return provider.Answer{Status: 200}, nil
		})
		if err != nil || served != provider.Replayed || string(ans.Body) != `{"status":"PENDING"}` {
			t.Errorf("the retry after it: %v %s %v", served, ans.Body, err)
		}
	})
}

// TestRenewalMovesExpiry: a renewed lease past the record's expiry moves the
// expiry with it, so that an attempt that runs on, renewing, is not taken over by expiry.
func TestRenewalMovesExpiry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-renew", Fingerprint: "initiate:x"}
		if c, err := st.ClaimIdempotency(ctx, key, "me", at.Add(time.Second), at.Add(2*time.Second), at); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		if ok, err := st.RenewIdempotency(ctx, key, "me", at.Add(5*time.Second)); err != nil || !ok {
			t.Fatalf("renew: %v %v", ok, err)
		}
		rec, err := st.GetIdempotency(ctx, key)
		if err != nil || !rec.LeaseUntil.Equal(at.Add(5*time.Second)) || !rec.ExpiresAt.Equal(at.Add(5*time.Second)) {
			t.Errorf("after the renewal: lease %v, expiry %v (%v); want both at +5s", rec.LeaseUntil, rec.ExpiresAt, err)
		}
		// A claim at the old expiry finds the attempt running.
		if c, err := st.ClaimIdempotency(ctx, key, "retry", at.Add(6*time.Second), at.Add(time.Minute), at.Add(2*time.Second)); err != nil || c.Claimed {
			t.Errorf("a claim at the old expiry: %+v %v", c, err)
		}
		// A renewal inside the expiry leaves it.
		if ok, err := st.RenewIdempotency(ctx, key, "me", at.Add(3*time.Second)); err != nil || !ok {
			t.Fatalf("renew: %v %v", ok, err)
		}
		if rec, err := st.GetIdempotency(ctx, key); err != nil || !rec.ExpiresAt.Equal(at.Add(5*time.Second)) {
			t.Errorf("after a shorter renewal: expiry %v (%v), want +5s", rec.ExpiresAt, err)
		}
	})
}

// idemOnClock is an Idempotency on st with ttl and the lease serve gives a call of
// requestTimeout, on a fake clock: now reads it, advance moves it.
func idemOnClock(st store.Store, requestTimeout, ttl time.Duration) (idem func() *provider.Idempotency, now func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	advance = func(d time.Duration) { mu.Lock(); at = at.Add(d); mu.Unlock() }
	idem = func() *provider.Idempotency {
		return &provider.Idempotency{Store: st, TTL: ttl,
			Lease: min(requestTimeout+provider.WriteGrace, provider.RenewedLease),
			Poll:  time.Millisecond, Now: now}
	}
	return idem, now, advance
}
