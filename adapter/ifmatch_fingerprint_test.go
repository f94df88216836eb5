package adapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
)

// TestIfMatchEmptyFingerprinted: an If-Match that lists no tag (sent empty) is
// 412, a write without one is made: they are two requests, and an Idempotency-Key's
// fingerprint, which joined the fields (none, or one empty) into the same "", answered
// either with the other's recorded answer (a disable's 200 to the empty If-Match that is
// 412 by itself; the 412 to a retry made unconditional) rather than 422.
func TestIfMatchEmptyFingerprinted(t *testing.T) {
	st := testdb.SQLite(t)
	a := newIdemAdmin(t, st, &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
	tok := a.token(t, "idm")
	if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", code, body)
	}
	disable := func(key string, ifMatch ...string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("POST", AdminPrefix+"/users/alice/disable", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set(HeaderIdempotencyKey, key)
		for _, v := range ifMatch {
			req.Header.Add("If-Match", v)
		}
		rec := httptest.NewRecorder()
		a.srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	reused := func(code int, body string) bool {
		return code == http.StatusUnprocessableEntity && strings.Contains(body, "idempotency_key_reused")
	}
	if code, body := disable("k-none"); code != http.StatusOK {
		t.Fatalf("first, without If-Match: %d %s", code, body)
	}
	if code, body := disable("k-none", ""); !reused(code, body) {
		t.Errorf("the key again with an empty If-Match: %d %s, want 422 idempotency_key_reused", code, body)
	}
	if code, body := disable("k-empty", ""); code != http.StatusPreconditionFailed {
		t.Fatalf("first, with an empty If-Match: %d %s, want 412", code, body)
	}
	if code, body := disable("k-empty"); !reused(code, body) {
		t.Errorf("the key again without If-Match: %d %s, want 422 idempotency_key_reused", code, body)
	}
	// An If-Match of no tags, sent empty or as commas, is one request: a retry.
	if code, body := disable("k-empty", ","); code != http.StatusPreconditionFailed {
		t.Errorf("the key again with If-Match: , : %d %s, want the first's 412", code, body)
	}
}
