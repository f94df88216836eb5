package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReviewStreamedFormTooLarge: a form body over the limit sent without a
// Content-Length (chunked) is answered 413, as the same body with a Content-Length is,
// on the token endpoint and on the self-service pages, not 400 "could not be read".
func TestReviewStreamedFormTooLarge(t *testing.T) {
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
