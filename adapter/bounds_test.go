package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestStreamedFormTooLarge: a form body over the limit sent without a
// Content-Length (chunked) is answered 413, as the same body with a Content-Length is,
// on the token endpoint and on the self-service pages, not 400 "could not be read".
func TestStreamedFormTooLarge(t *testing.T) {
	streamed := func(t *testing.T, h http.Handler, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest("POST", path, io.NopCloser(strings.NewReader(body)))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	t.Run("oauth token", func(t *testing.T) {
		h := newOAuthHarness(t)
		rec := streamed(t, h.srv.Handler(), "/oauth2/token", "grant_type=client_credentials&pad="+strings.Repeat("a", 200<<10))
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("a streamed token request too large: %d %s, want 413", rec.Code, rec.Body)
		}
	})
	t.Run("self-service", func(t *testing.T) {
		h, _ := newSelfServiceHarness(t)
		rec := streamed(t, h.srv.Handler(), "/self-service/signin", "username="+strings.Repeat("a", 200<<10))
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("a streamed form too large: %d, want 413", rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("not the page's own message: %q", rec.Header().Get("Content-Type"))
		}
	})
}

// deadlineRecorder is a recorder that keeps the connection deadlines a handler set
// (http.ResponseController).
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	read, write []time.Time
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error { d.read = append(d.read, t); return nil }
func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.write = append(d.write, t)
	return nil
}

// TestImportDeadlineAfterAuth: an import's ten-minute read and write deadlines are
// given to a request that authenticated, not to anyone who posts to the import's path: a
// client without a token held its connection for ten minutes, past the server's
// ReadTimeout, on the listener Verify calls when the admin API shares it.
func TestImportDeadlineAfterAuth(t *testing.T) {
	h := newAdminHarness(t)
	post := func(token string) *deadlineRecorder {
		req := httptest.NewRequest("POST", "/admin/v1/import?format=csv", io.NopCloser(strings.NewReader("username\nbob\n")))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "text/csv")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		h.srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	later := time.Now().Add(time.Minute)
	for _, token := range []string{"", "not-a-token"} {
		rec := post(token)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", token, rec.Code)
		}
		for _, d := range append(rec.read, rec.write...) {
			if d.After(later) {
				t.Errorf("token %q: a connection deadline of %v given before authentication", token, time.Until(d).Round(time.Second))
			}
		}
	}
	rec := post(h.write)
	if rec.Code != http.StatusOK {
		t.Fatalf("an authenticated import: %d %s", rec.Code, rec.Body)
	}
	if len(rec.read) == 0 || !rec.read[len(rec.read)-1].After(later) || len(rec.write) == 0 || !rec.write[len(rec.write)-1].After(later) {
		t.Errorf("an authenticated import's deadlines: read %v write %v, want the import's", rec.read, rec.write)
	}
}

// TestUnknownKidLogBounded: the kid and alg of a token are the caller's own,
// unauthenticated; the refusal that quotes them is logged bounded, as a refused client_id
// or a path is, not as many kilobytes as the Authorization header may hold.
func TestUnknownKidLogBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k1.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	}))
	defer jwksSrv.Close()
	jwks := &JWKS{URL: jwksSrv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: jwksSrv.Client(), Now: clock.Now}
	h := newHarness(t, func(o *Options) { o.OAuth = &OAuth{JWKS: jwks} })
	kid := "kid-" + strings.Repeat("x", 16<<10)
	tok := signToken(t, k1, jose.ES256, kid, jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
		Expiry: jwt.NewNumericDate(clock.Now().Add(time.Minute))})
	if code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+tok); code != 401 {
		t.Fatalf("an unknown kid: %d, want 401", code)
	}
	// An alg of its own choosing, which go-jose's refusal quotes.
	enc := base64.RawURLEncoding.EncodeToString
	alg := enc([]byte(`{"alg":"`+strings.Repeat("A", 16<<10)+`","kid":"k1"}`)) + "." + enc([]byte(`{}`)) + "." + enc([]byte("sig"))
	if code, _, _ := h.do(t, "POST", "/v1/providers/acme/test", `{}`, "Authorization", "Bearer "+alg); code != 401 {
		t.Fatalf("an unknown alg: %d, want 401", code)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "kid-xxx") || !strings.Contains(logs, "unexpected signature algorithm") {
		t.Errorf("the refusals do not say why: %.2000s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if len(line) > 2048 {
			t.Errorf("a log line of %d bytes: %.300s…", len(line), line)
		}
	}
}

// TestRefusedEventsLogBounded: a batch of thousands of unreadable events (a source
// misconfigured, a payload of its own choosing from anyone with the hook's secret) is
// logged and answered in lines of bounded size, each event counted but not each listed.
func TestRefusedEventsLogBounded(t *testing.T) {
	h := newSyncHarness(t)
	evs := []string{okEv("good", "user.lifecycle.create", "alice@example.com", 1)}
	for i := range 20000 {
		evs = append(evs, `{"uuid":"bad-`+itoa(i)+`","eventType":"user.lifecycle.create"}`)
	}
	if code, _, _ := h.do("POST", OktaPath, oktaBatch(evs...), "X-Okta-Secret", testSecret); code != 204 {
		t.Fatalf("the batch: %d, want 204", code)
	}
	if got := h.srv.SyncCounts().Refused.Load(); got != 20000 {
		t.Errorf("refused %d, want 20000", got)
	}
	code, out, _ := h.do("POST", OktaPath, oktaBatch(evs[1:]...), "X-Okta-Secret", testSecret)
	if msg, _ := out["messageDescription"].(string); code != 400 || msg == "" || len(msg) > 8<<10 {
		t.Errorf("a batch of refused events only: %d, a message of %d bytes", code, len(msg))
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "bad-0") || !strings.Contains(logs, "refused=20000") {
		t.Errorf("the log does not say what was refused: %.1000s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if len(line) > 8<<10 {
			t.Errorf("a log line of %d bytes: %.300s…", len(line), line)
		}
	}
}
