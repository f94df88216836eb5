package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestUnlockLiftsPageSignInLimit: a help desk that unlocks a person's factor lifts the
// self-service page's sign-in limit of their name too, in the unlock's commit: the right
// code signs in at once, not in a quarter of an hour. The unlock's record says so; another
// name's limit stays.
func TestUnlockLiftsPageSignInLimit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en := enrollTOTP(t, m)
		ss := selfService(t, m, "totp")
		for range 5 {
			pageSignIn(t, ss, "alice", wrongCode(t, en, clk.Now()))
			pageSignIn(t, ss, "nobody", "000000")
		}
		_, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now()))
		wantLimited(t, "the 6th attempt", err)

		if _, err := m.UnlockFactor(ctx, "desk", "ALICE", en.Factor.ID); err != nil {
			t.Fatal(err)
		}
		page := auditOf(t, m, "admin.factors.unlock")
		if len(page.Events) != 1 || page.Events[0].Actor != "desk" || page.Events[0].Reason != "page sign-in limit cleared" {
			t.Errorf("the unlock's record: %+v", page.Events)
		}
		if _, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now())); err != nil {
			t.Errorf("the right code after the unlock: %v", err)
		}
		_, err = pageSignIn(t, ss, "nobody", "000000")
		wantLimited(t, "another name after alice's unlock", err)

		// An unlock with no limit to lift says nothing of one.
		clk.Advance(time.Minute)
		if _, err := m.UnlockFactor(ctx, "desk", "alice", en.Factor.ID); err != nil {
			t.Fatal(err)
		}
		// alice's sign-in above counted one attempt: lifted again, still said.
		page = auditOf(t, m, "admin.factors.unlock")
		if len(page.Events) != 2 || page.Events[0].Reason != "page sign-in limit cleared" {
			t.Errorf("the second unlock's record: %+v", page.Events)
		}
		if _, err := m.UnlockFactor(ctx, "desk", "alice", en.Factor.ID); err != nil {
			t.Fatal(err)
		}
		page = auditOf(t, m, "admin.factors.unlock")
		if len(page.Events) != 3 || page.Events[0].Reason != "" {
			t.Errorf("an unlock with no limit to lift: %+v", page.Events)
		}
	})
}

// refusingLinks is a RefusingAudits store that keeps the self-service page's links.
type refusingLinks struct {
	*testdb.RefusingAudits
	store.SelfService
}

func (s refusingLinks) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

// TestUnlockNeedsItsRecord: an unlock whose record cannot be written lifts no limit.
func TestUnlockNeedsItsRecord(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		refusing := &testdb.RefusingAudits{Store: st}
		m, clk := newManager(t, refusingLinks{refusing, st.(store.SelfService)})
		addAlice(t, m)
		en := enrollTOTP(t, m)
		ss := selfService(t, m, "totp")
		for range 5 {
			pageSignIn(t, ss, "alice", wrongCode(t, en, clk.Now()))
		}
		refusing.Refuse.Store(true)
		if _, err := m.UnlockFactor(ctx, "desk", "alice", en.Factor.ID); !errors.Is(err, testdb.ErrAuditRefused) {
			t.Fatalf("unlock with its record refused: %v", err)
		}
		refusing.Refuse.Store(false)
		_, err := pageSignIn(t, ss, "alice", codeOf(t, en, clk.Now()))
		wantLimited(t, "after the refused unlock", err)
	})
}
