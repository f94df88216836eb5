package adapter

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/tcpproxy"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestRestartDuringSendRetrySendsOnce: PostgreSQL restarts (every connection cut)
// while an initiate's SMS goes out, between its claim and its decision; the database
// is back at once. The decision is recorded, and Verify's retry gets the answer, not a
// second code.
func TestRestartDuringSendRetrySendsOnce(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	pdsn, px := tcpproxy.ForDSN(t, dsn)
	var st store.Store
	pst, err := postgres.Open(t.Context(), pdsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pst.Close() })
	st = pst
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	sms := &hookSender{}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now, Capabilities: []string{"smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "sms"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sms, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: now()}); err != nil {
		t.Fatal(err)
	}
	en, err := engine.Enroll(ctx, builtin.Enrollment{Type: "smsotp", User: "alice", Values: url.Values{"phone": {"+15551230123"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
		Engine: engine, Audit: st}
	srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true},
		RequestTimeout: 5 * time.Second,
		Idempotency:    &provider.Idempotency{Store: st, TTL: 10 * time.Minute, Lease: 7 * time.Second, Poll: time.Millisecond}})
	body := `{"capability":"smsotp","id":"` + en.Factor.ID + `","attributes":{"username":"alice"}}`
	send := func() (int, string) {
		req := httptest.NewRequest("POST", "/v1/providers/acme/initiate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderWebhookID, "wh-restart")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}
	sms.hook = px.CutAll
	code1, body1 := send()
	sms.hook = nil
	code2, body2 := send()
	t.Logf("first %d %s; retry %d %s; %d codes", code1, body1, code2, body2, sms.count())
	if sms.count() != 1 {
		t.Errorf("first attempt %d %s; retry %d %s; %d codes sent, want one", code1, body1, code2, body2, sms.count())
	}
}
