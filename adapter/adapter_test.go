package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// fakeEngine records what it was asked and answers from fields.
type fakeEngine struct {
	mu       sync.Mutex
	last     provider.Request
	enrolls  []provider.Enrollment
	outcome  provider.Outcome
	err      error
	panicMsg string
	block    bool
	delay    time.Duration // each call takes this long
}

func (f *fakeEngine) record(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	f.mu.Lock()
	f.last = r
	f.mu.Unlock()
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	if f.block {
		<-ctx.Done()
		return provider.Outcome{}, ctx.Err()
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return provider.Outcome{}, ctx.Err()
		}
	}
	return f.outcome, f.err
}

func (f *fakeEngine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	_, err := f.record(ctx, provider.Request{Username: username})
	return f.enrolls, err
}
func (f *fakeEngine) Initiate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return f.record(ctx, r)
}
func (f *fakeEngine) Validate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return f.record(ctx, r)
}
func (f *fakeEngine) Result(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return f.record(ctx, r)
}
func (f *fakeEngine) Test(ctx context.Context) (provider.Outcome, error) {
	return f.record(ctx, provider.Request{})
}

type harness struct {
	srv    *Server
	engine *fakeEngine
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newHarness(t testing.TB, mutate func(*Options)) *harness {
	t.Helper()
	h := &harness{engine: &fakeEngine{outcome: provider.Outcome{Status: provider.StatusSuccess}}, logs: &syncBuffer{}}
	log := slog.New(NewLogHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})) // as emfa serve's, access lines written directly
	opts := Options{
		Providers: []*provider.Provider{
			{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"totp", "smsOTP"}, Engine: h.engine, Log: log},
			{Name: "Off", CredentialPrefix: "off", Enabled: false, Capabilities: []string{"totp"}, Engine: h.engine, Log: log},
		},
		Auth:           Auth{BasicUsername: "verify", BasicPassword: "pw-secret", HeaderName: "X-Api-Key", HeaderValue: "key-secret"},
		RequestTimeout: 2 * time.Second,
		MaxBodyBytes:   1024,
		Log:            log,
	}
	if mutate != nil {
		mutate(&opts)
	}
	h.srv = New(opts)
	if opts.SelfService != nil {
		// The page's sign-in sends run after its answers (pageSends): none outlives the
		// test, to log against, or write to, a store its cleanup closes.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.srv.DrainPage(ctx); err != nil {
				t.Errorf("the page's sign-in sends under way at the test's end: %v", err)
			}
		})
	}
	return h
}

