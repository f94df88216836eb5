package builtin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// answersOf are the records of a device's answers.
func answersOf(t *testing.T, st store.Store, id string) []store.AuditEvent {
	t.Helper()
	all, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(ev store.AuditEvent) bool {
		return ev.Resource != builtin.ResourceDeviceAnswer || ev.FactorID != id
	})
}

// TestLateDenialIsAFraudSignal: a denial is the user saying "that was not me".
// Under a push-fatigue attack each initiate withdraws the challenge before it, so the one
// the user denies has often been CANCELED by the next (or timed out while they read it):
// it was answered 409 and nothing else, no WARN, no record, and the signal was lost
// exactly when it mattered. Now the answer is still 409, the challenge keeps its status,
// and the denial is logged and recorded once per challenge.
func TestLateDenialIsAFraudSignal(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", builtin.AlgEd25519)
		older := f.initiate(t, "alice", d.id).TransactionID
		newer := f.initiate(t, "alice", d.id).TransactionID // withdraws older

		for range 2 { // denied twice: recorded once
			if _, err := f.answer(d, older, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
				t.Fatalf("denying a withdrawn challenge: %v, want ErrChallengeClosed", err)
			}
		}
		if got := f.result(t, "alice", d.id, older); got != provider.StatusCanceled {
			t.Errorf("withdrawn challenge after the denial: %s", got)
		}
		if !strings.Contains(f.logs.String(), "possible fraud") || !strings.Contains(f.logs.String(), older) {
			t.Errorf("a denial of a withdrawn challenge is not logged as a fraud signal:\n%s", f.logs.String())
		}
		evs := answersOf(t, st, d.id)
		if len(evs) != 1 || evs[0].Outcome != "FAILED" || evs[0].Username != "alice" || evs[0].Capability != "push" ||
			!strings.Contains(evs[0].Reason, "denied") || !strings.Contains(evs[0].Reason, "CANCELED") {
			t.Fatalf("records of the device's answers: %+v", evs)
		}

		// Timed out while the user read it: the same.
		f.clock.Advance(2*time.Minute + time.Second)
		if _, err := f.answer(d, newer, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Fatalf("denying a timed-out challenge: %v", err)
		}
		if got := f.result(t, "alice", d.id, newer); got != provider.StatusTimeout {
			t.Errorf("timed-out challenge after the denial: %s", got)
		}
		if evs := answersOf(t, st, d.id); len(evs) != 2 || !strings.Contains(evs[0].Reason, "TIMEOUT") {
			t.Errorf("records after the late denial: %+v", evs)
		}

		// A late approval or cancel is no signal: nothing recorded.
		third := f.initiate(t, "alice", d.id).TransactionID
		f.initiate(t, "alice", d.id)
		for _, dec := range []provider.Decision{provider.Approve, provider.Cancel} {
			if _, err := f.answer(d, third, dec, nil); !errors.Is(err, provider.ErrChallengeClosed) {
				t.Fatalf("%s of a withdrawn challenge: %v", dec, err)
			}
		}
		if evs := answersOf(t, st, d.id); len(evs) != 2 {
			t.Errorf("a late approval or cancel recorded: %+v", evs)
		}

		// Approved, then denied: the sign-in stands, the "not me" is on record beside it.
		fourth := f.initiate(t, "alice", d.id).TransactionID
		if got, err := f.answer(d, fourth, provider.Approve, nil); err != nil || got != provider.StatusSuccess {
			t.Fatalf("approve: %s %v", got, err)
		}
		if _, err := f.answer(d, fourth, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Fatalf("deny after approve: %v", err)
		}
		if got := f.result(t, "alice", d.id, fourth); got != provider.StatusSuccess {
			t.Errorf("result after deny after approve: %s", got)
		}
		if evs := answersOf(t, st, d.id); len(evs) != 4 || evs[0].Outcome != "FAILED" || !strings.Contains(evs[0].Reason, "SUCCESS") ||
			evs[1].Outcome != "SUCCESS" {
			t.Errorf("records after deny after approve: %+v", evs)
		}
		// Denied in time, then again (a retry): the denial is on record once.
		fifth := f.initiate(t, "alice", d.id).TransactionID
		for range 2 {
			f.answer(d, fifth, provider.Deny, nil)
		}
		if evs := answersOf(t, st, d.id); len(evs) != 5 {
			t.Errorf("a denial retried recorded twice: %+v", evs)
		}
	})
}

// TestLateDenialInTheUnit: the challenge ends while the denial's unit waits: its
// deadline passes (the store's writer busy), or a newer initiate withdraws it first. The
// denial is answered 409 and kept as a late one.
func TestLateDenialInTheUnit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", builtin.AlgEd25519)

		busy, err := builtin.NewDevices(builtin.DevicesOptions{Store: busyWriter{st, f.clock, time.Second}, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		challenge := f.initiate(t, "alice", d.id).TransactionID
		tx, err := st.GetTransaction(ctx, "push:"+challenge)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(tx.ExpiresAt.Sub(f.clock.Now()) - 100*time.Millisecond)
		if _, err := busy.Answer(ctx, d.id, challenge, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Fatalf("a denial whose unit ran past the deadline: %v", err)
		}
		if evs := answersOf(t, st, d.id); len(evs) != 1 || !strings.Contains(evs[0].Reason, "ended TIMEOUT") {
			t.Errorf("records after a denial past the deadline in its unit: %+v", evs)
		}

		challenge = f.initiate(t, "alice", d.id).TransactionID
		var once sync.Once
		racing, err := builtin.NewDevices(builtin.DevicesOptions{Store: racingStore{Store: st, first: func() {
			once.Do(func() { f.initiate(t, "alice", d.id) })
		}}, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := racing.Answer(ctx, d.id, challenge, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Fatalf("a denial of a challenge withdrawn while its unit waited: %v", err)
		}
		if evs := answersOf(t, st, d.id); len(evs) != 2 || !strings.Contains(evs[0].Reason, "ended CANCELED") {
			t.Errorf("records after a denial withdrawn in its unit: %+v", evs)
		}
	})
}
