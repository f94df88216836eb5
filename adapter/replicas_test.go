package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"path/filepath"
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
	"github.com/emfa/emfa/store/sqlite"
)

// c59Clock is a fake clock shared by the replicas of a test.
type c59Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *c59Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *c59Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// c59Sender records the codes it sends; gate, when set, holds each send until closed.
type c59Sender struct {
	mu      sync.Mutex
	codes   []string
	entered chan struct{}
	gate    chan struct{}
}

func (*c59Sender) Kind() string                 { return "c59" }
func (*c59Sender) Serves(delivery.Channel) bool { return true }
func (s *c59Sender) Send(ctx context.Context, m delivery.Message) error {
	s.mu.Lock()
	entered, gate := s.entered, s.gate
	s.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	s.codes = append(s.codes, m.Code)
	s.mu.Unlock()
	return nil
}

func (s *c59Sender) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.codes...)
}

// c59Replica is one emfa server on the shared database.
type c59Replica struct {
	st  store.Store
	srv *Server
}

func (r *c59Replica) call(t *testing.T, resource, webhookID, body string) (int, string) {
	t.Helper()
	return r.callCtx(t, context.Background(), resource, webhookID, body)
}

func (r *c59Replica) callCtx(t *testing.T, ctx context.Context, resource, webhookID, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/providers/acme/"+resource, strings.NewReader(body)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	if webhookID != "" {
		req.Header.Set(HeaderWebhookID, webhookID)
	}
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// c59Stores opens two stores on one database: the same SQLite file, or the same
// PostgreSQL schema, as two replicas (or a command beside a server) do.
func c59Stores(t *testing.T, kind string) (store.Store, store.Store) {
	t.Helper()
	ctx := context.Background()
	switch kind {
	case "sqlite":
		path := "file:" + filepath.Join(t.TempDir(), "emfa.db")
		var out [2]store.Store
		for i := range out {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out[i] = s
		}
		return out[0], out[1]
	default:
		sv := testdb.Connect(t)
		dsn := sv.SchemaDSN(t, sv.NewSchema(t))
		var out [2]store.Store
		for i := range out {
			s, err := postgres.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			out[i] = s
		}
		return out[0], out[1]
	}
}

type c59Setup struct {
	clock  *c59Clock
	sms    *c59Sender
	a, b   *c59Replica
	factor string // alice's SMS factor
	bobF   string // bob's SMS factor
}

func c59Replicas(t *testing.T, kind string) *c59Setup {
	t.Helper()
	ctx := context.Background()
	stA, stB := c59Stores(t, kind)
	clock := &c59Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sms := &c59Sender{}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	set := &c59Setup{clock: clock, sms: sms}
	for i, st := range []store.Store{stA, stB} {
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clock.Now, Capabilities: []string{"smsotp"},
			Config: map[string]any{"smsotp": map[string]any{"sender": "sms"},
				"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
			Senders: func(string) (delivery.Sender, error) { return sms, nil }})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			for _, u := range []string{"alice", "bob"} {
				if err := st.CreateUser(ctx, store.User{ID: "u-" + u, Name: u, CreatedAt: clock.Now()}); err != nil {
					t.Fatal(err)
				}
				en, err := engine.Enroll(ctx, builtin.Enrollment{Type: "smsotp", User: u, Values: url.Values{"phone": {"+15551230123"}}})
				if err != nil {
					t.Fatal(err)
				}
				if u == "alice" {
					set.factor = en.Factor.ID
				} else {
					set.bobF = en.Factor.ID
				}
			}
		}
		p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
			Engine: engine, Audit: st, Now: clock.Now}
		srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true},
			RequestTimeout: 5 * time.Second,
			Idempotency: &provider.Idempotency{Store: st, TTL: 10 * time.Minute, Lease: provider.RenewedLease,
				Renew: provider.RenewInterval, Poll: time.Millisecond, Now: clock.Now}})
		r := &c59Replica{st: st, srv: srv}
		if i == 0 {
			set.a = r
		} else {
			set.b = r
		}
	}
	return set
}

func (s *c59Setup) initiateBody(user, factor string) string {
	return `{"capability":"smsotp","id":"` + factor + `","attributes":{"username":"` + user + `"}}`
}

