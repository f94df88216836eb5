package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// roundTrips counts what the store's connections send: each statement sent alone and
// each batch is one round trip (once the statements are prepared); statements counts
// the statements, alone or in a batch.
type roundTrips struct{ n, statements atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	r.statements.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	r.statements.Add(1)
}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// speculating opens a store whose round trips rt counts, on one connection (so that a
// warmed-up unit finds its statements prepared), with user u1 and its TOTP factor f1.
func speculating(t *testing.T) (store.Store, *roundTrips) {
	t.Helper()
	rt := &roundTrips{}
	return withAlice(t, openTraced(t, "", 1, rt), time.UnixMilli(0)), rt
}

// openTraced opens a store on dsn (a new schema when "") with at most conns connections,
// whose statements tracer sees, closed when the test ends.
func openTraced(t *testing.T, dsn string, conns int, tracer pgx.QueryTracer) store.Store {
	t.Helper()
	if dsn == "" {
		sv := testdb.Connect(t)
		dsn = sv.Migrated(t)
	}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(conns), postgres.Traced(tracer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.UnixMilli(1_800_000_000_000)

func key(webhookID, fingerprint string) store.IdempotencyKey {
	return store.IdempotencyKey{Provider: "p", WebhookID: webhookID, Fingerprint: fingerprint}
}

// errLost is what the tests' decisions return when the claim of their answer's record
// finds it another attempt's (as provider.Decide returns ErrSuperseded).
var errLost = errors.New("another attempt recorded this call")

// decide is a TOTP validation's unit as provider.Decide runs it under DoLate: the
// compare-and-set, the audit row of what it decided, and the claim of the record with
// the answer, last. runs counts its calls; claim is what the claim found.
func decide(ctx context.Context, s store.Store, counter int64, k store.IdempotencyKey, runs *int) (outcome string, claim store.IdempotencyClaim, err error) {
	err = s.Update(ctx, func(w store.Writer) error {
		*runs++
		outcome = "SUCCESS"
		if err := w.AdvanceCounter(ctx, "f1", counter, t0); errors.Is(err, store.ErrReplay) {
			outcome = "FAILED"
		} else if err != nil {
			return err
		}
		err := w.AppendAudit(ctx, store.AuditEvent{Time: t0, Provider: "p", Username: "alice", Capability: "totp",
			FactorID: "f1", Resource: "validate", Outcome: outcome, WebhookID: k.WebhookID})
		if err != nil {
			return err
		}
		claim, err = w.RecordIdempotency(ctx, k, "me", 200, []byte(outcome), t0.Add(time.Minute), t0.Add(time.Hour), t0)
		if err == nil && !claim.Claimed {
			err = errLost
		}
		return err
	})
	return outcome, claim, err
}

// audited lists the outcomes of the audit rows, oldest first.
func audited(t *testing.T, s store.Store) []string {
	t.Helper()
	events, err := s.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		out = append(out, events[i].WebhookID+":"+events[i].Outcome)
	}
	return out
}

// nothingCommitted checks that no unit changed f1's counter or wrote an audit row.
func nothingCommitted(t *testing.T, s store.Store) {
	t.Helper()
	if f, err := s.GetFactor(t.Context(), "f1"); err != nil || f.Counter != -1 {
		t.Errorf("counter %d (%v), want -1: the unit must not commit", f.Counter, err)
	}
	if got := audited(t, s); len(got) != 0 {
		t.Errorf("audit %q, want none", got)
	}
}

// A decision (the compare-and-set, its audit row and last use, the claim of its answer's
// record) and its COMMIT go out in one round trip: issue 16's "one round trip per
// decision". Waiting for each result, it took three.
func TestDecisionIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	s, rt := speculating(t)
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil { // prepares the statements
		t.Fatal(err)
	}
	before, statements := rt.n.Load(), rt.statements.Load()
	out, claim, err := decide(ctx, s, 2, key("w2", "a"), &runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := rt.n.Load() - before; n != 1 {
		t.Errorf("the decision took %d round trips, want 1", n)
	}
	// The compare-and-set with the last use, the audit row and the claim in one
	// statement: one implicit transaction, without BEGIN and COMMIT.
	if n := rt.statements.Load() - statements; n != 1 {
		t.Errorf("the decision took %d statements, want 1", n)
	}
	if out != "SUCCESS" || !claim.Claimed || claim.OtherFingerprint || runs != 2 {
		t.Errorf("decided %s, claim %+v, in %d runs of 2 units; want SUCCESS, claimed, each unit run once", out, claim, runs)
	}
	// It committed, all of it.
	f, err := s.GetFactor(ctx, "f1")
	if err != nil {
		t.Fatal(err)
	}
	used, err := s.LastUsed(ctx, []string{"f1"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Counter != 2 || !used["f1"].Equal(t0) {
		t.Errorf("counter %d, last used %v; want 2, %v", f.Counter, used["f1"], t0)
	}
	rec, err := s.GetIdempotency(ctx, key("w2", "a"))
	if err != nil || !rec.Done || string(rec.Body) != "SUCCESS" || rec.Owner != "me" {
		t.Errorf("record %+v, %v; want done with SUCCESS, mine", rec, err)
	}
	if got := audited(t, s); len(got) != 2 || got[1] != "w2:SUCCESS" {
		t.Errorf("audit %q, want w1:SUCCESS w2:SUCCESS", got)
	}
}

// A replayed code fails the assumed compare-and-set: nothing of the speculative run
// commits (its audit row said SUCCESS), and the unit runs again, told ErrReplay.
func TestAssumptionThatDoesNotHoldRunsAgain(t *testing.T) {
	t.Parallel()
	s, _ := speculating(t)
	ctx := t.Context()
	runs := 0
	if _, _, err := decide(ctx, s, 5, key("w1", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	runs = 0
	out, claim, err := decide(ctx, s, 5, key("w2", "a"), &runs)
	if err != nil {
		t.Fatal(err)
	}
	if out != "FAILED" || runs != 2 || !claim.Claimed {
		t.Errorf("decided %s in %d runs, claim %+v; want FAILED in 2, claimed", out, runs, claim)
	}
	if got := audited(t, s); len(got) != 2 || got[1] != "w2:FAILED" {
		t.Errorf("audit %q, want w1:SUCCESS w2:FAILED only", got)
	}
	if rec, err := s.GetIdempotency(ctx, key("w2", "a")); err != nil || string(rec.Body) != "FAILED" {
		t.Errorf("record %+v, %v; want the FAILED answer", rec, err)
	}
}

// A claim that finds the call recorded by another attempt fails its assumption: the
// decision made with it rolls back, counter and audit row too, and the careful run sees
// the other attempt's record.
func TestClaimOfAnotherAttemptRollsBack(t *testing.T) {
	t.Parallel()
	s, _ := speculating(t)
	ctx := t.Context()
	k := key("w1", "a")
	if _, err := s.RecordIdempotency(ctx, k, "other", 200, []byte("theirs"), t0.Add(time.Minute), t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	runs := 0
	_, claim, err := decide(ctx, s, 1, k, &runs)
	if !errors.Is(err, errLost) || runs != 2 {
		t.Fatalf("Update: %v in %d runs; want the lost claim, in 2", err, runs)
	}
	if claim.Record.Owner != "other" || string(claim.Record.Body) != "theirs" {
		t.Errorf("the claim found %+v, want the other attempt's record", claim.Record)
	}
	nothingCommitted(t, s)
}

// A webhook ID recorded with another fingerprint is the claim's other unusual result: the
// careful run claims and reports it.
func TestClaimWithOtherFingerprint(t *testing.T) {
	t.Parallel()
	s, _ := speculating(t)
	ctx := t.Context()
	if _, err := s.RecordIdempotency(ctx, key("w1", "a"), "other", 200, []byte("a"), t0.Add(time.Minute), t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	runs := 0
	out, claim, err := decide(ctx, s, 1, key("w1", "b"), &runs)
	if err != nil || out != "SUCCESS" || runs != 2 {
		t.Fatalf("decided %s, %v, in %d runs; want SUCCESS in 2", out, err, runs)
	}
	if !claim.Claimed || !claim.OtherFingerprint {
		t.Errorf("claim %+v, want claimed, with the other fingerprint seen", claim)
	}
}

// A unit sent as one pipeline is one transaction: a statement that fails with COMMIT
// takes the others, assumed or queued, with it.
func TestPipelinedUnitIsAtomic(t *testing.T) {
	t.Parallel()
	s, _ := speculating(t)
	failingUnit(t, s)
}

// failingUnit runs a unit whose third statement fails when it runs (its compare-and-set
// and an audit row before it) and fails the test unless none of it committed.
func failingUnit(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	event := store.AuditEvent{Time: t0, Provider: "p", Username: "alice", FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"}
	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, "f1", 3, t0); err != nil {
			return err
		}
		if err := w.AppendAudit(ctx, event); err != nil {
			return err
		}
		bad := event
		bad.Reason = "a\x00b" // PostgreSQL refuses a NUL in text, when the statement runs
		return w.AppendAudit(ctx, bad)
	})
	if err == nil {
		t.Fatal("Update committed a unit with a failed statement")
	}
	nothingCommitted(t, s)
}

// An error fn returns on the path an assumption took, before the assumption was sent, is
// not the unit's answer: the careful run, told the truth, takes the other path.
func TestErrorOnAnAssumedPathRunsAgain(t *testing.T) {
	t.Parallel()
	s, _ := speculating(t)
	ctx := t.Context()
	if err := s.AdvanceCounter(ctx, "f1", 5, t0); err != nil {
		t.Fatal(err)
	}
	errFresh := errors.New("only a fresh code gets here")
	runs, replayed := 0, false
	err := s.Update(ctx, func(w store.Writer) error {
		runs++
		err := w.AdvanceCounter(ctx, "f1", 5, t0)
		if replayed = errors.Is(err, store.ErrReplay); replayed {
			return nil
		}
		if err != nil {
			return err
		}
		return errFresh
	})
	if err != nil || !replayed || runs != 2 {
		t.Errorf("Update: %v, replay seen %v, in %d runs; want nil, the replay, in 2", err, replayed, runs)
	}
}

// A new challenge withdraws the factor's older pending ones; the unit assumes there are
// none, the usual case, and a push's initiate is one round trip. When there is one, the
// careful run withdraws it and says so.
func TestCancelPendingAssumesNone(t *testing.T) {
	t.Parallel()
	s, rt := speculating(t)
	ctx := t.Context()
	challenge := func(id string) store.Transaction {
		return store.Transaction{ID: id, Provider: "p", Username: "alice", Capability: "push", FactorID: "f1",
			Status: "PENDING", ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
	}
	initiate := func(id string) (canceled, runs int) {
		t.Helper()
		err := s.Update(ctx, func(w store.Writer) error {
			runs++
			if err := w.CreateTransaction(ctx, challenge(id)); err != nil {
				return err
			}
			var err error
			canceled, err = w.CancelPending(ctx, "f1", id, "CANCELED", t0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return canceled, runs
	}
	if err := s.CreateTransaction(ctx, challenge("warm")); err != nil { // prepares the statements below
		t.Fatal(err)
	}
	if n, runs := initiate("t1"); n != 1 || runs != 2 {
		t.Errorf("with an older challenge pending: %d canceled in %d runs, want 1 in 2", n, runs)
	}
	if tx, err := s.GetTransaction(ctx, "warm"); err != nil || tx.Status != "CANCELED" {
		t.Errorf("the older challenge: %+v, %v; want CANCELED", tx, err)
	}
	// t1 is pending now: once it is answered, t3's initiate finds none.
	if err := s.CompleteTransaction(ctx, "t1", "SUCCESS", t0); err != nil {
		t.Fatal(err)
	}
	before := rt.n.Load()
	if n, runs := initiate("t3"); n != 0 || runs != 1 {
		t.Errorf("with none pending: %d canceled in %d runs, want 0 in 1", n, runs)
	}
	if n := rt.n.Load() - before; n != 1 {
		t.Errorf("the initiate took %d round trips, want 1", n)
	}
	if tx, err := s.GetTransaction(ctx, "t3"); err != nil || tx.Status != "PENDING" {
		t.Errorf("t3: %+v, %v; want PENDING", tx, err)
	}
}

// A batch of new users (an import's) goes out whole with its COMMIT: one round trip
// however many users, where change by change it took some seven each; a batch of changes
// to existing users or their factors, two (their ids, then the unit). A batch with a name
// that exists, with one that does not, or with another user's factor, rolls back and is
// applied change by change, which says which one failed.
func TestUserBatchesInOneRoundTrip(t *testing.T) {
	s, rt := speculating(t)
	ctx := t.Context()
	batch := func(from, n int) []store.UserChange {
		var cs []store.UserChange
		for i := from; i < from+n; i++ {
			u := store.User{ID: fmt.Sprint("n", i), Name: fmt.Sprint("new-", i), CreatedAt: t0}
			cs = append(cs, store.UserChange{Name: u.Name, Create: &u, Now: t0,
				Profile: &store.Profile{Email: u.Name + "@example.com", Groups: []string{"staff"}},
				Audit:   []store.AuditEvent{{Time: t0, Username: u.Name, Resource: "admin.import", Outcome: "SUCCESS"}}})
		}
		return cs
	}
	for _, err := range s.ApplyUserChanges(ctx, batch(0, 2)) { // prepares the statements
		if err != nil {
			t.Fatal(err)
		}
	}
	rt.n.Store(0)
	for _, err := range s.ApplyUserChanges(ctx, batch(2, 50)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.n.Load(); n != 1 {
		t.Errorf("50 new users: %d round trips, want 1", n)
	}
	recs, err := s.ListUserRecords(ctx, store.UserQuery{Group: "staff", Limit: 1000})
	if err != nil || len(recs) != 52 {
		t.Fatalf("%d users in the group (%v), want 52", len(recs), err)
	}

	rt.n.Store(0)
	errs := s.ApplyUserChanges(ctx, append(batch(52, 3), batch(10, 1)...))
	for i, err := range errs {
		if want := i == 3; errors.Is(err, store.ErrExists) != want {
			t.Errorf("change %d: %v", i, err)
		}
	}
	if n := rt.n.Load(); n < 10 {
		t.Errorf("a batch with a name that exists: %d round trips; it was not applied change by change", n)
	}
	if _, err := s.GetUser(ctx, "new-54"); err != nil {
		t.Errorf("the batch's other users: %v", err)
	}

	// Changes to existing users: each is assumed still there, under its name.
	updates := func(names ...string) []store.UserChange {
		var cs []store.UserChange
		yes := true
		for _, name := range names {
			cs = append(cs, store.UserChange{Name: name, Now: t0.Add(time.Hour), Disabled: &yes,
				Profile: &store.Profile{DisplayName: "Changed " + name, Groups: []string{"moved"}},
				Audit:   []store.AuditEvent{{Time: t0, Username: name, Resource: "admin.import", Outcome: "SUCCESS"}}})
		}
		return cs
	}
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprint("new-", i))
	}
	rt.n.Store(0)
	for _, err := range s.ApplyUserChanges(ctx, updates(names...)) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.n.Load(); n != 2 {
		t.Errorf("50 changed users: %d round trips, want 2", n)
	}
	rec, err := s.GetUserRecord(ctx, "new-7")
	if err != nil || !rec.Disabled || rec.Profile.DisplayName != "Changed new-7" || len(rec.Profile.Groups) != 1 || rec.Profile.Groups[0] != "moved" {
		t.Errorf("a changed user: %+v, %v", rec, err)
	}
	errs = s.ApplyUserChanges(ctx, updates("new-1", "nobody", "new-2"))
	for i, err := range errs {
		if want := i == 1; errors.Is(err, store.ErrNotFound) != want {
			t.Errorf("change %d: %v", i, err)
		}
	}

	// A user's factors updated, disabled and deleted: each assumed the user's.
	for _, id := range []string{"fa", "fb", "fc"} {
		err := s.CreateFactor(ctx, store.Factor{ID: id, UserID: "n3", Type: "totp", State: store.FactorActive,
			Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: t0, UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
	}
	factors := store.UserChange{Name: "new-3", Now: t0.Add(2 * time.Hour),
		UpdateFactors: []store.FactorUpdate{{ID: "fa", Label: "renamed"}},
		StateChanges:  []store.FactorStateChange{{ID: "fb", State: store.FactorDisabled}},
		DeleteFactors: []string{"fc"}}
	rt.n.Store(0)
	if err := s.ApplyUserChanges(ctx, []store.UserChange{factors})[0]; err != nil {
		t.Fatal(err)
	}
	if n := rt.n.Load(); n != 2 {
		t.Errorf("a user's factors changed: %d round trips, want 2", n)
	}
	fa, _ := s.GetFactor(ctx, "fa")
	fb, _ := s.GetFactor(ctx, "fb")
	_, err = s.GetFactor(ctx, "fc")
	if fa.Label != "renamed" || fb.State != store.FactorDisabled || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the factors' change: %q, %s, %v", fa.Label, fb.State, err)
	}
	// Another user's factor is not this one's: that change alone is refused.
	errs = s.ApplyUserChanges(ctx, []store.UserChange{
		{Name: "new-4", Now: t0, Profile: &store.Profile{DisplayName: "Four"}},
		{Name: "new-5", Now: t0, StateChanges: []store.FactorStateChange{{ID: "fa", State: store.FactorDisabled}}},
	})
	if errs[0] != nil || !errors.Is(errs[1], store.ErrNotFound) {
		t.Errorf("another user's factor: %v, %v", errs[0], errs[1])
	}
	if fa, _ := s.GetFactor(ctx, "fa"); fa.State != store.FactorActive {
		t.Errorf("another user's change disabled factor fa")
	}
}

// lookupHook runs then, once, when the store's read of its users' ids has ended.
type lookupHook struct {
	roundTrips
	lookup bool
	then   func()
}

func (h *lookupHook) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	h.lookup = strings.HasPrefix(d.SQL, "SELECT lower(name), id FROM users WHERE lower(name) IN")
	return h.roundTrips.TraceQueryStart(ctx, c, d)
}

func (h *lookupHook) TraceQueryEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	if h.lookup && h.then != nil {
		then := h.then
		h.then = nil
		then()
	}
}

// A user deleted between the read of the batch's ids and its unit: the unit fails (its
// assumption that the user is still there, and its profile's reference to the user, each
// catch it), nothing of the batch commits, and the change-by-change path applies the
// others and reports that one not found.
func TestUserBatchWithAUserGone(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	hook := &lookupHook{}
	s := openTraced(t, dsn, 1, hook)
	other, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx := t.Context()
	var batch []store.UserChange
	for _, name := range []string{"ann", "bea", "cid"} {
		u := store.User{ID: "id-" + name, Name: name, CreatedAt: t0}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, store.UserChange{Name: name, Now: t0, Profile: &store.Profile{DisplayName: "Changed"}})
	}
	hook.then = func() {
		if err := other.ApplyUserChanges(ctx, []store.UserChange{{Name: "bea", Delete: true, Now: t0}})[0]; err != nil {
			t.Error(err)
		}
	}
	errs := s.ApplyUserChanges(ctx, batch)
	if hook.then != nil {
		t.Fatal("the batch did not read its users' ids")
	}
	for i, err := range errs {
		if want := i == 1; errors.Is(err, store.ErrNotFound) != want {
			t.Errorf("change %d: %v", i, err)
		}
	}
	for _, name := range []string{"ann", "cid"} {
		if rec, err := s.GetUserRecord(ctx, name); err != nil || rec.Profile.DisplayName != "Changed" {
			t.Errorf("%s: %+v, %v", name, rec, err)
		}
	}
}

// deadlocks counts the statements PostgreSQL aborted as deadlocked.
type deadlocks struct {
	roundTrips
	n atomic.Int64
}

func (d *deadlocks) count(err error) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "40P01" {
		d.n.Add(1)
	}
}
func (d *deadlocks) TraceQueryEnd(_ context.Context, _ *pgx.Conn, e pgx.TraceQueryEndData) {
	d.count(e.Err)
}
func (d *deadlocks) TraceBatchQuery(_ context.Context, _ *pgx.Conn, q pgx.TraceBatchQueryData) {
	d.count(q.Err)
}

// Two batches changing the same user at once queue on its row; neither deadlocks. (The
// lock first taken FOR SHARE, then upgraded by the UPDATE, deadlocked them in most
// rounds: PostgreSQL aborted one after its deadlock_timeout, a second's stall, and the
// batch went change by change.)
func TestUserBatchesOnOneUserDoNotDeadlock(t *testing.T) {
	d := &deadlocks{}
	s := openTraced(t, "", 4, d)
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		var wg sync.WaitGroup
		for _, disabled := range []bool{true, false} {
			wg.Go(func() {
				c := store.UserChange{Name: "alice", Now: t0, Disabled: &disabled, Profile: &store.Profile{DisplayName: fmt.Sprint(disabled)}}
				if err := s.ApplyUserChanges(ctx, []store.UserChange{c})[0]; err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := d.n.Load(); n > 0 {
		t.Errorf("%d statements aborted as deadlocked", n)
	}
}
