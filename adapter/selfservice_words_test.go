package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPageAnswersHEAD: a HEAD of the page's addresses (a link checker, a proxy's probe)
// answers as the GET does, headers and all, without a body; a wrong method's 405 lists
// HEAD with GET in its Allow.
func TestPageAnswersHEAD(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	srv := httptest.NewServer(h.srv.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, path := range []string{"/self-service", "/self-service/", "/self-service/style.css", "/self-service/static/poll.js",
		"/self-service/enroll", "/self-service/ready", "/self-service/signin"} {
		t.Run(path, func(t *testing.T) {
			get, _ := send(http.MethodGet, path)
			head, body := send(http.MethodHead, path)
			if head.StatusCode != get.StatusCode || body != "" {
				t.Errorf("HEAD: %d with %d bytes, want GET's %d without a body", head.StatusCode, len(body), get.StatusCode)
			}
			for _, k := range []string{"Content-Type", "Content-Security-Policy", "Cache-Control", "Location"} {
				if head.Header.Get(k) != get.Header.Get(k) {
					t.Errorf("HEAD's %s %q, GET's %q", k, head.Header.Get(k), get.Header.Get(k))
				}
			}
		})
	}
	for _, tc := range []struct{ method, path, allow string }{
		{"PUT", "/self-service/", "GET, HEAD"},
		{"DELETE", "/self-service/enroll", "GET, HEAD, POST"},
		{"POST", "/self-service/style.css", "GET, HEAD"},
	} {
		res, body := send(tc.method, tc.path)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != tc.allow || !strings.Contains(body, "cannot be opened that way") {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q and the page's message", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), tc.allow)
		}
	}
}
