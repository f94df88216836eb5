package adapter

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// acceptingSender takes every code.
type acceptingSender struct{}

func (acceptingSender) Kind() string                                 { return "null" }
func (acceptingSender) Serves(delivery.Channel) bool                 { return true }
func (acceptingSender) Send(context.Context, delivery.Message) error { return nil }

// An activation code refused by the send limits (one per user per 30 s, the default) is
// answered 429 with Retry-After, the seconds until the limits allow the next, so that an
// automation enrolling a user's SMS and then e-mail factor knows to wait, not give up.
func TestAdminActivationSendLimitRetryAfter(t *testing.T) {
	st := testdb.SQLite(t)
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clock, Capabilities: []string{"smsotp", "emailotp"},
		Config:  map[string]any{"smsotp": map[string]any{"sender": "null"}, "emailotp": map[string]any{"sender": "null"}},
		Senders: func(string) (delivery.Sender, error) { return acceptingSender{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: clock,
		Capabilities: map[string][]string{"acme": {"smsotp", "emailotp"}}})
	if err != nil {
		t.Fatal(err)
	}
	token, err := m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Admin = m })
	auth := []string{"Authorization", "Bearer " + token}
	if code, body, _ := h.do(t, "POST", "/admin/v1/users", `{"name":"alice"}`, auth...); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body, _ := h.do(t, "POST", "/admin/v1/users/alice/factors", `{"type":"smsotp","params":{"phone":"+15550100001"}}`, auth...); code != http.StatusCreated {
		t.Fatalf("sms: %d %s", code, body)
	}
	now = now.Add(12 * time.Second)
	code, body, hdr := h.do(t, "POST", "/admin/v1/users/alice/factors", `{"type":"emailotp","params":{"email":"alice@example.com"}}`, auth...)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "18" || !bytes.Contains([]byte(body), []byte(`"activation_not_sent"`)) {
		t.Errorf("e-mail 12 s later: %d Retry-After %q %s; want 429, Retry-After 18, activation_not_sent", code, hdr.Get("Retry-After"), body)
	}
	now = now.Add(18 * time.Second)
	if code, body, _ := h.do(t, "POST", "/admin/v1/users/alice/factors", `{"type":"emailotp","params":{"email":"alice@example.com"}}`, auth...); code != http.StatusCreated {
		t.Errorf("e-mail after the wait: %d %s", code, body)
	}
}
