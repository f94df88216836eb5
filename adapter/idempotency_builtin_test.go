package adapter

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// hookSender counts the codes it takes, calling hook (when set) as it takes one.
type hookSender struct {
	mu   sync.Mutex
	sent int
	hook func()
}

func (*hookSender) Kind() string                 { return "hook" }
func (*hookSender) Serves(delivery.Channel) bool { return true }
func (s *hookSender) Send(context.Context, delivery.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook != nil {
		s.hook()
	}
	s.sent++
	return nil
}

func (s *hookSender) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.sent }

// TestCanceledInitiateRetrySendsOnceOverHTTP: Verify drops its connection just as the SMS
// gateway accepts the code, and retries with the same X-Webhook-ID (contract §12: "without
// a second execution (no second code sent …)"). The builtin engine's SMS behind the real
// HTTP surface: the retry gets the first answer byte for byte, and one code went out. The
// engine's part alone is builtin's TestCanceledInitiateRetrySendsOnce.
func TestCanceledInitiateRetrySendsOnceOverHTTP(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
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
		send := func(ctx context.Context) (int, string) {
			req := httptest.NewRequest("POST", "/v1/providers/acme/initiate", strings.NewReader(body)).WithContext(ctx)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(HeaderWebhookID, "wh-cancel")
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			return rec.Code, strings.TrimSpace(rec.Body.String())
		}
		cctx, cancel := context.WithCancel(ctx)
		sms.hook = cancel // the gateway takes the code as Verify's connection goes
		code1, body1 := send(cctx)
		sms.hook = nil
		code2, body2 := send(ctx) // Verify's retry
		if sms.count() != 1 || code1 != 200 || code2 != code1 || body2 != body1 || !strings.Contains(body1, `"PENDING"`) {
			t.Errorf("first attempt %d %s; retry %d %s; %d codes sent, want one PENDING answered twice", code1, body1, code2, body2, sms.count())
		}
	})
}

// leaseEndsStore is an idempotency store whose clock jumps past every lease the first time
// a waiting attempt looks at a record: the attempt that left it has died.
type leaseEndsStore struct {
	provider.IdempotencyStore
	mu    sync.Mutex
	now   time.Time
	looks int
}

func (s *leaseEndsStore) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *leaseEndsStore) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	s.mu.Lock()
	if s.looks++; s.looks == 1 {
		s.now = s.now.Add(time.Hour)
	}
	s.mu.Unlock()
	return s.IdempotencyStore.GetIdempotency(ctx, key)
}

// TestLateClaimRunsAgainWithTheBody: a validate that claims in its deciding unit (DoLate)
// and finds the claim of an attempt whose process died runs the handler again once that
// claim's lease has passed. The second run reads the whole body and answers afresh: before,
// it read the body the first run had drained, and answered and recorded 400 "body is
// empty" for a well-formed request, which every later retry then got.
func TestLateClaimRunsAgainWithTheBody(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
		if err != nil {
			t.Fatal(err)
		}
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp"},
			Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
		en, err := engine.Enroll(ctx, builtin.Enrollment{Type: "totp", User: "alice", Values: url.Values{"secret": {secret}}})
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"totp"},
			Engine: engine, Audit: st}
		if !p.ClaimsLate(provider.ResourceValidate) {
			t.Fatal("a built-in validate claims in its deciding unit: this test's premise")
		}
		ids := &leaseEndsStore{IdempotencyStore: st, now: at}
		idem := &provider.Idempotency{Store: ids, TTL: 10 * time.Minute, Lease: 7 * time.Second, Poll: time.Millisecond, Now: ids.Now}
		srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true},
			RequestTimeout: 5 * time.Second, Idempotency: idem})
		body := `{"capability":"totp","id":"` + en.Factor.ID + `","attributes":{"username":"alice","passvalue":"` + code + `"}}`
		// The claim of an earlier attempt, whose process died before it decided.
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-dead", Fingerprint: idem.Key.Fingerprint(provider.ResourceValidate, []byte(body))}
		if c, err := st.ClaimIdempotency(ctx, key, "dead", at.Add(time.Second), at.Add(time.Minute), at); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		req := httptest.NewRequest("POST", "/v1/providers/acme/validate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderWebhookID, "wh-dead")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		got, _ := st.GetIdempotency(ctx, key)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"SUCCESS"`) || rec.Header().Get("Content-Type") != "application/json" ||
			!got.Done || got.Status != 200 || string(got.Body) != rec.Body.String() {
			t.Errorf("the retry after the dead attempt's lease: %d %q %s; recorded %d %s", rec.Code, rec.Header().Get("Content-Type"),
				rec.Body, got.Status, got.Body)
		}
	})
}
