package adapter

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPeekedBodyAllocs: a contract call with an X-Webhook-ID has its body peeked
// by the idempotency middleware (for its fingerprint) and read again by the handler's
// decode. peekBody put it back as a NopCloser over a bytes.Reader, two allocations, and
// readBody then copied it into a third: the handler now takes the peeked bytes.
func TestPeekedBodyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	const body = `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`
	e := New(Options{}).echo
	req := httptest.NewRequest("POST", "/", nil)
	rd := strings.NewReader(body)
	c := e.NewContext(req, httptest.NewRecorder())
	got := testing.AllocsPerRun(200, func() {
		rd.Reset(body)
		req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
		peeked, err := peekBody(c)
		if err != nil || string(peeked) != body {
			t.Fatalf("peek: %q %v", peeked, err)
		}
		read, err := readBody(c)
		if err != nil || string(read) != body {
			t.Fatalf("read: %q %v", read, err)
		}
	})
	t.Logf("a body peeked and read again: %v allocations", got)
	// One is the test's own NopCloser; one the body's buffer.
	if got > 3 {
		t.Errorf("a body peeked and read again allocates %v times, want at most 3 (5 before)", got)
	}
}

// TestPeekedBodyReads: a peeked body reads as the body did, whoever reads it and
// however: readBody's bytes, a reader's (whole, or in parts and then readBody the
// rest), peeked twice, and empty.
func TestPeekedBodyReads(t *testing.T) {
	const body = `{"username":"alice"}`
	e := New(Options{}).echo
	for _, b := range []string{body, ""} {
		c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(b)), httptest.NewRecorder())
		if p, err := peekBody(c); err != nil || string(p) != b {
			t.Fatalf("peek: %q %v", p, err)
		}
		if p, err := peekBody(c); err != nil || string(p) != b {
			t.Errorf("second peek: %q %v", p, err)
		}
		if r, err := readBody(c); err != nil || string(r) != b {
			t.Errorf("read after peeks: %q %v", r, err)
		}
		if r, err := readBody(c); err != nil || len(r) != 0 {
			t.Errorf("read again: %q %v, want nothing (the body was read)", r, err)
		}
	}
	c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
	peekBody(c)
	part := make([]byte, 5)
	if n, err := io.ReadFull(c.Request().Body, part); n != 5 || err != nil {
		t.Fatal(n, err)
	}
	if r, err := readBody(c); err != nil || string(part)+string(r) != body {
		t.Errorf("read after 5 bytes: %q %v", r, err)
	}
	c = e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
	peekBody(c)
	if all, err := io.ReadAll(c.Request().Body); err != nil || string(all) != body {
		t.Errorf("io.ReadAll: %q %v", all, err)
	}
	if err := c.Request().Body.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