func (s *c59Setup) validateBody(user, factor, tx, code string) string {
	return `{"capability":"smsotp","id":"` + factor + `","transactionId":"` + tx + `","attributes":{"username":"` + user + `","passvalue":"` + code + `"}}`
}

func c59Answer(t *testing.T, body string) (status, tx string) {
	t.Helper()
	var a struct {
		Status        string `json:"status"`
		TransactionID string `json:"transactionId"`
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return a.Status, a.TransactionID
}

func c59Audits(t *testing.T, st store.Store, resource string) int {
	t.Helper()
	list, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list {
		if e.Resource == resource {
			n++
		}
	}
	return n
}

func c59Each(t *testing.T, fn func(t *testing.T, s *c59Setup)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { fn(t, c59Replicas(t, kind)) })
	}
}

// TestRetryOnAnotherReplica: an initiate and a validate, each retried with its
// X-Webhook-ID on the other replica, after the first finished: the same answer, one code
// sent, one audit row each, and the validate's retry is not refused as a replay.
func TestRetryOnAnotherReplica(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ib := s.initiateBody("alice", s.factor)
		code1, body1 := s.a.call(t, "initiate", "wh-i", ib)
		code2, body2 := s.b.call(t, "initiate", "wh-i", ib)
		st, tx := c59Answer(t, body1)
		if code1 != 200 || st != "PENDING" || tx == "" || code2 != code1 || body2 != body1 || len(s.sms.sent()) != 1 {
			t.Fatalf("initiate %d %s; retry on B %d %s; %d codes sent", code1, body1, code2, body2, len(s.sms.sent()))
		}
		if n := c59Audits(t, s.a.st, "initiate"); n != 1 {
			t.Errorf("%d initiate audit rows, want 1", n)
		}
		vb := s.validateBody("alice", s.factor, tx, s.sms.sent()[0])
		code1, body1 = s.b.call(t, "validate", "wh-v", vb)
		code2, body2 = s.a.call(t, "validate", "wh-v", vb)
		if st, _ := c59Answer(t, body1); code1 != 200 || st != "SUCCESS" || code2 != 200 || body2 != body1 {
			t.Fatalf("validate on B %d %s; retry on A %d %s", code1, body1, code2, body2)
		}
		if n := c59Audits(t, s.b.st, "validate"); n != 1 {
			t.Errorf("%d validate audit rows, want 1", n)
		}
		// A second validate (another ID) of a transaction that succeeded: FAILED.
		if code, body := s.a.call(t, "validate", "wh-v2", vb); code != 200 || !strings.Contains(body, `"FAILED"`) {
			t.Errorf("second validate after SUCCESS: %d %s", code, body)
		}
		// Without an ID at all: FAILED as well.
		if code, body := s.b.call(t, "validate", "", vb); code != 200 || !strings.Contains(body, `"FAILED"`) {
			t.Errorf("third validate after SUCCESS: %d %s", code, body)
		}
	})
}

// TestConcurrentRetryOnAnotherReplica: the retry reaches B while A still sends
// the code; it waits, and gets A's answer; one code goes out.
func TestConcurrentRetryOnAnotherReplica(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		s.sms.mu.Lock()
		s.sms.entered, s.sms.gate = make(chan struct{}, 4), make(chan struct{})
		s.sms.mu.Unlock()
		ib := s.initiateBody("alice", s.factor)
		type res struct {
			code int
			body string
		}
		first, retry := make(chan res, 1), make(chan res, 1)
		go func() { c, b := s.a.call(t, "initiate", "wh-c", ib); first <- res{c, b} }()
		<-s.sms.entered // A sends
		go func() { c, b := s.b.call(t, "initiate", "wh-c", ib); retry <- res{c, b} }()
		select {
		case r := <-retry:
			t.Fatalf("the retry answered while the first attempt ran: %d %s", r.code, r.body)
		case <-s.sms.entered:
			t.Fatal("the retry sent a second code")
		case <-time.After(100 * time.Millisecond):
		}
		close(s.sms.gate)
		r1, r2 := <-first, <-retry
		if r1.code != 200 || !strings.Contains(r1.body, `"PENDING"`) || r2 != r1 || len(s.sms.sent()) != 1 {
			t.Errorf("first %d %s; retry %d %s; %d codes", r1.code, r1.body, r2.code, r2.body, len(s.sms.sent()))
		}
	})
}

