package adapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A contract body that is not UTF-8 is refused 400, the engine not asked: encoding/json
// read each bad byte as U+FFFD, so {"username":"jos\xe9"} (a Latin-1 client's josé) was
// answered for the user "jos\uFFFD", where the README says an identifier that is not
// UTF-8 is never taken for a user.
func TestContractRefusesABodyNotUTF8(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/v1/providers/acme/initiate", "/v1/providers/acme/enrollments"} {
		h.engine.last.Username = ""
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"capability":"smsOTP","id":"f1","attributes":{"username":"jos`+"\xe9"+`"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("verify", "pw-secret")
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "UTF-8") {
			t.Errorf("%s: %d %s, want 400 naming UTF-8", path, rec.Code, rec.Body.String())
		}
		if h.engine.last.Username != "" {
			t.Errorf("%s: the engine was asked for %q", path, h.engine.last.Username)
		}
	}
}