// do sends a request with Basic credentials unless headers say otherwise.
func (h *harness) do(t *testing.T, method, path, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if len(hdr) == 0 {
		req.SetBasicAuth("verify", "pw-secret")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	checkDocumentedStatus(t, method, path, rec.Code)
	return rec.Code, strings.TrimSpace(rec.Body.String()), rec.Header()
}

func TestContractAnswers(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.enrolls = []provider.Enrollment{
		{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}},
		{Capability: "push", ID: "f2", Attributes: map[string]any{}}, // not exposed: filtered
		{Capability: "SMSOTP", ID: "f3", Attributes: map[string]any{}},
	}
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice","extra":1}`)
	want := `[{"capability":"totp","id":"f1","attributes":{"authExecutionFlow":"validate"}},{"capability":"smsOTP","id":"f3","attributes":{}}]`
	if code != 200 || body != want {
		t.Errorf("enrollments: %d %s", code, body)
	}

	h.engine.enrolls = nil
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"nobody"}`); code != 200 || body != "[]" {
		t.Errorf("unknown user: %d %s, want 200 []", code, body)
	}
	if code, body, _ := h.do(t, "POST", "/v1/providers/off/enrollments", `{"username":"alice"}`); code != 200 || body != "[]" {
		t.Errorf("disabled provider: %d %s", code, body)
	}

	h.engine.outcome = provider.Outcome{Status: provider.StatusPending, TransactionID: "tx1", Reason: "internal"}
	code, body, _ = h.do(t, "POST", "/v1/providers/acme/initiate", `{"capability":"acme:SMSotp","id":"f3","attributes":{"username":"alice","number":7}}`)
	if code != 200 || body != `{"status":"PENDING","transactionId":"tx1"}` {
		t.Errorf("initiate: %d %s", code, body)
	}
	if h.engine.last.Capability != "smsOTP" || h.engine.last.Username != "alice" {
		t.Errorf("engine saw %+v, want the configured capability spelling and the username", h.engine.last)
	}

	h.engine.outcome = provider.Outcome{Status: provider.StatusSuccess}
	code, body, _ = h.do(t, "POST", "/v1/providers/acme/validate", `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`)
	if code != 200 || body != `{"status":"SUCCESS"}` {
		t.Errorf("validate: %d %s", code, body)
	}
	if h.engine.last.Passvalue != "123456" || h.engine.last.Attributes["passvalue"] != nil {
		t.Errorf("passvalue must reach the engine only as Passvalue: %+v", h.engine.last)
	}

	// A capability the provider does not expose is a FAILED outcome, not a 400; the
	// engine is not consulted.
	h.engine.last = provider.Request{}
	code, body, _ = h.do(t, "POST", "/v1/providers/acme/validate", `{"capability":"push","id":"f1","attributes":{"username":"alice","passvalue":"1"}}`)
	if code != 200 || body != `{"status":"FAILED"}` || h.engine.last.ID != "" {
		t.Errorf("unexposed capability: %d %s (engine saw %+v)", code, body, h.engine.last)
	}
	if code, body, _ = h.do(t, "POST", "/v1/providers/off/validate", `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"1"}}`); body != `{"status":"FAILED"}` {
		t.Errorf("disabled provider validate: %d %s", code, body)
	}

	h.engine.outcome = provider.Outcome{Status: provider.StatusTimeout}
	if code, body, _ = h.do(t, "POST", "/v1/providers/acme/result", `{"capability":"smsotp","id":"f3","transactionId":"tx1","attributes":{"username":"alice"}}`); body != `{"status":"TIMEOUT"}` {
		t.Errorf("result: %d %s", code, body)
	}

	h.engine.outcome = provider.Outcome{Status: provider.StatusSuccess}
	for _, m := range []string{"GET", "POST"} {
		if code, body, _ = h.do(t, m, "/v1/providers/acme/test", ""); code != 200 || body != `{"status":"SUCCESS"}` {
			t.Errorf("%s test: %d %s", m, code, body)
		}
	}
	if _, body, _ = h.do(t, "GET", "/v1/providers/off/test", ""); !strings.Contains(body, `"FAILED"`) {
		t.Errorf("disabled provider test: %s", body)
	}
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		path, body, wantMsg string
	}{
		{"enrollments", `{"username":`, "body is not valid JSON"},
		{"enrollments", ``, "body is empty"},
		{"enrollments", `{}`, "username is required"},
		{"enrollments", `{"username":""}`, "username is required"},
		{"enrollments", `{"username":42}`, "username must be a string"},
		{"enrollments", `{"username":"a"} {"x":1}`, "data after the JSON value"},
		{"enrollments", `["alice"]`, "body is not valid JSON"},
		{"initiate", `{"id":"f","attributes":{"username":"a"}}`, "capability is required"},
		{"initiate", `{"capability":"totp","attributes":{"username":"a"}}`, "id is required"},
		{"initiate", `{"capability":"totp","id":"f"}`, "attributes is required"},
		{"initiate", `{"capability":"totp","id":"f","attributes":{}}`, "attributes.username is required"},
		{"validate", `{"capability":"totp","id":"f","attributes":{"username":"a"}}`, "attributes.passvalue is required"},
		{"result", `{"capability":"push","id":"f","attributes":{"username":"a"}}`, "transactionId is required"},
	}
	for _, c := range cases {
		code, body, _ := h.do(t, "POST", "/v1/providers/acme/"+c.path, c.body)
		var eb errorBody
		if err := json.Unmarshal([]byte(body), &eb); err != nil || code != 400 || !strings.Contains(eb.MessageDescription, c.wantMsg) || eb.MessageID != "invalid_request" {
			t.Errorf("%s %q: %d %s, want 400 with %q", c.path, c.body, code, body, c.wantMsg)
		}
	}
	big := `{"username":"` + strings.Repeat("a", 2000) + `"}`
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/enrollments", big); code != 413 || !strings.Contains(body, "body_too_large") {
		t.Errorf("oversized body: %d %s", code, body)
	}
}

func TestRoutingAndAuth(t *testing.T) {
	h := newHarness(t, nil)
	ok := `{"username":"alice"}`
	cases := []struct {
		name, method, path string
		hdr                []string
		wantCode           int
		wantID             string
	}{
		{"no credentials", "POST", "/v1/providers/acme/enrollments", []string{"X-Other", "1"}, 401, "unauthorized"},
		{"wrong password", "POST", "/v1/providers/acme/enrollments", []string{"Authorization", "Basic dmVyaWZ5Ondyb25n"}, 401, "unauthorized"},
		{"wrong header", "POST", "/v1/providers/acme/enrollments", []string{"X-Api-Key", "wrong-hdr-value"}, 401, "unauthorized"},
		{"header secret", "POST", "/v1/providers/acme/enrollments", []string{"x-api-key", "key-secret"}, 200, ""},
		// Authentication comes first, so an outsider cannot probe provider names.
		{"unknown provider unauthenticated", "POST", "/v1/providers/nope/enrollments", []string{"X-Other", "1"}, 401, "unauthorized"},
		{"unknown provider", "POST", "/v1/providers/nope/enrollments", nil, 404, "unknown_provider"},
		{"prefix case-insensitive", "POST", "/v1/providers/ACME/enrollments", nil, 200, ""},
		{"unknown resource", "POST", "/v1/providers/acme/frobnicate", nil, 404, "not_found"},
		{"unknown route", "GET", "/nowhere", nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/providers/acme/enrollments", nil, 405, "method_not_allowed"},
		{"healthz without auth", "GET", "/healthz", []string{"X-Other", "1"}, 200, ""},
		{"readyz without auth", "GET", "/readyz", []string{"X-Other", "1"}, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, hdr := h.do(t, c.method, c.path, ok, c.hdr...)
			if code != c.wantCode {
				t.Fatalf("status %d, want %d (%s)", code, c.wantCode, body)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q, want JSON", hdr.Get("Content-Type"))
			}
			if c.wantID != "" && !strings.Contains(body, `"messageId":"`+c.wantID+`"`) {
				t.Errorf("body %s, want messageId %s", body, c.wantID)
			}
			if code == 401 && !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Error("401 without a Basic challenge")
			}
		})
	}
	if got := h.srv.AuthFailures(); got != 4 {
		t.Errorf("auth failures counted %d, want 4", got)
	}
	logs := h.logs.String()
	for _, secret := range []string{"pw-secret", "key-secret", "wrong-hdr-value", "d3Jvbmc"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains credential %q", secret)
		}
	}
}

func TestAnonymousAndHeaderOnly(t *testing.T) {
	anon := newHarness(t, func(o *Options) { o.Auth = Auth{AllowAnonymous: true} })
	if code, _, _ := anon.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"a"}`, "X-None", "1"); code != 200 {
		t.Errorf("anonymous: %d", code)
	}
	hdrOnly := newHarness(t, func(o *Options) { o.Auth = Auth{HeaderName: "X-Api-Key", HeaderValue: "k"} })
	code, _, hdr := hdrOnly.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"a"}`, "Authorization", "Basic dmVyaWZ5OnB3")
	if code != 401 || hdr.Get("WWW-Authenticate") != "" {
		t.Errorf("header-only auth: %d, challenge %q", code, hdr.Get("WWW-Authenticate"))
	}
}

func TestFaultsNeverLeakPages(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.RequestTimeout = 50 * time.Millisecond })
	validate := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`

	h.engine.panicMsg = "boom"
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validate)
	if code != 500 || body != `{"messageId":"internal_error","messageDescription":"internal error"}` {
		t.Errorf("panic: %d %s", code, body)
	}
	if !strings.Contains(h.logs.String(), "boom") {
		t.Error("panic not logged")
	}
	h.engine.panicMsg = ""

	h.engine.err = errors.New("store down: dial tcp 10.0.0.1")
	code, body, _ = h.do(t, "POST", "/v1/providers/acme/validate", validate)
	// A backend fault is a 503, so that Verify retries on another replica (§12).
	if code != 503 || strings.Contains(body, "10.0.0.1") {
		t.Errorf("engine error: %d %s (want 503, must not show the cause)", code, body)
	}
	h.engine.err = nil

	// A request its client abandoned (Verify's timeout) fails for that reason: a warning
	// that says so, not a server fault.
	h.engine.err = fmt.Errorf("store: %w", context.Canceled)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("POST", "/v1/providers/acme/validate", strings.NewReader(validate)).WithContext(ctx)
	req.SetBasicAuth("verify", "pw-secret")
	before := len(h.logs.String())
	h.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	if logs := h.logs.String()[before:]; !strings.Contains(logs, "request abandoned by its client") || strings.Contains(logs, "server fault") ||
		strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("an abandoned request's log:\n%s", logs)
	}
	h.engine.err = nil

	// An engine error at the request deadline is the store's (a vendor or a sender slower
	// than that is the engine's FAILED or [], never an error): a fault, 503, so that Verify
	// retries another replica rather than taking a FAILED or a user without factors.
	h.engine.block = true
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/providers/acme/validate", validate},
		{"POST", "/v1/providers/acme/enrollments", `{"username":"a"}`},
		{"GET", "/v1/providers/acme/test", ""},
	} {
		if code, body, _ = h.do(t, c.method, c.path, c.body); code != 503 || errorID(t, body) != "unavailable" {
			t.Errorf("%s at the deadline: %d %s, want 503 unavailable", c.path, code, body)
		}
	}
	h.engine.block = false

	// As a word: the log's timestamps, request ids and the panic's stack hold random digits.
	if secretscan.Holds(h.logs.String(), "123456") {
		t.Error("a passvalue reached the log")
	}
}

