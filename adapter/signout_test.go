package adapter

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store/sqlite"
)

// deleteRefusing is a store whose DeleteSession fails while refuse is set (a database
// that stopped answering, a lost connection).
type deleteRefusing struct {
	*sqlite.Store
	refuse atomic.Bool
}

func (s *deleteRefusing) DeleteSession(ctx context.Context, hash string) error {
	if s.refuse.Load() {
		return errors.New("delete self-service session: connection lost")
	}
	return s.Store.DeleteSession(ctx, hash)
}

// refusingPage is the page over a store whose session ends fail while st says so
// (deleteRefusing), and alice, a user of it.
func refusingPage(t *testing.T) (*deleteRefusing, *adminHarness) {
	t.Helper()
	st := &deleteRefusing{Store: testdb.SQLite(t).(*sqlite.Store)}
	h := newAdminHarnessOn(t, st)
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: 3600e9,
		SessionIdle: 600e9, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	return st, h
}

// TestSignOutThatEndsNothingSaysSo: "Sign out" ended the session in the store and
// cleared the cookie, and said "You have signed out" whether or not the store had ended
// it. When it had not, the session lived on, server-side, for its idle time and more (each
// use extends it): a copy of the cookie (a shared computer's, a proxy's, a stolen one)
// still managed the user's sign-in methods while the person believed it ended. A sign-out
// that ended nothing must say so, and keep the cookie, so that the person signs out again.
func TestSignOutThatEndsNothingSaysSo(t *testing.T) {
	st, h := refusingPage(t)
	_, code := totpFactor(t, h, "alice")
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.signIn("alice", code())
	signedIn := p.cookie

	st.refuse.Store(true)
	a := p.post("/self-service/signout", url.Values{})
	st.refuse.Store(false)
	said := a.status == http.StatusSeeOther && strings.Contains(a.header.Get("Location"), "signed-out")

	p.cookie = signedIn // a copy of the cookie
	lives := strings.Contains(p.get("/self-service/").body, "Your sign-in methods")
	if lives && said {
		t.Errorf("the sign-out answered %d to %q (signed out), and the session it did not end still opens the factors page",
			a.status, a.header.Get("Location"))
	}
	if lives && a.status < 500 {
		t.Errorf("a sign-out that ended nothing answered %d, want a fault the person sees", a.status)
	}
}
