package adapter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// unreservedSends is a store whose send reservations fail, as a database gone away
// between two statements.
type unreservedSends struct {
	store.Store
	store.SelfService
}

func (s unreservedSends) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (unreservedSends) ReserveSend(context.Context, []string, []store.SendLimit, time.Time) error {
	return errors.New("dial tcp 10.1.2.3:5432: connect: connection refused")
}

// TestCreateInviteFault: a user created with invite whose link a store fault
// stopped is answered 201 with the user and an inviteError, as a refused send is. Before,
// it was answered 503 "unavailable", though the user was created: the README's promise
// that such an answer made no change was broken, and the script's retry was refused
// user_exists.
func TestCreateInviteFault(t *testing.T) {
	st := testdb.SQLite(t)
	h := newAdminHarnessOn(t, unreservedSends{Store: st, SelfService: st.(store.SelfService)})
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com", Mailer: acceptingSender{}})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice","email":"alice@example.com","invite":true}`)
	ie, _ := out["inviteError"].(map[string]any)
	if code != http.StatusCreated || out["name"] != "alice" || ie["code"] != "link_not_sent" || strings.Contains(ie["message"].(string), "dial tcp") {
		t.Errorf("create with invite, the send's reservation failing: %d %v; want 201, alice, inviteError link_not_sent in the API's words", code, out)
	}
}
