package adapter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTooLargeBodyCounted: a source's body over the limit (syncMaxBody) is
// answered 413, and its events are lost as those of any body refused (Okta sends no batch
// answered 4xx again); it was neither counted in emfa_sync_events_received_total
// {outcome="refused"} nor logged as a refused payload, so EmfaSyncEventsRefused never
// fired for it: only the access log's 413 told. It is counted as one refused (its events
// cannot be told) and logged as refused, whether the body says its length
// (Content-Length, refused without reading it) or is streamed. A request with the wrong
// secret is answered 401 and counted nowhere, however large it says it is.
func TestTooLargeBodyCounted(t *testing.T) {
	h, obs := newReceivedHarness(t)
	big := oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1)) + strings.Repeat(" ", syncMaxBody)
	send := func(path, secretHeader, secret string, streamed bool) int {
		req := httptest.NewRequest("POST", path, strings.NewReader(big))
		if streamed {
			req = httptest.NewRequest("POST", path, io.NopCloser(strings.NewReader(big)))
			req.ContentLength = -1
		}
		req.Header.Set(secretHeader, secret)
		rec := httptest.NewRecorder()
		h.h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, streamed := range []bool{false, true} {
		if code := send(OktaPath, "X-Okta-Secret", testSecret, streamed); code != http.StatusRequestEntityTooLarge {
			t.Errorf("streamed %v: %d, want 413", streamed, code)
		}
	}
	if code := send(Auth0Path, "Authorization", testSecret, false); code != http.StatusRequestEntityTooLarge {
		t.Errorf("auth0: %d, want 413", code)
	}
	if code := send(VerifyPath, "X-Verify-Secret", "wrong", false); code != http.StatusUnauthorized {
		t.Errorf("the wrong secret: %d, want 401", code)
	}
	obs.mu.Lock()
	got := map[string]int{}
	for k, v := range obs.n {
		got[k] = v
	}
	obs.mu.Unlock()
	if want := map[string]int{"okta/refused": 2, "auth0/refused": 1}; len(got) != len(want) || got["okta/refused"] != 2 || got["auth0/refused"] != 1 {
		t.Errorf("counted %v, want %v", got, want)
	}
	if n := strings.Count(h.logs.String(), `msg="sync payload refused"`); n != 3 {
		t.Errorf("%d refusals logged, want 3:\n%.3000s", n, h.logs.String())
	}
}