func TestReadyz(t *testing.T) {
	down := newHarness(t, func(o *Options) { o.Ready = func(context.Context) error { return errors.New("db gone") } })
	code, body, _ := down.do(t, "GET", "/readyz", "")
	if code != 503 || !strings.Contains(body, "not_ready") {
		t.Errorf("readyz down: %d %s", code, body)
	}
	// A store down is no fault of emfa's: said once a probe, "not ready" with why, not
	// also "server fault" at ERROR, as a bug is, every few seconds of the outage.
	if logs := down.logs.String(); !strings.Contains(logs, "not ready") || strings.Contains(logs, "server fault") {
		t.Errorf("readyz down logs:\n%s", logs)
	}
}

// TestReadyzWritesFailing: a store that answers but takes no write (a full disk) is not
// ready, and the answer says why and since when, without the store's own words (a path);
// liveness is not affected.
func TestReadyzWritesFailing(t *testing.T) {
	since := time.Date(2025, 3, 1, 10, 20, 30, 0, time.FixedZone("CET", 3600))
	full := newHarness(t, func(o *Options) {
		o.Ready = func(context.Context) error {
			return fmt.Errorf("sqlite: %w", &store.WritesFailing{Since: since,
				Err: errors.New("sqlite: append audit: database or disk is full /var/lib/emfa/emfa.db")})
		}
	})
	code, body, _ := full.do(t, "GET", "/readyz", "")
	var e errorBody
	if code != 503 || json.Unmarshal([]byte(body), &e) != nil || e.MessageID != "not_ready" {
		t.Fatalf("readyz with writes failing: %d %s, want 503 not_ready", code, body)
	}
	if want := "store refuses writes (a full disk, an I/O error or a read-only database) since 2025-03-01T09:20:30Z"; e.MessageDescription != want {
		t.Errorf("readyz's reason: %q, want %q", e.MessageDescription, want)
	}
	if strings.Contains(body, "/var/lib") {
		t.Errorf("readyz's answer shows the store's error: %s", body)
	}
	if !strings.Contains(full.logs.String(), "database or disk is full") {
		t.Errorf("the log does not say what failed:\n%s", full.logs.String())
	}
	if code, body, _ := full.do(t, "GET", "/healthz", ""); code != 200 {
		t.Errorf("healthz with writes failing: %d %s, want 200", code, body)
	}
}

