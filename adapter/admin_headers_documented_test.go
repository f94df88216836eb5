package adapter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
)

// answerHeaders are the headers of an admin answer that a caller acts on: where a new
// user is, its version, how long to wait before a retry, and the token challenge.
var answerHeaders = []string{"Location", "ETag", "Retry-After", "WWW-Authenticate"}

// checkDocumentedHeaders fails t when an admin answer carries one of answerHeaders that
// the document does not declare for its operation and status: a client generated from
// the document gives no access to it (a Retry-After to wait, a Location to follow).
func checkDocumentedHeaders(t *testing.T, method, path string, code int, header http.Header) {
	t.Helper()
	router, err := adminRouter()
	if err != nil {
		t.Fatal(err)
	}
	route, _, err := router.FindRoute(httptest.NewRequest(method, "http://example.com"+path, nil))
	if err != nil {
		t.Fatalf("%s %s: no operation in the document: %v", method, path, err)
	}
	resp := route.Operation.Responses.Status(code)
	if resp == nil || resp.Value == nil {
		t.Errorf("%s %s: %d is not in the document", method, path, code)
		return
	}
	for _, name := range answerHeaders {
		if header.Get(name) == "" {
			continue
		}
		if _, ok := resp.Value.Headers[name]; !ok {
			t.Errorf("%s %s answered %d with %s: %q, which the document does not declare for it", method, path, code, name, header.Get(name))
		}
	}
}

// TestAnswerHeadersDocumented: the headers the README promises (a new user's
// Location, the RFC 6750 challenge of a 401 and a 403, the Retry-After of a 409
// idempotency_key_in_use) are declared where they are sent.
func TestAnswerHeadersDocumented(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	a := newIdemAdmin(t, testdb.SQLite(t), clock)
	tok := a.token(t, "idm")
	read, err := a.manager.CreateToken(context.Background(), "cli", "auditor", lifecycle.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	send := func(want int, method, path, body string, hdr ...string) {
		t.Helper()
		code, text, header := a.do(t, method, path, body, hdr...)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, text, want)
		}
		checkDocumentedHeaders(t, method, path, code, header)
	}
	send(201, "POST", AdminPrefix+"/users", `{"name":"alice"}`, "Authorization", "Bearer "+tok)
	send(200, "GET", AdminPrefix+"/users/alice", ``, "Authorization", "Bearer "+tok)
	send(401, "GET", AdminPrefix+"/users", ``, "X-None", "1")
	send(401, "POST", AdminPrefix+"/users", `{"name":"bob"}`, "Authorization", "Bearer emfa_at_nope")
	send(403, "POST", AdminPrefix+"/users", `{"name":"bob"}`, "Authorization", "Bearer "+read)

	// A retry while the first attempt with its key still runs.
	a.held.hold.Store(true)
	first := make(chan int, 1)
	go func() {
		code, _, _ := a.post(t, tok, "k-held", enrollPath, totpBody)
		first <- code
	}()
	testwait.Recv(t, "the first attempt to reach the store", a.held.entered)
	code, body, header := a.post(t, tok, "k-held", enrollPath, totpBody)
	close(a.held.gate)
	if code != http.StatusConflict || header.Get("Retry-After") == "" {
		t.Errorf("a retry while the first runs: %d %s %v, want 409 with Retry-After", code, body, header)
	}
	checkDocumentedHeaders(t, "POST", enrollPath, code, header)
	if code := testwait.Recv(t, "the first attempt's answer", first); code != http.StatusCreated {
		t.Errorf("the first attempt: %d", code)
	}
}
