package adapter

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// isLinkPathCleaning is isLinkPath as it was, cleaning every path.
func isLinkPathCleaning(p string) bool {
	const prefix = "/self-service/link/"
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p)
	return len(p) > len(prefix) && strings.EqualFold(p[:len(prefix)], prefix)
}

// TestIsLinkPath: isLinkPath, which cleans only a path that holds "link" in
// some case, answers every path as cleaning each did: paths made of the link's pieces in
// any case, dot segments, doubled slashes, letters that fold to ASCII ones (ſ, the
// Kelvin sign) and bytes that are not UTF-8.
func TestIsLinkPath(t *testing.T) {
	pieces := []string{"/", "//", "self-service", "SELF-Service", "ſelf-service", "link", "LINK", "lin\u212a", "lınk", "li", "nk",
		".", "..", "tok", "x", "\xff", "l", "ink", "/self-service/link/", "v1", "providers"}
	for _, p := range []string{"/self-service/link/t", "/SELF-SERVICE/LINK/t", "/Self-Service/Link/t", "/self-service/lINK/t",
		"//self-service//link//t", "/x/../self-service/./link/t", "self-service/link/t", "/self-service/link/", "/self-service/link",
		"/ſelf-service/link/t", "/self-service/linK/t", "/v1/providers/acme/enrollments", "/self-service/linkx/t"} {
		if got, want := isLinkPath(p), isLinkPathCleaning(p); got != want {
			t.Errorf("isLinkPath(%q) = %v, cleaning it says %v", p, got, want)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		var b strings.Builder
		for range rnd.IntN(8) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		p := b.String()
		if got, want := isLinkPath(p), isLinkPathCleaning(p); got != want {
			t.Errorf("isLinkPath(%q) = %v, cleaning it says %v", p, got, want)
		}
	}
}

// TestHeaderValue: headerValue reads a canonical key as Header.Get does: the
// first value, "" for none or an empty list.
func TestHeaderValue(t *testing.T) {
	h := http.Header{}
	h.Add("authorization", "Basic a")
	h.Add("Authorization", "Basic b")
	h["Content-Type"] = []string{}
	for _, key := range []string{"Authorization", "Content-Type", "X-Absent"} {
		if got, want := headerValue(h, key), h.Get(key); got != want {
			t.Errorf("headerValue(%q) = %q, Header.Get %q", key, got, want)
		}
	}
}

// TestAnswerBlob: answerBlob answers as c.Blob did: the status, the body, and
// Content-Type application/json unless the handler set one already (an empty one is
// none).
func TestAnswerBlob(t *testing.T) {
	s := New(Options{})
	for _, preset := range [][]string{nil, {""}, {"application/problem+json"}} {
		run := func(answer func(c echo.Context) error) (int, string, http.Header) {
			rec := httptest.NewRecorder()
			if preset != nil {
				rec.Header()["Content-Type"] = append([]string(nil), preset...)
			}
			answer(s.echo.NewContext(httptest.NewRequest("POST", "/", nil), rec))
			return rec.Code, rec.Body.String(), rec.Header()
		}
		body := []byte(`{"status":"SUCCESS"}` + "\n")
		code, got, hdr := run(func(c echo.Context) error { return answerBlob(c, http.StatusAccepted, body) })
		wcode, want, whdr := run(func(c echo.Context) error { return c.Blob(http.StatusAccepted, echo.MIMEApplicationJSON, body) })
		if code != wcode || got != want || !reflect.DeepEqual(hdr, whdr) {
			t.Errorf("preset %q: answerBlob %d %q %v, c.Blob %d %q %v", preset, code, got, hdr, wcode, want, whdr)
		}
	}
}