// TestTransactionRules: validate after TIMEOUT (at the deadline exactly), for an
// unknown transaction, and for one of another user or factor: business answers, 200.
func TestTransactionRules(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ctx := context.Background()
		_, body := s.a.call(t, "initiate", "wh-1", s.initiateBody("alice", s.factor))
		_, tx := c59Answer(t, body)
		code := s.sms.sent()[0]
		// Another user's, another factor's, an unknown transaction: FAILED, and the
		// transaction still works for its owner.
		for name, vb := range map[string]string{
			"other user":   s.validateBody("bob", s.bobF, tx, code),
			"other factor": s.validateBody("alice", s.bobF, tx, code),
			"unknown":      s.validateBody("alice", s.factor, "nope"+tx, code),
		} {
			if c, b := s.b.call(t, "validate", "", vb); c != 200 || !strings.Contains(b, `"FAILED"`) {
				t.Errorf("%s: %d %s", name, c, b)
			}
		}
		got, err := s.a.st.GetTransaction(ctx, "b:"+tx)
		if err != nil {
			t.Fatal(err)
		}
		s.clock.Set(got.ExpiresAt) // exactly the deadline: expired
		vb := s.validateBody("alice", s.factor, tx, code)
		if c, b := s.b.call(t, "validate", "wh-t", vb); c != 200 || !strings.Contains(b, `"TIMEOUT"`) {
			t.Errorf("validate at the deadline: %d %s", c, b)
		}
		if c, b := s.a.call(t, "validate", "wh-t2", vb); c != 200 || !strings.Contains(b, `"TIMEOUT"`) {
			t.Errorf("validate after TIMEOUT: %d %s", c, b)
		}
		// A poll of it answers how it ended.
		if c, b := s.a.call(t, "result", "wh-r", vb); c != 200 || !strings.Contains(b, `"TIMEOUT"`) {
			t.Errorf("result on the expired SMS challenge: %d %s", c, b)
		}
	})
}

// TestDeadAttempt: replica A claimed an initiate and died before it answered.
// Verify's retry on B, while A's lease lasts, gets 503 retry_in_progress (it retries
// again), not a second code; once the lease has passed, the retry runs: one code, PENDING.
func TestDeadAttempt(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ctx := context.Background()
		ib := s.initiateBody("alice", s.factor)
		now := s.clock.Now()
		key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-dead",
			Fingerprint: provider.FingerprintKey(nil).Fingerprint(provider.ResourceInitiate, []byte(ib))}
		if c, err := s.a.st.ClaimIdempotency(ctx, key, "dead", now.Add(provider.RenewedLease), now.Add(10*time.Minute), now); err != nil || !c.Claimed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if c, b := s.b.callCtx(t, short, "initiate", "wh-dead", ib); c != 503 || !strings.Contains(b, "retry_in_progress") || len(s.sms.sent()) != 0 {
			t.Errorf("retry within the dead attempt's lease: %d %s, %d codes", c, b, len(s.sms.sent()))
		}
		s.clock.Set(now.Add(provider.RenewedLease)) // the lease has passed
		c, b := s.b.call(t, "initiate", "wh-dead", ib)
		if st, tx := c59Answer(t, b); c != 200 || st != "PENDING" || tx == "" || len(s.sms.sent()) != 1 {
			t.Errorf("retry after the lease: %d %s, %d codes", c, b, len(s.sms.sent()))
		}
		if c2, b2 := s.a.call(t, "initiate", "wh-dead", ib); c2 != c || b2 != b || len(s.sms.sent()) != 1 {
			t.Errorf("the retry after that: %d %s, want %d %s; %d codes", c2, b2, c, b, len(s.sms.sent()))
		}
	})
}

