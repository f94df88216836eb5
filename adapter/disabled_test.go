package adapter

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// p78Store is a store in which a link's user is disabled right after the read of the
// link that brings reads to 0: the page's session check passes, and the step after it
// (which reads the link again, linkUsable) finds the user disabled, as when an admin
// disables the user while the form is on its way.
type p78Store struct {
	p78FullStore
	reads atomic.Int32
	m     *lifecycle.Manager
}

type p78FullStore interface {
	store.Store
	store.SelfService
}

func (d *p78Store) GetLink(ctx context.Context, hash string) (store.SelfServiceLink, error) {
	l, err := d.p78FullStore.GetLink(ctx, hash)
	if err == nil && d.reads.Add(-1) == 0 {
		if _, err := d.m.SetUserState(ctx, "test", l.UserName, true); err != nil {
			panic(err)
		}
	}
	return l, err
}

// p78DisablingPage is the page with texted codes over a p78Store.
func p78DisablingPage(t *testing.T) (*adminHarness, *p78Store, *sentTo) {
	t.Helper()
	ds := &p78Store{p78FullStore: testdb.SQLite(t).(p78FullStore)}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	caps := []string{"totp", "smsotp"}
	sent := &sentTo{}
	config := map[string]any{"smsotp": map[string]any{"sender": "record"},
		"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}}
	engine, err := builtin.New(builtin.Options{Store: ds, Keyring: keys, Capabilities: caps, Config: config,
		Senders: func(string) (delivery.Sender, error) { return sent, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: ds, Engines: []*builtin.Engine{engine}, Capabilities: map[string][]string{"acme": caps}})
	if err != nil {
		t.Fatal(err)
	}
	ds.m = m
	h := &adminHarness{store: ds, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: caps, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", HelpText: "Call the help desk."})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	return h, ds, sent
}

// TestResendDisabledUser: "Send a new code" for a user an admin disabled while
// the form was on its way sends nothing (no code of a disabled user activates), and the
// page says so plainly: no code was sent, none can be, and whom to ask. It said "Your
// session has ended. Sign in again, or open your link again." (or, with the session
// kept, "No new code was sent. Try again later."): both lead back to a sign-in and a
// link that can no longer work, and to trying again for ever. It names no state of the
// account the session's holder did not already see (the page's own words).
func TestResendDisabledUser(t *testing.T) {
	for _, step := range []string{"resend", "enroll"} {
		t.Run(step, func(t *testing.T) {
			h, ds, sent := p78DisablingPage(t)
			p := &pageBrowser{h: h}
			p.do(t, "GET", linkOf(t, h, "alice"), nil)
			p.do(t, "GET", "/self-service/enroll", nil)
			enroll := url.Values{"type": {"smsotp"}, "destination": {"+15550100199"}}
			if step == "resend" {
				if code := p.do(t, "POST", "/self-service/enroll", enroll); code != http.StatusOK || len(sent.all()) != 1 {
					t.Fatalf("enroll: %d, %d sent\n%s", code, len(sent.all()), p.body)
				}
			}
			ds.reads.Store(2) // the session's check, then the step's
			var status int
			if step == "resend" {
				status = p.do(t, "POST", "/self-service/resend", url.Values{})
			} else {
				status = p.do(t, "POST", "/self-service/enroll", enroll)
			}
			if n := len(sent.all()); n != map[string]int{"resend": 1, "enroll": 0}[step] {
				t.Errorf("%d codes sent: one went to a disabled user", n)
			}
			for _, bad := range []string{"try again", "Try again", "session has ended", "open your link again", "Check what you typed"} {
				if strings.Contains(p.body, bad) {
					t.Errorf("%s for a user disabled meanwhile says %q: %d\n%s", step, bad, status, p.body)
				}
			}
			if status != http.StatusConflict || !strings.Contains(p.body, "No code was sent, and none can be") ||
				!strings.Contains(p.body, "Call the help desk.") {
				t.Errorf("%s for a user disabled meanwhile: %d, want 409 saying no code can be sent, with the help text\n%s", step, status, p.body)
			}
			if p.cookie != "" {
				t.Errorf("%s: the session cookie is kept for a session that can do nothing more", step)
			}
		})
	}
}
