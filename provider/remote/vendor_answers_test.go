package remote

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// TestTokenEndpointBodyStaysOutOfTheLog: a token endpoint that fails without an
// OAuth error code (a proxy's 502 page, a gateway's own JSON) made oauth2's error quote
// its whole body, up to 1 MiB, into every waiting call's "vendor call failed" line (and a
// lifecycle propagation's audit reason): the vendor's text, whatever it holds, once per
// login. The status says what failed; the body stays out.
func TestTokenEndpointBodyStaysOutOfTheLog(t *testing.T) {
	for _, c := range []struct{ name, ctype, body string }{
		{"an HTML page", "text/html", "<html><body>upstream down for alice@example.com " + strings.Repeat("x", 200<<10) + "</body></html>"},
		{"JSON without an error code", "application/json", `{"message":"no such client","echo":"client_secret=vendorsecret alice@example.com"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.WriteHeader(http.StatusBadGateway)
				w.Write([]byte(c.body))
			}))
			t.Cleanup(tokenSrv.Close)
			v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
			var logs lockedBuffer
			e, err := New(Options{Webhook: &Webhook{
				URLs: []string{v.srv.URL}, Timeout: Duration(time.Minute),
				Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
					TokenEndpoint: tokenSrv.URL, ClientID: "c1", ClientSecret: "client-secret-1"}},
				Resources: map[string]Resource{"validate": {Suffix: "/v"}},
			}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
				Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			out, err := e.Validate(t.Context(), req("totp", "", "1"))
			if out.Status != provider.StatusFailed || err != nil {
				t.Fatalf("validate: %+v %v, want FAILED", out, err)
			}
			got := logs.String()
			if !strings.Contains(got, "vendor call failed") || !strings.Contains(got, "502") {
				t.Errorf("the log does not say the token endpoint answered 502:\n%.500s", got)
			}
			if strings.Contains(got, "alice@example.com") || strings.Contains(got, "vendorsecret") || len(got) > 4<<10 {
				t.Errorf("the token endpoint's body reached the log (%d bytes):\n%.500s", len(got), got)
			}
		})
	}
}

// TestGzipAnswerWithAcceptEncodingHeader: a webhook whose headers ask for gzip
// (pasted from a vendor's sample, a Postman collection) got the vendor's gzip'd answer
// undecoded, a "malformed" body on every call, where the same vendor answered through
// Go's own Accept-Encoding was read: one vendor, one request, two outcomes.
func TestGzipAnswerWithAcceptEncodingHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write([]byte(`{"status":"SUCCESS"}`))
		z.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	for _, hdr := range [][]Header{nil, {{Key: "Accept-Encoding", Value: "gzip"}}} {
		e := newEngine(t, &Webhook{URLs: []string{srv.URL}, Headers: hdr, Resources: map[string]Resource{"validate": {Suffix: "/v"}}})
		out, err := e.Validate(t.Context(), req("totp", "", "1"))
		if err != nil || out.Status != provider.StatusSuccess {
			t.Errorf("headers %v: %+v %v, want SUCCESS", hdr, out, err)
		}
	}
}

// TestGzipAnswerBounded: a gzip'd answer is bounded once decoded, by
// maxResponseBytes, whoever asked for gzip.
func TestGzipAnswerBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write([]byte(`{"status":"SUCCESS","pad":"`))
		z.Write(bytes.Repeat([]byte("a"), 4<<20))
		z.Write([]byte(`"}`))
		z.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(b.Bytes())
	}))
	t.Cleanup(srv.Close)
	e := newEngine(t, &Webhook{URLs: []string{srv.URL}, Headers: []Header{{Key: "Accept-Encoding", Value: "gzip"}},
		Resources: map[string]Resource{"validate": {Suffix: "/v"}}})
	out, err := e.Validate(t.Context(), req("totp", "", "1"))
	if err != nil || out.Status != provider.StatusFailed {
		t.Errorf("a 4 MiB answer once decoded: %+v %v, want FAILED", out, err)
	}
}

// TestJSONAnswerWithByteOrderMark: a vendor (an ASP.NET one, typically) that starts
// its JSON with a UTF-8 byte order mark, which RFC 8259 §8.1 lets a parser ignore, had
// every answer refused as malformed: FAILED on every call.
func TestJSONAnswerWithByteOrderMark(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte("\xef\xbb\xbf{\"status\":\"SUCCESS\"}"))
	}))
	t.Cleanup(srv.Close)
	e := newEngine(t, &Webhook{URLs: []string{srv.URL}, Resources: map[string]Resource{"validate": {Suffix: "/v"}}})
	out, err := e.Validate(t.Context(), req("totp", "", "1"))
	if err != nil || out.Status != provider.StatusSuccess {
		t.Errorf("%+v %v, want SUCCESS", out, err)
	}
}
