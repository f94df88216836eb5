package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

var idemKey = store.IdempotencyKey{Provider: "emfa", WebhookID: "wh-1", Fingerprint: "validate:abc"}

func mustClaim(t *testing.T, s store.Store, key store.IdempotencyKey, owner string, lease, expires, now time.Time) store.IdempotencyClaim {
	t.Helper()
	c, err := s.ClaimIdempotency(t.Context(), key, owner, lease, expires, now)
	if err != nil {
		t.Fatalf("ClaimIdempotency(%s): %v", owner, err)
	}
	return c
}

// A first claim holds the record; a second finds it running, then done with its answer,
// byte for byte; the same ID with another fingerprint is another record.
func testIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetIdempotency(ctx, idemKey); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIdempotency before any claim: %v, want ErrNotFound", err)
	}
	first := mustClaim(t, s, idemKey, "a", at(10*time.Second), at(10*time.Minute), at(0))
	want := store.IdempotencyRecord{Key: idemKey, Owner: "a", LeaseUntil: at(10 * time.Second), ExpiresAt: at(10 * time.Minute), CreatedAt: at(0)}
	if !first.Claimed || first.OtherFingerprint {
		t.Fatalf("first claim: %+v, want claimed", first)
	}
	diff(t, "first claim's record", want, first.Record)

	second := mustClaim(t, s, idemKey, "b", at(11*time.Second), at(11*time.Minute), at(time.Second))
	if second.Claimed {
		t.Fatal("a second claim within the lease claimed the record")
	}
	diff(t, "running record", want, second.Record)

	wantErr(t, "CompleteIdempotency by a non-owner", s.CompleteIdempotency(ctx, idemKey, "b", 200, []byte("x"), at(time.Second)), store.ErrConflict)
	body := []byte(`{"status":"SUCCESS"}` + "\n\x00\xff")
	if err := s.CompleteIdempotency(ctx, idemKey, "a", 200, body, at(2*time.Second)); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	wantErr(t, "CompleteIdempotency twice", s.CompleteIdempotency(ctx, idemKey, "a", 500, nil, at(2*time.Second)), store.ErrConflict)
	want.Done, want.Status, want.Body = true, 200, body
	got, err := s.GetIdempotency(ctx, idemKey)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "done record", want, got)

	// Done records are never taken over, whatever their lease says.
	third := mustClaim(t, s, idemKey, "c", at(time.Hour), at(time.Hour), at(time.Minute))
	if third.Claimed {
		t.Fatal("a claim took over a done record")
	}
	diff(t, "done record through a claim", want, third.Record)

	// An empty answer body is kept as empty, not lost.
	other := idemKey
	other.Fingerprint = "validate:def"
	c := mustClaim(t, s, other, "d", at(time.Minute), at(time.Hour), at(time.Second))
	if !c.Claimed || !c.OtherFingerprint {
		t.Fatalf("same ID, other fingerprint: %+v, want claimed with OtherFingerprint", c)
	}
	if err := s.CompleteIdempotency(ctx, other, "d", 204, nil, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetIdempotency(ctx, other); err != nil || got.Status != 204 || len(got.Body) != 0 {
		t.Fatalf("record with an empty body: %+v, %v", got, err)
	}
	// Other providers and IDs are other records.
	for _, k := range []store.IdempotencyKey{
		{Provider: "duo", WebhookID: idemKey.WebhookID, Fingerprint: idemKey.Fingerprint},
		{Provider: idemKey.Provider, WebhookID: "wh-2", Fingerprint: idemKey.Fingerprint},
	} {
		if c := mustClaim(t, s, k, "e", at(time.Minute), at(time.Hour), at(time.Second)); !c.Claimed || c.OtherFingerprint {
			t.Errorf("claim of %+v: %+v, want claimed, no other fingerprint", k, c)
		}
	}
}

