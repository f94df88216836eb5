package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestReviewOpenLinkPageExpiresAfterTheSweep: a link's page left open past the link's end
// says the link expired (ask for a new one), as README promises ("a link that expires
// while its page is open says so"), though the sweeper, every minute, ran meanwhile: not
// "your session has ended; start again", which leads back to the same dead link.
func TestReviewOpenLinkPageExpiresAfterTheSweep(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp") // links last an hour, sessions idle an hour
		sweeper := &builtin.Sweeper{Store: st, Now: clk.Now, SessionIdle: time.Hour}
		sess, err := ss.OpenLink(ctx, linkToken(t, ss))
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(50 * time.Minute)
		if _, err := ss.Session(ctx, sess.Cookie); err != nil { // the person reads the page
			t.Fatal(err)
		}
		clk.Advance(11 * time.Minute) // the link ended a minute ago, the session not idle
		if _, err := sweeper.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Session(ctx, sess.Cookie); !errors.Is(err, lifecycle.ErrLinkExpired) {
			t.Errorf("the link's page after its end and a sweep: %v, want %v", err, lifecycle.ErrLinkExpired)
		}
	})
}
