package adapter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestIfMatchList: If-Match may list entity tags, any one of which matching lets
// the write through (RFC 9110 §13.1.1), in one field or several. A list holding the
// user's current ETag was read as a version never held and refused 412 user_changed,
// however often the script read the user again; it now applies. A list none of whose tags
// is current is still 412, nothing changed, and a weak tag never matches.
func TestIfMatchList(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, out)
	}
	etag := func() string {
		t.Helper()
		code, _, hdr := h.do(t, "GET", AdminPrefix+"/users/alice", "", "Authorization", "Bearer "+h.write)
		if code != http.StatusOK || hdr.Get("ETag") == "" {
			t.Fatalf("get alice: %d %v", code, hdr)
		}
		return hdr.Get("ETag")
	}
	old := etag()
	patch := func(body string, ifMatch ...string) int {
		t.Helper()
		req := httptest.NewRequest("PATCH", AdminPrefix+"/users/alice", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.write)
		req.Header.Set("Content-Type", "application/json")
		for _, v := range ifMatch {
			req.Header.Add("If-Match", v) // several fields, when given several
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && !strings.Contains(rec.Body.String(), `"user_changed"`) {
			t.Errorf("PATCH %s If-Match %q: %d %s", body, ifMatch, rec.Code, rec.Body)
		}
		return rec.Code
	}
	if code := patch(`{"displayName":"A"}`, old); code != http.StatusOK {
		t.Fatalf("a single current tag: %d", code)
	}
	for _, tc := range []struct {
		ifMatch func(old, cur string) []string
		want    int
	}{
		{func(old, cur string) []string { return []string{old + ", " + cur} }, http.StatusOK},
		{func(old, cur string) []string { return []string{cur + "," + old} }, http.StatusOK},
		{func(old, cur string) []string { return []string{`"other.1", ` + cur} }, http.StatusOK},
		{func(old, cur string) []string { return []string{old, cur} }, http.StatusOK}, // two fields are one list
		{func(old, cur string) []string { return []string{old + ", W/" + cur} }, http.StatusPreconditionFailed},
		{func(old, cur string) []string { return []string{old + `, "other.1"`} }, http.StatusPreconditionFailed},
		{func(old, cur string) []string { return []string{", ,"} }, http.StatusPreconditionFailed},   // no tag is none held
		{func(old, cur string) []string { return []string{"", old} }, http.StatusPreconditionFailed}, // an empty first field
	} {
		cur := etag()
		if got := patch(`{"displayName":"B `+strings.Trim(cur, `"`)+`"}`, tc.ifMatch(old, cur)...); got != tc.want {
			t.Errorf("If-Match %q with %s current: %d, want %d", tc.ifMatch(old, cur), cur, got, tc.want)
		}
		if after := etag(); (after != cur) != (tc.want == http.StatusOK) {
			t.Errorf("If-Match %q: the user went from %s to %s", tc.ifMatch(old, cur), cur, after)
		}
	}
}

// TestIfMatchFieldsFingerprinted: If-Match given in several fields is one list,
// every field of which decides whether the write applies; a request's Idempotency-Key
// fingerprint read the first field alone, so the same key sent with another second field
// (a disable that would have been refused 412) was answered the first's 200 rather than
// 422 idempotency_key_reused.
func TestIfMatchFieldsFingerprinted(t *testing.T) {
	cur, disable := aliceToDisable(t)
	if code, body := disable("k-1", `"other.1"`, cur); code != http.StatusOK {
		t.Fatalf("first, its second field current: %d %s", code, body)
	}
	if code, body := disable("k-1", `"other.1"`, `"other.2"`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "idempotency_key_reused") {
		t.Errorf("the key with another second If-Match field: %d %s, want 422 idempotency_key_reused", code, body)
	}
}
