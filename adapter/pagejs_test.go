package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryPageAsksAgainWhenRestored: every page of the self-service page loads
// page.js, which asks the server again for a page restored from the browser's
// back/forward cache: the set-up pages that show a key, a QR code or a push activation
// code, the sign-in's number to type, and a factor's "shown only once" answer above all,
// none of which may come back on Back once the server no longer shows it. The script is
// served same-origin, so the page's CSP (script-src 'self') admits it.
func TestEveryPageAsksAgainWhenRestored(t *testing.T) {
	const tag = `<script src="/self-service/static/page.js" defer></script>`
	parts := map[string]bool{"selfservice.html": true, "head": true, "foot": true, "pushform": true}
	pages := 0
	for _, tmpl := range selfServicePages().Templates() {
		if parts[tmpl.Name()] {
			continue
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, pageData{Title: "t", QR: "data:image/png;base64,", Secret: "S", Code: "C", Number: 7}); err != nil {
			t.Fatalf("%s: %v", tmpl.Name(), err)
		}
		if !strings.Contains(b.String(), tag) {
			t.Errorf("page %q does not load page.js", tmpl.Name())
		}
		pages++
	}
	if pages < 8 {
		t.Fatalf("%d pages checked: the template's pages were not found", pages)
	}

	h, _ := newSelfServiceHarness(t)
	srv := httptest.NewServer(h.srv.Handler())
	t.Cleanup(srv.Close)
	res, err := http.Get(srv.URL + "/self-service/static/page.js")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	js, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		!strings.Contains(string(js), `addEventListener("pageshow"`) || !strings.Contains(string(js), "location.replace(") {
		t.Errorf("GET page.js: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), js)
	}
}
