package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

const (
	testSCIMToken = "scim-token-0123456789abcdef0123456789"
	testSecret    = "hook-secret-0123456789"
)

type syncHarness struct {
	t   testing.TB
	h   http.Handler
	srv *Server
	// logs must never hold a secret or a payload
	logs *bytes.Buffer
	m    *lifecycle.Manager
	q    *sync.Queue
	st   store.Store
}

func newSyncHarness(t testing.TB) *syncHarness {
	t.Helper()
	return newSyncHarnessOn(t, testdb.SQLite(t))
}

// newSyncHarnessOn is newSyncHarness on st, a SQLite store; more, if any, change the
// server's Options before it is built.
func newSyncHarnessOn(t testing.TB, st store.Store, more ...func(*Options)) *syncHarness {
	t.Helper()
	m, err := lifecycle.New(lifecycle.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	sq := st.(store.SyncQueue)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
	o := Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken,
		Okta:   SecretHeader{Name: "X-Okta-Secret", Value: testSecret},
		Verify: SecretHeader{Name: "X-Verify-Secret", Value: testSecret},
		Auth0:  SecretHeader{Name: "Authorization", Value: testSecret}}}
	for _, f := range more {
		f(&o)
	}
	srv := New(o)
	return &syncHarness{t: t, h: srv.Handler(), srv: srv, logs: logs, m: m, q: q, st: st}
}

func (h *syncHarness) do(method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			h.t.Fatalf("%s %s: body %q is not JSON", method, path, rec.Body.String())
		}
	}
	return rec.Code, out, rec.Header()
}

func (h *syncHarness) drain() {
	h.t.Helper()
	if _, err := h.q.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *syncHarness) user(name string) (lifecycle.User, bool) {
	u, err := h.m.GetUser(context.Background(), name)
	return u, err == nil
}

func oktaBatch(events ...string) string {
	return `{"eventType":"com.okta.event_hook","eventId":"b1","data":{"events":[` + strings.Join(events, ",") + `]}}`
}

func okEv(uuid, typ, login string, sec int, extra ...string) string {
	targets := `{"id":"00u1","type":"User","alternateId":"` + login + `","displayName":"Alice Example"}`
	for _, g := range extra {
		targets += `,{"id":"00g1","type":"UserGroup","displayName":"` + g + `"}`
	}
	return fmt.Sprintf(`{"uuid":%q,"published":"2026-05-01T09:00:%02d.000Z","eventType":%q,"outcome":{"result":"SUCCESS"},"target":[%s]}`,
		uuid, sec, typ, targets)
}

