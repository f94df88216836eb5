package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestSamePendingTellsMailboxesApart: starting an e-mail set-up again to another
// address, one that differs from the pending one by a hyphen, a space or a parenthesis
// ("jeanluc@" after a mistyped "jean-luc@"), starts a new one; were it taken for the
// same start, the page would show the pending set-up, whose code went to the mistyped
// mailbox, and the person would wait for a code that never comes.
func TestSamePendingTellsMailboxesApart(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManagerSending(t, st, &keptSender{})
		addAlice(t, m)
		ss := selfService(t, m, "totp", "emailotp")
		sess, err := ss.OpenLink(ctx, linkToken(t, ss))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Enroll(ctx, &sess, "emailotp", "jean-luc@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, same := range []string{"jean-luc@example.com", " Jean-Luc@Example.COM "} {
			if !ss.SamePending(ctx, sess, "emailotp", same) {
				t.Errorf("%q: not the pending set-up's address", same)
			}
		}
		for _, other := range []string{"jeanluc@example.com", "jean-luc@ex-ample.com"} {
			if ss.SamePending(ctx, sess, "emailotp", other) {
				t.Errorf("%q taken for the pending set-up's jean-luc@example.com", other)
			}
		}
	})
}

// TestStalePhoneGivenAgainAsTelURI: a number stored before emfa's checks grew
// stricter, given again with the same digits in a form the README says emfa takes (a
// tel: URI, as SCIM suggests; digits grouped with slashes or Unicode hyphens), is kept,
// so that the directory's update it comes with (a deactivation) is not held up by it.
func TestStalePhoneGivenAgainAsTelURI(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, err := lifecycle.New(lifecycle.Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		s := func(v string) *string { return &v }
		if _, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "carol", Phone: s("+15550100199")}); err != nil {
			t.Fatal(err)
		}
		for _, given := range []string{"tel:+1-555-010-019", "+1 555/010/019", "+1\u2011555\u2011010\u2011019"} {
			// A digit short: stored before the checks.
			if errs := st.ApplyUserChanges(ctx, []store.UserChange{{Name: "carol",
				Profile: &store.Profile{Phone: "+1555010019"}, Now: time.Now()}}); errs[0] != nil {
				t.Fatal(errs[0])
			}
			off := string(lifecycle.StateDisabled)
			c, err := m.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s(given), State: &off})
			if err != nil || c.Phone != "+1555010019" || c.State != off {
				t.Errorf("%q, the stored number given again: %+v %v", given, c, err)
			}
			on := string(lifecycle.StateActive)
			if _, err := m.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{State: &on}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s("tel:+1-555-010-018")}); err == nil {
			t.Error("another number a digit short was taken")
		}
	})
}
