package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestLinkEndsAtItsExpiry: a link works up to the instant before the expiry it was
// issued with (Link.Expires, which the store keeps to the millisecond), and not at it:
// its page, its session and the confirm that would spend it all say "expired" then, and
// none says "used already", whichever clock reading (to the nanosecond) falls there. The
// page's check and the store's refusal to spend must agree to the instant, or a confirm
// at the boundary would be refused as spent, or spend a link the page calls expired.
func TestLinkEndsAtItsExpiry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")     // links last an hour
		clk.Advance(500 * time.Microsecond) // between two of the store's milliseconds

		for _, at := range []time.Duration{-time.Nanosecond, 0} {
			clk.Advance(2 * time.Minute) // one link per user a minute
			l, err := ss.IssueLink(ctx, "test", "alice", false)
			if err != nil {
				t.Fatal(err)
			}
			token := l.URL[strings.LastIndex(l.URL, "/")+1:]
			sess, en := enrollVia(t, ss, token, "totp")
			clk.Advance(l.Expires.Sub(clk.Now()) + at)

			_, openErr := ss.OpenLink(ctx, token)
			_, sessErr := ss.Session(ctx, sess.Cookie)
			_, confirmErr := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now()))
			if at < 0 {
				if openErr != nil || sessErr != nil || confirmErr != nil {
					t.Errorf("%s before the link's end: open %v, session %v, confirm %v; want all to work", -at, openErr, sessErr, confirmErr)
				}
				continue
			}
			for what, err := range map[string]error{"open": openErr, "session": sessErr, "confirm": confirmErr} {
				if !errors.Is(err, lifecycle.ErrLinkExpired) {
					t.Errorf("at the link's end: %s %v, want %v", what, err, lifecycle.ErrLinkExpired)
				}
			}
			if f, err := m.GetFactor(ctx, "alice", en.Factor.ID); err != nil || f.State != lifecycle.FactorPendingActivation {
				t.Errorf("the set-up confirmed at the link's end: %+v %v, want it still pending", f, err)
			}
		}
	})
}
