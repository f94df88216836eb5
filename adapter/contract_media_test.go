package adapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A contract call whose body a browser's cross-site form could send (a form, plain
// text) is refused 415 before anything runs: an operator's browser that once opened
// {base}/test keeps the Basic credentials it was asked for, and a page elsewhere could
// otherwise post JSON as text/plain to initiate (a text sent) or validate (a factor
// locked out by wrong codes) with them. JSON, and a body sent without a type, are read.
func TestContractRefusesBrowserFormBodies(t *testing.T) {
	h := newHarness(t, nil)
	body := `{"capability":"smsOTP","id":"f1","attributes":{"username":"alice"}}`
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "Text/Plain"} {
		h.engine.last.Username = ""
		req := httptest.NewRequest("POST", "/v1/providers/acme/initiate", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.SetBasicAuth("verify", "pw-secret")
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnsupportedMediaType || !strings.Contains(rec.Body.String(), `"messageId":"unsupported_media_type"`) {
			t.Errorf("%s: %d %s, want 415 unsupported_media_type", ct, rec.Code, rec.Body.String())
		}
		if h.engine.last.Username != "" {
			t.Errorf("%s: the engine was asked", ct)
		}
	}
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", ""} {
		req := httptest.NewRequest("POST", "/v1/providers/acme/initiate", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth("verify", "pw-secret")
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%q: %d %s, want 200", ct, rec.Code, rec.Body.String())
		}
	}
	// A GET reads only; its type is not looked at.
	req := httptest.NewRequest("GET", "/v1/providers/acme/test", nil)
	req.Header.Set("Content-Type", "text/plain")
	req.SetBasicAuth("verify", "pw-secret")
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("GET test with text/plain: %d, want 200", rec.Code)
	}
}
