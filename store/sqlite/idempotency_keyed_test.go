package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/store"
)

// poolIdempotency reads key's record through database/sql on the read pool, scanned as
// GetIdempotency scanned it before it read as a keyed read (f7e2a56).
func poolIdempotency(t *testing.T, s *Store, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	t.Helper()
	var r store.IdempotencyRecord
	var lease, expires, created int64
	err := s.r.QueryRow(`SELECT provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at
		FROM idempotency WHERE provider = ? AND webhook_id = ? AND fingerprint = ?`, key.Provider, key.WebhookID, key.Fingerprint).
		Scan(&r.Key.Provider, &r.Key.WebhookID, &r.Key.Fingerprint, &r.Owner, &r.Done, &r.Status, &r.Body, &lease, &expires, &created)
	r.LeaseUntil, r.ExpiresAt, r.CreatedAt = time.UnixMilli(lease).UTC(), time.UnixMilli(expires).UTC(), time.UnixMilli(created).UTC()
	return r, err
}

// TestGetIdempotencyAnswers: GetIdempotency as a keyed read answers what the
// read through database/sql answered: ErrNotFound for a missing key (and for another
// fingerprint of a recorded ID), a running claim, an expired record (returned, not
// filtered), a done record with an empty body and with one, the context's error for a
// context canceled before, an error (not ErrNotFound, no panic) after Close.
func TestGetIdempotencyAnswers(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_800_000_000_000).UTC()
	key := func(id string) store.IdempotencyKey {
		return store.IdempotencyKey{Provider: "p", WebhookID: id, Fingerprint: "f-" + id}
	}
	if _, err := s.GetIdempotency(ctx, key("missing")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a missing key: %v, want ErrNotFound", err)
	}
	claim := func(id string, lease, expires time.Time) {
		t.Helper()
		if c, err := s.ClaimIdempotency(ctx, key(id), "owner-"+id, lease, expires, now); err != nil || !c.Claimed {
			t.Fatalf("claim %s: %+v, %v", id, c, err)
		}
	}
	claim("running", now.Add(time.Minute), now.Add(time.Hour))
	claim("expired", now.Add(-time.Hour), now.Add(-time.Minute))
	claim("empty", now.Add(time.Minute), now.Add(time.Hour))
	claim("body", now.Add(time.Minute), now.Add(time.Hour))
	if err := s.CompleteIdempotency(ctx, key("empty"), "owner-empty", 204, nil, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteIdempotency(ctx, key("body"), "owner-body", 200, []byte(`{"status":"SUCCESS"}`), now); err != nil {
		t.Fatal(err)
	}
	other := key("running")
	other.Fingerprint = "another"
	if _, err := s.GetIdempotency(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another fingerprint of a recorded ID: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"running", "expired", "empty", "body"} {
		got, err := s.GetIdempotency(ctx, key(id))
		want, werr := poolIdempotency(t, s, key(id))
		if err != nil || werr != nil {
			t.Errorf("%s: %v (through database/sql: %v)", id, err, werr)
			continue
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: (-database/sql +keyed read):\n%s", id, d)
		}
		if got.Owner != "owner-"+id || got.Key != key(id) {
			t.Errorf("%s: %+v", id, got)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetIdempotency(canceled, key("running")); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("GetIdempotency after Close panicked: %v", p)
			}
		}()
		if _, err := s.GetIdempotency(ctx, key("running")); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("after Close: %v, want an error that is not ErrNotFound", err)
		}
	}()
}

// TestGetIdempotencyDuringClaims: keyed reads of records being claimed, completed
// and released at once by other goroutines (run with -race) see either no record or a
// whole one: its key, its owner, an answer only when done.
func TestGetIdempotencyDuringClaims(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.UnixMilli(1_800_000_000_000).UTC()
	const ids = 4
	key := func(i int) store.IdempotencyKey {
		return store.IdempotencyKey{Provider: "p", WebhookID: fmt.Sprint("w", i), Fingerprint: "f"}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range ids {
		wg.Add(1)
		go func() { // claims, completes or releases, again and again
			defer wg.Done()
			for n := 0; n < 30; n++ {
				owner := fmt.Sprint("o", i, "-", n)
				c, err := s.ClaimIdempotency(ctx, key(i), owner, now.Add(time.Minute), now.Add(time.Hour), now)
				if err != nil {
					t.Error(err)
					return
				}
				if !c.Claimed {
					continue
				}
				if n%2 == 0 {
					err = s.ReleaseIdempotency(ctx, key(i), owner)
				} else {
					err = s.CompleteIdempotency(ctx, key(i), owner, 200, []byte(owner), now)
					if err == nil {
						// Done: claimable again once expired; a fresh claim replaces it.
						_, err = s.ClaimIdempotency(ctx, key(i), owner+"x", now.Add(time.Minute), now.Add(time.Hour), now.Add(2*time.Hour))
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range ids {
					r, err := s.GetIdempotency(ctx, key(i))
					switch {
					case errors.Is(err, store.ErrNotFound):
					case err != nil:
						t.Error(err)
						return
					case r.Key != key(i) || r.Owner == "":
						t.Errorf("a record read whole? %+v", r)
					case r.Done && (r.Status != 200 || string(r.Body) != r.Owner):
						t.Errorf("a done record without its answer: %+v", r)
					case !r.Done && (r.Status != 0 || len(r.Body) != 0):
						t.Errorf("a running record with an answer: %+v", r)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
}
