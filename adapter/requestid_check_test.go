package adapter

import (
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// safeIDBefore is the rule requestID kept a caller's X-Request-Id by before
// safeRequestID.
var safeIDBefore = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// TestRequestIDCheck: safeRequestID keeps exactly the ids the regular
// expression kept: every byte value alone and inside an id, the lengths around 128, and
// random strings over the allowed bytes with others mixed in.
func TestRequestIDCheck(t *testing.T) {
	check := func(id string) {
		t.Helper()
		if got, want := safeRequestID(id), safeIDBefore.MatchString(id); got != want {
			t.Errorf("safeRequestID(%q) = %v, the expression %v", id, got, want)
		}
	}
	for _, id := range []string{"", "a", "allocs-1", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "a b", "a\n", "\na", "é", "a/b",
		strings.Repeat("x", 127), strings.Repeat("x", 128), strings.Repeat("x", 129), strings.Repeat("x", 128) + "\n"} {
		check(id)
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
		check("ab" + string([]byte{byte(c)}) + "cd")
	}
	const alphabet = "azAZ09._:-+ /\x00\x7f\xff\n"
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rnd.IntN(140))
		for i := range b {
			if rnd.IntN(20) == 0 {
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			} else {
				b[i] = "abcXYZ019._:-"[rnd.IntN(13)]
			}
		}
		check(string(b))
	}
}

// TestRequestIDEchoed: a caller's X-Request-Id, however its header is
// spelled, is echoed in the answer and written in the access log; one that is not safe
// is replaced by a fresh id of 24 hex digits, echoed and logged alike.
func TestRequestIDEchoed(t *testing.T) {
	for _, c := range []struct{ name, sent, want string }{
		{"X-Request-Id", "rid-1", "rid-1"},
		{"x-request-id", "rid-2", "rid-2"},
		{"X-Request-Id", "bad id", ""},
		{"X-Request-Id", strings.Repeat("r", 129), ""},
	} {
		h := newHarness(t, nil)
		req, _ := http.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"alice"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(c.name, c.sent)
		req.SetBasicAuth("verify", "pw-secret")
		rec := &discardWriter{h: http.Header{}}
		h.srv.Handler().ServeHTTP(rec, req)
		got := rec.h.Get("X-Request-Id")
		if c.want != "" && got != c.want {
			t.Errorf("%s: %q: echoed %q, want %q", c.name, c.sent, got, c.want)
		}
		if c.want == "" && (len(got) != 24 || strings.Trim(got, "0123456789abcdef") != "") {
			t.Errorf("%s: %q: echoed %q, want a fresh id of 24 hex digits", c.name, c.sent, got)
		}
		if !strings.Contains(h.logs.String(), `"request_id":"`+got+`"`) {
			t.Errorf("%s: %q: the access log lacks request_id %q:\n%s", c.name, c.sent, got, h.logs.String())
		}
	}
}
