package adapter

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			cp := func(a, b net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := b.Read(buf)
					if n > 0 {
						a.Write(buf[:n])
					}
					if err != nil {
						a.Close()
						b.Close()
						return
					}
				}
			}
			go cp(c, s)
			go cp(s, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestRestartDuringSendRetrySendsOnce: PostgreSQL restarts (every connection cut)
// while an initiate's SMS goes out, between its claim and its decision; the database
// is back at once. The decision is recorded, and Verify's retry gets the answer, not a
// second code.
func TestRestartDuringSendRetrySendsOnce(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	u, _ := url.Parse(dsn)
	px := newCutProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	var st store.Store
	pst, err := postgres.Open(t.Context(), u.String())
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
	sms.hook = px.cut
	code1, body1 := send()
	sms.hook = nil
	code2, body2 := send()
	t.Logf("first %d %s; retry %d %s; %d codes", code1, body1, code2, body2, sms.count())
	if sms.count() != 1 {
		t.Errorf("first attempt %d %s; retry %d %s; %d codes sent, want one", code1, body1, code2, body2, sms.count())
	}
}
