package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// decideAll is decide with every field of the audit row and the record distinct, so that
// an argument of the folded statement (advanceCounterSQL.recorded: the compare-and-set, its
// audit row and the claim of its answer's record, $1-$23) taken for another shows.
func decideAll(ctx context.Context, s store.Store, counter int64, ev store.AuditEvent, k store.IdempotencyKey, lease, expires, now time.Time) (store.IdempotencyClaim, error) {
	var claim store.IdempotencyClaim
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, "f1", counter, now); err != nil {
			return err
		}
		if err := w.AppendAudit(ctx, ev); err != nil {
			return err
		}
		var err error
		claim, err = w.RecordIdempotency(ctx, k, "owner-"+k.WebhookID, 201, []byte("body-"+k.WebhookID), lease, expires, now)
		if err == nil && !claim.Claimed {
			err = errors.New("not claimed")
		}
		return err
	})
	return claim, err
}

// The one statement of a decision writes what its three statements wrote, field by
// field: the audit row's eleven columns, the factor's last use, and the record's ten.
// (2feacb5: the claim's arguments renumbered $15-$23 after the audit row's.)
func TestFoldedDecisionWritesEveryField(t *testing.T) {
	t.Parallel()
	s, w, _ := wiredStore(t)
	ctx := t.Context()
	warm(t, s, w)
	at := t0.Add(17 * time.Second)
	ev := store.AuditEvent{Time: at, RequestID: "rq", Provider: "p", Username: "alice", Capability: "totp",
		FactorID: "f1", Resource: "validate", Outcome: "SUCCESS", Reason: "why", WebhookID: "w9", Actor: "act"}
	k := key("w9", "fp")
	lease, expires := t0.Add(41*time.Second), t0.Add(53*time.Minute)
	claim, err := decideAll(ctx, s, 9, ev, k, lease, expires, at)
	if err != nil || claim.OtherFingerprint {
		t.Fatalf("claim %+v, %v; want claimed, no other fingerprint", claim, err)
	}
	if got := w.take(); got['B'] != 1 {
		t.Fatalf("the decision sent %d statements, want 1: not folded, this test checks nothing", got['B'])
	}
	rec, err := s.GetIdempotency(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	want := store.IdempotencyRecord{Key: k, Owner: "owner-w9", Done: true, Status: 201, Body: []byte("body-w9"),
		LeaseUntil: lease.UTC(), ExpiresAt: expires.UTC(), CreatedAt: at.UTC()}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(claim.Record, rec); diff != "" {
		t.Errorf("the claim's record, against the one stored (-claim +stored):\n%s", diff)
	}
	events, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1})
	if err != nil || len(events) != 1 {
		t.Fatalf("audit %v, %v", events, err)
	}
	ev.Time = ev.Time.UTC()
	if diff := cmp.Diff(ev, events[0]); diff != "" {
		t.Errorf("audit row (-want +got):\n%s", diff)
	}
	f, err := s.GetFactor(ctx, "f1")
	if err != nil || f.Counter != 9 || !f.UpdatedAt.Equal(at) {
		t.Errorf("factor counter %d, updated %v (%v); want 9, %v", f.Counter, f.UpdatedAt, err, at)
	}
	if used, err := s.LastUsed(ctx, []string{"f1"}); err != nil || !used["f1"].Equal(at) {
		t.Errorf("last used %v, %v; want %v", used, err, at)
	}
}

// Attempts of one call (one X-Webhook-ID and fingerprint) deciding at once on several
// connections, each with a code of its own: one records its decision, whole; every other
// finds that record, and its unit, the counter and the audit row with it, rolls back. The
// folded statement's INSERT waits for the winner's uncommitted record, then fails its
// assumption with the unique violation, and the careful run finds the record held.
func TestConcurrentAttemptsOneRecords(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	s := openAlice(t, sv.Migrated(t), t0, postgres.MaxConns(4))
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 1, key("w0", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	outs, errs := make([]string, n), make([]error, n)
	for i := range n {
		wg.Go(func() {
			runs := 0
			outs[i], _, errs[i] = decide(ctx, s, int64(10+i), key("wx", "a"), &runs)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Errorf("attempts %d and %d both recorded", won, i)
		case !errors.Is(err, errLost):
			t.Errorf("attempt %d: %v, want the record found another's", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no attempt recorded")
	}
	rec, err := s.GetIdempotency(ctx, key("wx", "a"))
	if err != nil || string(rec.Body) != outs[won] {
		t.Errorf("record %+v, %v; want the winner's %s", rec, err, outs[won])
	}
	if got := audited(t, s); len(got) != 2 || got[1] != "wx:"+outs[won] {
		t.Errorf("audit %q, want w0's and the winner's only", got)
	}
	if f, err := s.GetFactor(ctx, "f1"); err != nil || (outs[won] == "SUCCESS" && f.Counter != int64(10+won)) {
		t.Errorf("counter %d, %v; want the winner's %d", f.Counter, err, 10+won)
	}
}

// A statement the unit writes between the audit row and the claim of the record (another
// assumed compare-and-set, queued last; or one that sent the batch, the folded statement
// with it) leaves the claim a statement of its own: the audit row's arguments AppendAudit
// kept (writer.audited) amend only the statement they were queued with, still last.
// Either way the unit writes all it asked for. (2feacb5)
func TestStatementBetweenAuditAndClaim(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		between func(ctx context.Context, w store.Writer) error
	}{
		{"assumed", func(ctx context.Context, w store.Writer) error {
			return w.ClearFailuresUnlocked(ctx, "f1", t0.Add(time.Second))
		}},
		{"sent", func(ctx context.Context, w store.Writer) error {
			return w.ResetFailures(ctx, "f1", t0.Add(time.Second))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, w, _ := wiredStore(t)
			ctx := t.Context()
			warm(t, s, w)
			k := key("wz", "a")
			runs := 0
			err := s.Update(ctx, func(w store.Writer) error {
				runs++
				if err := w.AdvanceCounter(ctx, "f1", 9, t0); err != nil {
					return err
				}
				if err := w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Capability: "totp",
					FactorID: "f1", Resource: "validate", Outcome: "SUCCESS", WebhookID: "wz"}); err != nil {
					return err
				}
				if err := tc.between(ctx, w); err != nil {
					return err
				}
				c, err := w.RecordIdempotency(ctx, k, "me", 200, []byte("SUCCESS"), t0.Add(time.Minute), t0.Add(time.Hour), t0)
				if err == nil && !c.Claimed {
					err = errLost
				}
				return err
			})
			if err != nil || runs != 1 {
				t.Fatalf("%v in %d runs, want nil in 1: no assumption fails", err, runs)
			}
			if rec, err := s.GetIdempotency(ctx, k); err != nil || !rec.Done || string(rec.Body) != "SUCCESS" {
				t.Errorf("record %+v, %v; want done, SUCCESS", rec, err)
			}
			if got := audited(t, s); len(got) != 4 || got[3] != "wz:SUCCESS" {
				t.Errorf("audit %q, want the warm three and wz:SUCCESS", got)
			}
			if f, err := s.GetFactor(ctx, "f1"); err != nil || f.Counter != 9 || !f.UpdatedAt.Equal(t0.Add(time.Second)) {
				t.Errorf("counter %d, updated %v, %v; want 9, and the statement between's %v", f.Counter, f.UpdatedAt, err, t0.Add(time.Second))
			}
		})
	}
}
