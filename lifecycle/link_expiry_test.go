package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestOpenLinkPageExpiresAfterTheSweep: a link's page left open past the link's end
// says the link expired (ask for a new one), as README promises ("a link that expires
// while its page is open says so"), though the sweeper, every minute, ran meanwhile: not
// "your session has ended; start again", which leads back to the same dead link.
func TestOpenLinkPageExpiresAfterTheSweep(t *testing.T) {
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

// hangUpSender takes a message, as a mail server does, while the caller hangs up (the
// script's HTTP timeout, or the import's deadline, landing as the relay answered).
type hangUpSender struct {
	cancel context.CancelFunc
	text   string
}

func (*hangUpSender) Kind() string                 { return "hangup" }
func (*hangUpSender) Serves(delivery.Channel) bool { return true }
func (h *hangUpSender) Send(_ context.Context, m delivery.Message) error {
	h.text = m.Text
	h.cancel()
	return nil
}

// TestMailedLinkStoredWhenTheCallerHangsUp: once the mail server took the link,
// the caller hanging up does not leave the user a link that opens nothing (and the
// minute spent): the link is stored, with its record, as it was sent.
func TestMailedLinkStoredWhenTheCallerHangsUp(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		m, _ := newManager(t, st)
		email := "alice@example.com"
		if _, err := m.CreateUser(context.Background(), "test", lifecycle.UserInput{Name: "alice", Email: &email}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mailer := &hangUpSender{cancel: cancel}
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
			SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", Mailer: mailer, Subject: "Set up", Text: "{{.Link}}"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ss.IssueLink(ctx, "test", "alice", true)
		token := mailer.text[strings.LastIndex(mailer.text, "/")+1:]
		if _, oerr := ss.OpenLink(context.Background(), token); oerr != nil {
			t.Errorf("the mailed link (IssueLink: %v) opens nothing: %v", err, oerr)
		}
	})
}