// TestRecordExpiry: an answer is kept for the TTL (a retry a millisecond before
// gets it, after the sweeper ran), and swept at it; a retry then is a new request.
func TestRecordExpiry(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ctx := context.Background()
		ib := s.initiateBody("alice", s.factor)
		start := s.clock.Now()
		c1, b1 := s.a.call(t, "initiate", "wh-x", ib)
		sweep := func(st store.Store) int {
			sw := &builtin.Sweeper{Store: st, Now: s.clock.Now}
			n, err := sw.Sweep(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n.Idempotency
		}
		s.clock.Set(start.Add(10*time.Minute - time.Millisecond))
		if n := sweep(s.b.st); n != 0 {
			t.Errorf("swept %d records before their TTL", n)
		}
		if c, b := s.b.call(t, "initiate", "wh-x", ib); c != c1 || b != b1 || len(s.sms.sent()) != 1 {
			t.Errorf("retry just before the TTL: %d %s; %d codes", c, b, len(s.sms.sent()))
		}
		s.clock.Set(start.Add(10 * time.Minute))
		if n := sweep(s.b.st); n != 1 {
			t.Errorf("swept %d records at their TTL, want 1", n)
		}
		if c, b := s.a.call(t, "initiate", "wh-x", ib); c != 200 || b == b1 || len(s.sms.sent()) != 2 {
			t.Errorf("after the TTL: %d %s; %d codes", c, b, len(s.sms.sent()))
		}
	})
}

// TestValidateCanceled: a newer code cancels the older challenge; a validate of
// the older one, with its own right code, is FAILED, and its retry the same.
func TestValidateCanceled(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ib := s.initiateBody("alice", s.factor)
		_, b := s.a.call(t, "initiate", "wh-1", ib)
		_, tx1 := c59Answer(t, b)
		_, b = s.b.call(t, "initiate", "wh-2", ib)
		_, tx2 := c59Answer(t, b)
		codes := s.sms.sent()
		vb := s.validateBody("alice", s.factor, tx1, codes[0])
		c, b1 := s.b.call(t, "validate", "wh-v", vb)
		if c != 200 || !strings.Contains(b1, `"FAILED"`) {
			t.Errorf("validate of the canceled challenge: %d %s", c, b1)
		}
		if c, b := s.a.call(t, "validate", "wh-v", vb); c != 200 || b != b1 {
			t.Errorf("its retry: %d %s", c, b)
		}
		if c, b := s.a.call(t, "validate", "wh-v2", s.validateBody("alice", s.factor, tx2, codes[1])); c != 200 || !strings.Contains(b, `"SUCCESS"`) {
			t.Errorf("validate of the newer challenge: %d %s", c, b)
		}
	})
}

// TestConcurrentValidate: one validate sent eight times at once, spread over two
// replicas, under one X-Webhook-ID: every attempt answers the same SUCCESS, and one audit
// row is written. Under eight IDs: exactly one SUCCESS.
func TestConcurrentValidate(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		for _, sameID := range []bool{true, false} {
			_, b := s.a.call(t, "initiate", "", s.initiateBody("alice", s.factor))
			_, tx := c59Answer(t, b)
			codes := s.sms.sent()
			vb := s.validateBody("alice", s.factor, tx, codes[len(codes)-1])
			before := c59Audits(t, s.a.st, "validate")
			var wg sync.WaitGroup
			answers := make([]string, 8)
			codesGot := make([]int, 8)
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, id := s.a, "wh-same-"+tx
					if i%2 == 1 {
						r = s.b
					}
					if !sameID {
						id = "wh-" + tx + "-" + string(rune('a'+i))
					}
					codesGot[i], answers[i] = r.call(t, "validate", id, vb)
				}()
			}
			wg.Wait()
			success := 0
			for i, a := range answers {
				if codesGot[i] != 200 {
					t.Errorf("same ID %v: attempt %d: %d %s", sameID, i, codesGot[i], a)
					continue
				}
				if strings.Contains(a, `"SUCCESS"`) {
					success++
				}
			}
			rows := c59Audits(t, s.a.st, "validate") - before
			if sameID && (success != 8 || rows != 1) {
				t.Errorf("one ID: %d SUCCESS of 8, %d audit rows: %q", success, rows, answers)
			}
			if !sameID && (success != 1 || rows != 8) {
				t.Errorf("eight IDs: %d SUCCESS, %d audit rows: %q", success, rows, answers)
			}
		}
	})
}

