package provider_test

import (
	"context"
	gosync "sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// outside serves a bubble's (synctest) idempotency calls on a real store from a goroutine
// outside the bubble, one at a time, on channels made outside it: the store's own
// goroutines must not touch the bubble's channels. The bubble's time stands still
// meanwhile. Contexts are not passed through (a bubble's context is its channel).
type outside struct {
	real store.Store
	mu   gosync.Mutex
	req  chan func()
	resp chan struct{}
}

func newOutside(t *testing.T, real store.Store) *outside {
	o := &outside{real: real, req: make(chan func()), resp: make(chan struct{})}
	go func() {
		for f := range o.req {
			f()
			o.resp <- struct{}{}
		}
	}()
	t.Cleanup(func() { close(o.req) })
	return o
}

func (o *outside) do(f func(ctx context.Context)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.req <- func() { f(context.Background()) }
	<-o.resp
}

func (o *outside) ClaimIdempotency(_ context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (c store.IdempotencyClaim, err error) {
	o.do(func(ctx context.Context) {
		c, err = o.real.ClaimIdempotency(ctx, key, owner, leaseUntil, expiresAt, now)
	})
	return c, err
}

func (o *outside) RecordIdempotency(_ context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (c store.IdempotencyClaim, err error) {
	o.do(func(ctx context.Context) {
		c, err = o.real.RecordIdempotency(ctx, key, owner, status, body, leaseUntil, expiresAt, now)
	})
	return c, err
}

func (o *outside) GetIdempotency(_ context.Context, key store.IdempotencyKey) (r store.IdempotencyRecord, err error) {
	o.do(func(ctx context.Context) { r, err = o.real.GetIdempotency(ctx, key) })
	return r, err
}

func (o *outside) CompleteIdempotency(_ context.Context, key store.IdempotencyKey, owner string, status int, body []byte, now time.Time) (err error) {
	o.do(func(ctx context.Context) { err = o.real.CompleteIdempotency(ctx, key, owner, status, body, now) })
	return err
}

func (o *outside) ReleaseIdempotency(_ context.Context, key store.IdempotencyKey, owner string) (err error) {
	o.do(func(ctx context.Context) { err = o.real.ReleaseIdempotency(ctx, key, owner) })
	return err
}

func (o *outside) RenewIdempotency(_ context.Context, key store.IdempotencyKey, owner string, leaseUntil time.Time) (ok bool, err error) {
	o.do(func(ctx context.Context) { ok, err = o.real.RenewIdempotency(ctx, key, owner, leaseUntil) })
	return ok, err
}

// The lease a running attempt renews, on both stores, in fake time (synctest: time stands
// still while a store call runs, so the bounds are exact): a retry takes over an attempt
// whose process died within about one lease, inside the retry's own deadline; an attempt
// that is alive, however long it runs within its deadline, is never taken over.
func TestIdempotencyRenewedLease(t *testing.T) {
	const (
		timeout = 10 * time.Second // the request deadline
		lease   = 4 * time.Second
		renew   = time.Second
	)
	answer := provider.Answer{Status: 200, Body: []byte(`{"status":"PENDING"}`)}
	testdb.ForEach(t, func(t *testing.T, real store.Store) {
		st := newOutside(t, real)
		t.Run("a live attempt is not taken over", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: lease, Renew: renew}
				key := store.IdempotencyKey{Provider: "duo", WebhookID: "wh-live", Fingerprint: "initiate:x"}
				var runs atomic.Int32
				slow := func(context.Context) (provider.Answer, error) { // a vendor that takes 8 s
					runs.Add(1)
					time.Sleep(8 * time.Second)
					return answer, nil
				}
				first := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(t.Context(), timeout)
					defer cancel()
					_, _, _, err := idem.Do(ctx, key, slow)
					first <- err
				}()
				time.Sleep(time.Second) // Verify's retry, a second later, to another replica
				retry := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: lease, Renew: renew}
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				ans, served, _, err := retry.Do(ctx, key, slow)
				if err != nil || served != provider.Replayed || string(ans.Body) != string(answer.Body) {
					t.Errorf("retry of a live attempt: %+v %v %v, want the first attempt's answer replayed", ans, served, err)
				}
				if err := <-first; err != nil {
					t.Errorf("first attempt: %v", err)
				}
				if n := runs.Load(); n != 1 {
					t.Errorf("the call ran %d times, want once", n)
				}
				time.Sleep(2 * renew) // fake time: the heartbeat finds no attempt and ends
			})
		})
		t.Run("a dead attempt is taken over within the retry's deadline", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				key := store.IdempotencyKey{Provider: "duo", WebhookID: "wh-kill-1", Fingerprint: "initiate:x"}
				// What a process killed mid-call leaves: its claim, last renewed now.
				now := time.Now()
				if c, err := st.ClaimIdempotency(t.Context(), key, "dead", now.Add(lease), now.Add(time.Minute), now); err != nil || !c.Claimed {
					t.Fatalf("claim: %+v %v", c, err)
				}
				time.Sleep(time.Second)
				idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: lease, Renew: renew}
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				start := time.Now()
				ans, served, _, err := idem.Do(ctx, key, func(context.Context) (provider.Answer, error) {
					time.Sleep(5 * time.Second)
					return answer, nil
				})
				if err != nil || served != provider.Executed || string(ans.Body) != string(answer.Body) {
					t.Errorf("retry of a dead attempt: %+v %v %v, want executed", ans, served, err)
				}
				if took := time.Since(start); took > lease+5*time.Second {
					t.Errorf("took over after %v, want within its lease's end", took-5*time.Second)
				}
				time.Sleep(2 * renew)
			})
		})
	})
}