func TestRequestID(t *testing.T) {
	h := newHarness(t, nil)
	_, _, hdr := h.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"a"}`, "Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Request-Id", "abc-123")
	if got := hdr.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q, want the caller's", got)
	}
	_, _, hdr = h.do(t, "POST", "/v1/providers/acme/enrollments", `{"username":"a"}`, "Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Request-Id", "evil\nline")
	if got := hdr.Get("X-Request-Id"); got == "" || strings.Contains(got, "evil") {
		t.Errorf("unsafe request id kept: %q", got)
	}
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err == nil && line["msg"] == "request" && line["request_id"] == "abc-123" {
			if diff := cmp.Diff("acme", line["provider"]); diff != "" {
				t.Errorf("access log provider (-want +got):\n%s", diff)
			}
			return
		}
	}
	t.Error("no access log line with the request id")
}

// TestRequestTimeoutBeyondTheServers: a reload may raise requestTimeout past the HTTP
// server's read and write timeouts, which are set at start (ConnTimeout): a call that takes
// longer than those, within the new requestTimeout, is answered, not cut.
func TestRequestTimeoutBeyondTheServers(t *testing.T) {
	const conn = 300 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.RequestTimeout, o.ConnTimeout = 2*time.Second, conn })
	h.engine.delay = 3 * conn
	srv := httptest.NewUnstartedServer(h.srv.Handler())
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = conn, conn
	srv.Start()
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/acme/validate",
		strings.NewReader(`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`))
	req.SetBasicAuth("verify", "pw-secret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("a call longer than the server's write timeout, within requestTimeout: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "SUCCESS") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
