package provider_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// stuckStore is a store that stopped answering (a network partition, a failover that
// hangs): every call it serves waits until its context ends. Only what these tests call
// is served; the rest is a nil store.Store.
type stuckStore struct{ store.Store }

func (stuckStore) wait(ctx context.Context) error {
	<-ctx.Done() // a context without a deadline blocks forever: synctest calls it a deadlock
	return ctx.Err()
}

func (s stuckStore) ClaimIdempotency(ctx context.Context, _ store.IdempotencyKey, _ string, _, _, _ time.Time) (store.IdempotencyClaim, error) {
	return store.IdempotencyClaim{}, s.wait(ctx)
}

func (s stuckStore) RecordIdempotency(ctx context.Context, _ store.IdempotencyKey, _ string, _ int, _ []byte, _, _, _ time.Time) (store.IdempotencyClaim, error) {
	return store.IdempotencyClaim{}, s.wait(ctx)
}

func (s stuckStore) CompleteIdempotency(ctx context.Context, _ store.IdempotencyKey, _ string, _ int, _ []byte, _ time.Time) error {
	return s.wait(ctx)
}

func (s stuckStore) ReleaseIdempotency(ctx context.Context, _ store.IdempotencyKey, _ string) error {
	return s.wait(ctx)
}

func (s stuckStore) Update(ctx context.Context, _ func(store.Writer) error) error { return s.wait(ctx) }

func (s stuckStore) AppendAudit(ctx context.Context, _ store.AuditEvent) error { return s.wait(ctx) }

// claimedStore claims every record at once, then is stuck like stuckStore.
type claimedStore struct{ stuckStore }

func (claimedStore) ClaimIdempotency(context.Context, store.IdempotencyKey, string, time.Time, time.Time, time.Time) (store.IdempotencyClaim, error) {
	return store.IdempotencyClaim{Claimed: true}, nil
}

// TestStuckStoreBounded: a write made to outlive its request (context.WithoutCancel: an
// answer decided is recorded even if Verify hung up) still ends when the store does not
// answer: by the request's deadline and provider.WriteGrace, so that the request is
// answered (503) and shutdown is not held up by it.
func TestStuckStoreBounded(t *testing.T) {
	const timeout = 10 * time.Second
	ok := func(context.Context) (provider.Answer, error) {
		return provider.Answer{Status: 200, Body: []byte(`{"status":"FAILED"}`)}, nil
	}
	fails := func(context.Context) (provider.Answer, error) { return provider.Answer{}, errors.New("engine fault") }
	key := store.IdempotencyKey{Provider: "emfa", WebhookID: "w1", Fingerprint: "validate:x"}
	for _, c := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"DoLate records an answer decided without a unit", func(ctx context.Context) error {
			idem := &provider.Idempotency{Store: stuckStore{}, TTL: time.Minute, Lease: timeout + provider.WriteGrace}
			_, _, _, err := idem.DoLate(ctx, key, ok)
			return err
		}},
		{"Do records its answer", func(ctx context.Context) error {
			idem := &provider.Idempotency{Store: claimedStore{}, TTL: time.Minute, Lease: timeout + provider.WriteGrace}
			_, _, _, err := idem.Do(ctx, key, ok)
			return err
		}},
		{"Do releases a failed call's claim", func(ctx context.Context) error {
			idem := &provider.Idempotency{Store: claimedStore{}, TTL: time.Minute, Lease: timeout + provider.WriteGrace}
			_, _, _, err := idem.Do(ctx, key, fails)
			return err
		}},
		{"Decide on a detached context", func(ctx context.Context) error {
			_, err := provider.Decide(context.WithoutCancel(ctx), &stuckStore{}, func(store.Writer) (provider.Outcome, error) {
				return provider.Outcome{Status: provider.StatusSuccess}, nil
			})
			return err
		}},
		{"the audit row of a refusal", func(ctx context.Context) error {
			p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
				Engine: erringEngine{}, Audit: &stuckStore{}}
			_, err := p.Validate(ctx, provider.Request{Capability: "sms", ID: "f1", Username: "alice", Passvalue: "1"})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				start := time.Now()
				err := c.run(ctx)
				if err == nil {
					t.Error("no error from a store that does not answer")
				}
				// Fake time: the bound is exact, not a guess at how slow a machine is.
				if took, limit := time.Since(start), timeout+provider.WriteGrace; took > limit {
					t.Errorf("answered after %v, want within %v", took, limit)
				}
			})
		})
	}
}