func TestOktaEventHook(t *testing.T) {
	h := newSyncHarness(t)
	auth := []string{"X-Okta-Secret", testSecret}
	code, body, _ := h.do("GET", OktaPath, "", "X-Okta-Secret", testSecret, "X-Okta-Verification-Challenge", "abc")
	if code != 200 || body["verification"] != "abc" {
		t.Fatalf("verification: %d %v", code, body)
	}
	if code, _, _ := h.do("POST", OktaPath, oktaBatch(), "X-Okta-Secret", "wrong"); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	// Out of order, with an unknown type and a failure.
	batch := oktaBatch(
		okEv("e3", "user.lifecycle.suspend", "alice@example.com", 3),
		okEv("e1", "user.lifecycle.create", "alice@example.com", 1),
		okEv("e2", "group.user_membership.add", "alice@example.com", 2, "sms-allowed"),
		okEv("e9", "user.session.start", "alice@example.com", 4),
	)
	for range 2 { // Okta retries: the second delivery queues nothing
		if code, _, _ := h.do("POST", OktaPath, batch, auth...); code != 204 {
			t.Fatalf("batch: %d", code)
		}
	}
	if got := h.SyncCounts(t); got != "queued=3 duplicate=3 ignored=2" {
		t.Fatalf("counts %s", got)
	}
	h.drain()
	u, ok := h.user("alice@example.com")
	if !ok || u.State != lifecycle.StateDisabled || u.DisplayName != "Alice Example" || len(u.Groups) != 1 {
		t.Fatalf("user %+v", u)
	}
	h.do("POST", OktaPath, oktaBatch(okEv("e4", "user.lifecycle.unsuspend", "alice@example.com", 5),
		okEv("e5", "user.mfa.factor.reset_all", "alice@example.com", 6),
		okEv("e6", "user.lifecycle.delete.initiated", "nobody@example.com", 7)), auth...)
	h.drain()
	if u, _ := h.user("alice@example.com"); u.State != lifecycle.StateActive {
		t.Fatalf("after unsuspend %+v", u)
	}
	h.do("POST", OktaPath, oktaBatch(okEv("e7", "user.lifecycle.delete.initiated", "alice@example.com", 8)), auth...)
	h.drain()
	if _, ok := h.user("alice@example.com"); ok {
		t.Fatal("alice survived delete.initiated")
	}
	for _, bad := range []string{`{`, `{"data":{"events":[{"uuid":"x"}]}}`, `{"data":{"events":[]},"data":{}}`,
		oktaBatch(`{"uuid":"u","published":"yesterday","eventType":"user.lifecycle.create","target":[]}`)} {
		if code, _, _ := h.do("POST", OktaPath, bad, auth...); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	if l := h.logs.String(); strings.Contains(l, testSecret) || strings.Contains(l, "Alice Example") || strings.Contains(l, "yesterday") {
		t.Errorf("a secret or a payload reached the log:\n%s", l)
	}
}

func (h *syncHarness) SyncCounts(t *testing.T) string {
	t.Helper()
	c := h.srv.SyncCounts()
	return fmt.Sprintf("queued=%d duplicate=%d ignored=%d", c.Queued.Load(), c.Duplicate.Load(), c.Ignored.Load())
}

func TestVerifyNotifications(t *testing.T) {
	h := newSyncHarness(t)
	note := func(id, action, user string, ms int64) string {
		return fmt.Sprintf(`{"id":%q,"event_type":"management","tenantid":"t","time":%d,"data":{"resource":"user","action":%q,"targetid":"6000","username":%q,"result":"success"}}`,
			id, ms, action, user)
	}
	send := func(body, id string) int {
		code, _, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret, "X-Webhook-ID", id)
		return code
	}
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	if c := send(note("n1", "created", "bob", base), "n1"); c != 204 {
		t.Fatalf("created: %d", c)
	}
	send(note("n1", "created", "bob", base), "n1")
	send(note("n2", "disabled", "bob", base+1), "n2")
	h.drain()
	if u, ok := h.user("bob"); !ok || u.State != lifecycle.StateDisabled {
		t.Fatalf("bob %+v", u)
	}
	send(note("n3", "deleted", "bob", base+2), "n3")
	h.drain()
	if _, ok := h.user("bob"); ok {
		t.Fatal("bob survived")
	}
	if c := send(note("n4", "created", "x", base), "other"); c != 400 {
		t.Fatalf("mismatched X-Webhook-ID: %d", c)
	}
	if c := send(`{"id":"n5","event_type":"authentication","data":{}}`, "n5"); c != 204 {
		t.Fatalf("other event type: %d", c)
	}
}

func TestAuth0LogStream(t *testing.T) {
	h := newSyncHarness(t)
	lines := strings.Join([]string{
		`{"log_id":"l1","data":{"log_id":"l1","type":"sapi","date":"2026-05-01T09:00:01.000Z","details":{"request":{"method":"POST","path":"/api/v2/users","body":{}},"response":{"statusCode":201,"body":{"email":"carol@example.com","user_id":"auth0|1"}}}}}`,
		`{"log_id":"l2","data":{"log_id":"l2","type":"sapi","date":"2026-05-01T09:00:02.000Z","details":{"request":{"method":"PATCH","path":"/api/v2/users/auth0|1","body":{"blocked":true}},"response":{"statusCode":200,"body":{"email":"carol@example.com"}}}}}`,
		`{"log_id":"l3","data":{"log_id":"l3","type":"s","date":"2026-05-01T09:00:03.000Z","user_name":"carol@example.com"}}`,
	}, "\n")
	if code, _, _ := h.do("POST", Auth0Path, lines, "Authorization", testSecret); code != 204 {
		t.Fatalf("batch: %d", code)
	}
	h.drain()
	if u, ok := h.user("carol@example.com"); !ok || u.State != lifecycle.StateDisabled {
		t.Fatalf("carol %+v", u)
	}
	h.do("POST", Auth0Path, `[{"log_id":"l4","type":"sdu","date":"2026-05-01T09:00:04.000Z","user_name":"carol@example.com"}]`, "Authorization", testSecret)
	h.drain()
	if _, ok := h.user("carol@example.com"); ok {
		t.Fatal("carol survived")
	}
	if code, _, _ := h.do("POST", Auth0Path, `[{"log_id":"l5"}]`, "Authorization", testSecret); code != 400 {
		t.Fatalf("malformed: %d", code)
	}
}