// A running record whose lease has passed (its owner died) is taken over once; an expired
// record, done or not, is replaced.
func testIdempotencyTakeOver(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustClaim(t, s, idemKey, "a", at(10*time.Second), at(10*time.Minute), at(0))
	if c := mustClaim(t, s, idemKey, "b", at(20*time.Second), at(10*time.Minute), at(10*time.Second-time.Millisecond)); c.Claimed {
		t.Fatal("claimed a millisecond before the lease ends")
	}
	c := mustClaim(t, s, idemKey, "b", at(20*time.Second), at(11*time.Minute), at(10*time.Second))
	if !c.Claimed || c.Record.Owner != "b" {
		t.Fatalf("claim at the end of the lease: %+v, want claimed by b", c)
	}
	wantErr(t, "CompleteIdempotency by the owner that lost the lease", s.CompleteIdempotency(ctx, idemKey, "a", 200, []byte("late"), at(11*time.Second)), store.ErrConflict)
	if err := s.CompleteIdempotency(ctx, idemKey, "b", 200, []byte("b's"), at(11*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Expired: a new execution.
	c = mustClaim(t, s, idemKey, "c", at(12*time.Minute), at(20*time.Minute), at(11*time.Minute))
	if !c.Claimed || c.Record.Done || len(c.Record.Body) != 0 {
		t.Fatalf("claim of an expired record: %+v, want a fresh running claim", c)
	}
	got, err := s.GetIdempotency(ctx, idemKey)
	if err != nil || got.Done || got.Owner != "c" || got.Body != nil && len(got.Body) != 0 {
		t.Fatalf("replaced record: %+v, %v", got, err)
	}
}

// Renew moves the lease of a running record its owner holds, and of no other: a renewed
// claim is not taken over at its first lease's end; one taken over, or done, is not
// renewed by the owner that lost it.
func testIdempotencyRenew(t *testing.T, s store.Store) {
	ctx := t.Context()
	renew := func(owner string, until time.Time, want bool) {
		t.Helper()
		if ok, err := s.RenewIdempotency(ctx, idemKey, owner, until); err != nil || ok != want {
			t.Fatalf("RenewIdempotency by %s: %v %v, want %v", owner, ok, err, want)
		}
	}
	renew("a", at(time.Minute), false) // no record
	mustClaim(t, s, idemKey, "a", at(3*time.Second), at(10*time.Minute), at(0))
	renew("b", at(time.Minute), false)
	renew("a", at(5*time.Second), true)
	if c := mustClaim(t, s, idemKey, "b", at(8*time.Second), at(10*time.Minute), at(4*time.Second)); c.Claimed {
		t.Fatal("a renewed lease taken over at its first end")
	}
	c := mustClaim(t, s, idemKey, "b", at(8*time.Second), at(10*time.Minute), at(5*time.Second))
	if !c.Claimed {
		t.Fatal("not claimed at the end of the renewed lease")
	}
	renew("a", at(time.Minute), false) // lost to b
	if got, err := s.GetIdempotency(ctx, idemKey); err != nil || got.Owner != "b" || !got.LeaseUntil.Equal(at(8*time.Second)) {
		t.Fatalf("record after a lost owner's renewal: %+v %v", got, err)
	}
	if err := s.CompleteIdempotency(ctx, idemKey, "b", 200, []byte("b's"), at(6*time.Second)); err != nil {
		t.Fatal(err)
	}
	renew("b", at(time.Minute), false) // done
}

// Release deletes only a running record its owner holds.
func testIdempotencyRelease(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustClaim(t, s, idemKey, "a", at(10*time.Second), at(10*time.Minute), at(0))
	if err := s.ReleaseIdempotency(ctx, idemKey, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIdempotency(ctx, idemKey); err != nil {
		t.Fatalf("release by a non-owner removed the record: %v", err)
	}
	if err := s.ReleaseIdempotency(ctx, idemKey, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIdempotency(ctx, idemKey); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after release: %v, want ErrNotFound", err)
	}
	if c := mustClaim(t, s, idemKey, "b", at(10*time.Second), at(10*time.Minute), at(time.Second)); !c.Claimed {
		t.Fatal("a released record could not be claimed again")
	}
	if err := s.CompleteIdempotency(ctx, idemKey, "b", 200, []byte("x"), at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseIdempotency(ctx, idemKey, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIdempotency(ctx, idemKey); err != nil {
		t.Fatalf("release removed a done record: %v", err)
	}
}

func testDeleteExpiredIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.DeleteExpiredIdempotency(ctx, at(0), 0); err == nil {
		t.Error("DeleteExpiredIdempotency with limit 0: no error")
	}
	for i, exp := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, time.Hour} {
		k := idemKey
		k.WebhookID = string(rune('a' + i))
		mustClaim(t, s, k, "o", at(time.Second), at(exp), at(0))
	}
	n, err := s.DeleteExpiredIdempotency(ctx, at(3*time.Minute), 2)
	if err != nil || n != 2 {
		t.Fatalf("first batch: %d, %v; want 2", n, err)
	}
	n, err = s.DeleteExpiredIdempotency(ctx, at(3*time.Minute), 2)
	if err != nil || n != 1 {
		t.Fatalf("second batch: %d, %v; want 1 (expiry at the bound is expired)", n, err)
	}
	k := idemKey
	k.WebhookID = "d"
	if _, err := s.GetIdempotency(ctx, k); err != nil {
		t.Fatalf("the unexpired record is gone: %v", err)
	}
}

// Of many concurrent first claims on one key, exactly one holds it.
func testConcurrentClaimIdempotency(t *testing.T, s store.Store) {
	const n = 30
	claimed := make([]bool, n)
	errs := concurrently(n, func(i int) error {
		c, err := s.ClaimIdempotency(t.Context(), idemKey, string(rune('A'+i)), at(10*time.Second), at(time.Hour), at(0))
		claimed[i] = c.Claimed
		return err
	})
	countErrs(t, errs, nil)
	wins := 0
	for _, c := range claimed {
		if c {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent claims succeeded, want exactly 1", wins, n)
	}
	// And of concurrent take-overs of an abandoned record, exactly one.
	errs = concurrently(n, func(i int) error {
		c, err := s.ClaimIdempotency(t.Context(), idemKey, string(rune('a'+i)), at(30*time.Second), at(time.Hour), at(20*time.Second))
		claimed[i] = c.Claimed
		return err
	})
	countErrs(t, errs, nil)
	wins = 0
	for _, c := range claimed {
		if c {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent take-overs succeeded, want exactly 1", wins, n)
	}
}

// A unit may record an idempotent call's answer with its decision: both commit, or, when
// the unit fails, neither does and the record stays running; a record the owner no longer
// holds fails the unit.
func testIdempotencyInUnit(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := store.IdempotencyKey{Provider: "emfa", WebhookID: "wh-unit", Fingerprint: "validate:unit"}
	mustClaim(t, s, key, "a", at(10*time.Second), at(10*time.Minute), at(0))
	audit := store.AuditEvent{Time: at(time.Second), Provider: "emfa", Resource: "validate", Username: "unit-user", Outcome: "SUCCESS"}

	boom := errors.New("boom")
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AppendAudit(ctx, audit); err != nil {
			return err
		}
		if err := w.CompleteIdempotency(ctx, key, "a", 200, []byte("rolled back"), at(time.Second)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failing unit: %v", err)
	}
	if rec, err := s.GetIdempotency(ctx, key); err != nil || rec.Done {
		t.Fatalf("after a failed unit: %+v %v, want the record running", rec, err)
	}

	if err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AppendAudit(ctx, audit); err != nil {
			return err
		}
		return w.CompleteIdempotency(ctx, key, "a", 200, []byte(`{"status":"SUCCESS"}`), at(time.Second))
	}); err != nil {
		t.Fatalf("unit: %v", err)
	}
	rec, err := s.GetIdempotency(ctx, key)
	if err != nil || !rec.Done || rec.Status != 200 || string(rec.Body) != `{"status":"SUCCESS"}` {
		t.Fatalf("after the unit: %+v %v", rec, err)
	}
	events, err := s.ListAudit(ctx, store.AuditFilter{Username: "unit-user"})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit of the units: %d events, %v; want the committed one only", len(events), err)
	}

	err = s.Update(ctx, func(w store.Writer) error {
		return w.CompleteIdempotency(ctx, key, "b", 200, []byte("not b's"), at(time.Second))
	})
	wantErr(t, "a unit completing a record it does not own", err, store.ErrConflict)
}

// testRecordIdempotency: RecordIdempotency claims a key and records its answer in one
// statement, in a unit or by itself, on the terms ClaimIdempotency claims: a fresh key, an
// expired record, or a running one whose lease passed; never a live or done record of
// another owner, which it returns instead. In a unit that fails it is rolled back.
func testRecordIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	key := func(id string) store.IdempotencyKey {
		return store.IdempotencyKey{Provider: "emfa", WebhookID: id, Fingerprint: "validate:rec"}
	}
	record := func(k store.IdempotencyKey, owner, body string, now time.Time) (c store.IdempotencyClaim, err error) {
		err = s.Update(ctx, func(w store.Writer) error {
			c, err = w.RecordIdempotency(ctx, k, owner, 200, []byte(body), now.Add(10*time.Second), now.Add(10*time.Minute), now)
			return err
		})
		return c, err
	}

	c, err := record(key("fresh"), "a", `{"status":"SUCCESS"}`, at(0))
	if err != nil || !c.Claimed || !c.Record.Done || string(c.Record.Body) != `{"status":"SUCCESS"}` {
		t.Fatalf("fresh key: %+v %v", c, err)
	}
	rec, err := s.GetIdempotency(ctx, key("fresh"))
	if err != nil || !rec.Done || rec.Owner != "a" || rec.Status != 200 || string(rec.Body) != `{"status":"SUCCESS"}` || !rec.ExpiresAt.Equal(at(10*time.Minute)) {
		t.Fatalf("recorded: %+v %v", rec, err)
	}

	// Done: another attempt finds it, and it stays.
	c, err = record(key("fresh"), "b", `{"status":"FAILED"}`, at(time.Second))
	if err != nil || c.Claimed || !c.Record.Done || c.Record.Owner != "a" || string(c.Record.Body) != `{"status":"SUCCESS"}` {
		t.Fatalf("a done record: %+v %v, want it returned, unclaimed", c, err)
	}

	// Running with a live lease: found, not taken; once the lease passed: taken.
	mustClaim(t, s, key("running"), "a", at(10*time.Second), at(10*time.Minute), at(0))
	if c, err = record(key("running"), "b", `{"status":"FAILED"}`, at(time.Second)); err != nil || c.Claimed || c.Record.Done || c.Record.Owner != "a" {
		t.Fatalf("a running record: %+v %v, want it returned, unclaimed", c, err)
	}
	if c, err = record(key("running"), "b", `{"status":"FAILED"}`, at(11*time.Second)); err != nil || !c.Claimed {
		t.Fatalf("a running record past its lease: %+v %v, want taken over", c, err)
	}
	if rec, err := s.GetIdempotency(ctx, key("running")); err != nil || !rec.Done || rec.Owner != "b" || string(rec.Body) != `{"status":"FAILED"}` {
		t.Fatalf("taken over: %+v %v", rec, err)
	}

	// Expired: taken; another fingerprint of the same ID is told.
	if c, err = record(key("fresh"), "c", `{"status":"TIMEOUT"}`, at(11*time.Minute)); err != nil || !c.Claimed || c.OtherFingerprint {
		t.Fatalf("an expired record: %+v %v, want taken", c, err)
	}
	other := store.IdempotencyKey{Provider: "emfa", WebhookID: "fresh", Fingerprint: "validate:other"}
	if c, err = record(other, "d", `{}`, at(11*time.Minute)); err != nil || !c.Claimed || !c.OtherFingerprint {
		t.Fatalf("another fingerprint: %+v %v, want claimed and told", c, err)
	}

	// Rolled back with its unit; by itself, one write.
	boom := errors.New("boom")
	err = s.Update(ctx, func(w store.Writer) error {
		if _, err := w.RecordIdempotency(ctx, key("rolled"), "a", 200, []byte(`{}`), at(10*time.Second), at(time.Hour), at(0)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "a failing unit", err, boom)
	if _, err := s.GetIdempotency(ctx, key("rolled")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a failed unit: %v, want no record", err)
	}
	if c, err := s.RecordIdempotency(ctx, key("apart"), "a", 200, nil, at(10*time.Second), at(time.Hour), at(0)); err != nil || !c.Claimed {
		t.Fatalf("by itself: %+v %v", c, err)
	}
	if rec, err := s.GetIdempotency(ctx, key("apart")); err != nil || !rec.Done || len(rec.Body) != 0 {
		t.Fatalf("by itself, a nil body: %+v %v, want done with an empty body", rec, err)
	}
}