// TestSameIDOtherBody: while A still sends alice's code under an ID, B gets the
// same ID with bob's request: another request, run at once, not held for A's.
func TestSameIDOtherBody(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		s.sms.mu.Lock()
		s.sms.entered, s.sms.gate = make(chan struct{}, 4), make(chan struct{})
		s.sms.mu.Unlock()
		first := make(chan string, 1)
		go func() { _, b := s.a.call(t, "initiate", "wh-o", s.initiateBody("alice", s.factor)); first <- b }()
		<-s.sms.entered
		second := make(chan string, 1)
		go func() { _, b := s.b.call(t, "initiate", "wh-o", s.initiateBody("bob", s.bobF)); second <- b }()
		select {
		case <-s.sms.entered:
		case <-time.After(3 * time.Second):
			t.Error("the other request under the same ID waits for the first")
		}
		close(s.sms.gate)
		b1, b2 := <-first, <-second
		st1, tx1 := c59Answer(t, b1)
		st2, tx2 := c59Answer(t, b2)
		if st1 != "PENDING" || st2 != "PENDING" || tx1 == tx2 || len(s.sms.sent()) != 2 {
			t.Errorf("alice %s; bob %s; %d codes", b1, b2, len(s.sms.sent()))
		}
	})
}

// TestFaultThenRetryElsewhere: replica A's database connection is gone (a
// partition): its attempt answers 503 JSON, never a business FAILED, and keeps no record;
// Verify's retry on B runs the call, once, and B's answer is what its own retry gets.
func TestFaultThenRetryElsewhere(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ib := s.initiateBody("alice", s.factor)
		if err := s.a.st.Close(); err != nil {
			t.Fatal(err)
		}
		if c, b := s.a.call(t, "initiate", "wh-f", ib); c != 503 || !strings.Contains(b, `"messageId":"unavailable"`) || len(s.sms.sent()) != 0 {
			t.Errorf("A without its database: %d %s; %d codes", c, b, len(s.sms.sent()))
		}
		c, b := s.b.call(t, "initiate", "wh-f", ib)
		if st, tx := c59Answer(t, b); c != 200 || st != "PENDING" || tx == "" || len(s.sms.sent()) != 1 {
			t.Errorf("the retry on B: %d %s; %d codes", c, b, len(s.sms.sent()))
		}
		if c2, b2 := s.b.call(t, "initiate", "wh-f", ib); c2 != c || b2 != b || len(s.sms.sent()) != 1 {
			t.Errorf("B's retry: %d %s; %d codes", c2, b2, len(s.sms.sent()))
		}
	})
}

// TestOddWebhookIDs: IDs of any printable UTF-8 up to 256 bytes key a retry on
// the other replica like any other (PostgreSQL's text and SQLite alike); longer ones,
// control characters and bytes that are not UTF-8 are refused 400 JSON, before anything runs.
func TestOddWebhookIDs(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ib := s.initiateBody("alice", s.factor)
		good := []string{"wh-ü", "wh-😀", strings.Repeat("é", 128), "wh\u2028x", "a b", "\u00a0x", "'; DROP TABLE idempotency; --"}
		for i, id := range good {
			c, b := s.a.call(t, "initiate", id, ib)
			c2, b2 := s.b.call(t, "initiate", id, ib)
			if c != 200 || !strings.Contains(b, `"PENDING"`) || c2 != c || b2 != b || len(s.sms.sent()) != i+1 {
				t.Errorf("ID %q: %d %s; retry %d %s; %d codes", id, c, b, c2, b2, len(s.sms.sent()))
			}
		}
		sent := len(s.sms.sent())
		for _, id := range []string{strings.Repeat("é", 128) + "x", "a\x00b", "a\xffb", "a\x7fb"} {
			if c, b := s.b.call(t, "initiate", id, ib); c != 400 || !strings.Contains(b, `"messageId"`) {
				t.Errorf("ID %q: %d %s, want 400", id, c, b)
			}
		}
		if len(s.sms.sent()) != sent {
			t.Error("a refused ID sent a code")
		}
	})
}