// TestVerifyLateDisableAfterModified: Verify reconciles a failed delivery minutes later
// (verify-contract.md §13), so a "disabled" can arrive after a newer "modified". A
// modified says nothing of the state (nor, from Verify, of the profile): the disable
// still applies.
func TestVerifyLateDisableAfterModified(t *testing.T) {
	h := newSyncHarness(t)
	note := func(id, action string, ms int64) {
		body := fmt.Sprintf(`{"id":%q,"event_type":"management","time":%d,"data":{"resource":"user","action":%q,"targetid":"6000","username":"bob","result":"success"}}`, id, ms, action)
		if code, _, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret, "X-Webhook-ID", id); code != 204 {
			t.Fatalf("%s: %d", action, code)
		}
		h.drain()
	}
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC).UnixMilli()
	note("n1", "created", base)
	note("n3", "modified", base+3000)
	note("n2", "disabled", base+2000) // reconciled late
	if u, _ := h.user("bob"); u.State != lifecycle.StateDisabled {
		t.Fatalf("state %q after a late disable", u.State)
	}
}

// TestOneBadEventLosesNoOther: Okta does not send a batch answered 4xx again, so one event
// that cannot be read must not take its batch with it: the rest is queued, the bad one
// refused and logged (without its payload, with its id and its batch's, for an operator to
// find it at the source). A batch with nothing readable is a 400.
func TestOneBadEventLosesNoOther(t *testing.T) {
	h := newSyncHarness(t)
	auth := []string{"X-Okta-Secret", testSecret}
	bad := `{"uuid":"bad-1","published":"yesterday","eventType":"user.lifecycle.create","target":[]}`
	if code, _, _ := h.do("POST", OktaPath, oktaBatch(okEv("g1", "user.lifecycle.create", "alice@example.com", 1), bad), auth...); code != 204 {
		t.Fatalf("okta batch with one bad event: %d", code)
	}
	if code, _, _ := h.do("POST", Auth0Path, `{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:01Z","user_name":"bob@example.com"}`+"\n"+`{"log_id":"a2","type":"ss","date":"soon"}`, "Authorization", testSecret); code != 204 {
		t.Fatalf("auth0 batch with one bad entry: %d", code)
	}
	h.drain()
	for _, name := range []string{"alice@example.com", "bob@example.com"} {
		if _, ok := h.user(name); !ok {
			t.Errorf("%s lost with the bad event of its batch", name)
		}
	}
	if c := h.srv.SyncCounts(); c.Queued.Load() != 2 || c.Refused.Load() != 2 {
		t.Errorf("queued %d refused %d, want 2 and 2", c.Queued.Load(), c.Refused.Load())
	}
	if l := h.logs.String(); !strings.Contains(l, "sync events refused") || !strings.Contains(l, "data.events[1].published is not an RFC 3339 time") || strings.Contains(l, "yesterday") || strings.Contains(l, "soon") {
		t.Errorf("the refusal is not logged as it should be:\n%s", l)
	}
	for _, want := range []string{"source=okta refused=1 event_ids=bad-1 batch=b1", "source=auth0 refused=1 event_ids=a2"} {
		if l := h.logs.String(); !strings.Contains(l, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, l)
		}
	}
	if code, _, _ := h.do("POST", OktaPath, oktaBatch(bad), auth...); code != 400 {
		t.Errorf("a batch with nothing readable: %d, want 400", code)
	}
}
