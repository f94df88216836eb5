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
	_, disable := aliceToDisable(t)
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

// TestIfMatchFingerprintReadsTheList: an Idempotency-Key's fingerprint reads If-Match as
// the write does (entityTags): the list of its tags, in one field or several, blanks and
// stray commas being no tags. It read the fields' text, so a retry of a disable whose
// If-Match the client (or a proxy folding fields) wrote `"a", "b"` where the first
// attempt had `"a","b"`, or with a trailing comma, was refused 422 idempotency_key_reused
// for the same request, when the write itself read both alike. A list that differs in
// its tags, and one of no tags against none given, are still other requests.
func TestIfMatchFingerprintReadsTheList(t *testing.T) {
	cur, disable := aliceToDisable(t)
	if code, body := disable("k-1", `"other.1",`+cur); code != http.StatusOK {
		t.Fatalf("first: %d %s", code, body)
	}
	for _, same := range [][]string{
		{`"other.1", ` + cur},
		{`"other.1" ,` + cur + `,`},
		{`"other.1"`, cur},
		{``, `"other.1"`, ` , ` + cur},
	} {
		if code, body := disable("k-1", same...); code != http.StatusOK {
			t.Errorf("a retry with If-Match %q, the same list: %d %s, want the first's 200", same, code, body)
		}
	}
	for _, other := range [][]string{
		{cur + `, "other.1"`}, // another order: another request, as the fields' order is
		{`"other.1"`},
		{`"other.1", ` + cur, `*`},
		nil,
	} {
		if code, body := disable("k-1", other...); code != http.StatusUnprocessableEntity || !strings.Contains(body, "idempotency_key_reused") {
			t.Errorf("the key with If-Match %q: %d %s, want 422 idempotency_key_reused", other, code, body)
		}
	}
	// A list of no tags (412, refused) is not the request without If-Match.
	if code, body := disable("k-2", ", ,"); code != http.StatusPreconditionFailed {
		t.Fatalf("If-Match of no tags: %d %s", code, body)
	}
	for _, same := range [][]string{{""}, {",", " "}} {
		if code, body := disable("k-2", same...); code != http.StatusPreconditionFailed || !strings.Contains(body, "user_changed") {
			t.Errorf("the key with If-Match %q, again no tags: %d %s, want the first's 412", same, code, body)
		}
	}
	if code, body := disable("k-2"); code != http.StatusUnprocessableEntity || !strings.Contains(body, "idempotency_key_reused") {
		t.Errorf("the key without If-Match after one of no tags: %d %s, want 422 idempotency_key_reused", code, body)
	}
}

// aliceToDisable serves the admin API with Idempotency-Keys, creates alice, and returns
// her ETag and a disable of her under key with the If-Match fields given.
func aliceToDisable(t *testing.T) (etag string, disable func(key string, ifMatch ...string) (int, string)) {
	t.Helper()
	st := testdb.SQLite(t)
	a := newIdemAdmin(t, st, &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
	tok := a.token(t, "idm")
	code, _, hdr := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`)
	if code != http.StatusCreated || hdr.Get("ETag") == "" {
		t.Fatalf("create alice: %d %v", code, hdr)
	}
	return hdr.Get("ETag"), func(key string, ifMatch ...string) (int, string) {
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
}
