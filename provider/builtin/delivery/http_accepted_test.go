package delivery

import (
	"net/http"
	"strings"
	"testing"
)

// TestHTTPAcceptedThenBadBody: a gateway's status says whether it took the
// message; Twilio's 201 and an HTTP gateway's expected status mean the code is on its way.
// What follows the status — an answer larger than the sender reads, or a connection cut
// in the middle of it — must not make Send fail, or the factor ends the challenge FAILED
// while the user receives a code that does not work.
func TestHTTPAcceptedThenBadBody(t *testing.T) {
	t.Parallel()
	huge := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(strings.Repeat("x", maxResponseBytes+1)))
		}
	}
	cut := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(status)
			w.Write([]byte(`{"sid":`))
			w.(http.Flusher).Flush()
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		}
	}
	m := Message{To: "+15558675310", Text: "Your code is 998877", Code: "998877", User: "alice"}
	for _, tc := range []struct {
		name    string
		respond http.HandlerFunc
	}{
		{"huge answer", huge(http.StatusCreated)},
		{"cut answer", cut(http.StatusCreated)},
	} {
		t.Run("twilio "+tc.name, func(t *testing.T) {
			t.Parallel()
			_, srv := startTwilioFake(t, tc.respond)
			if err := newTestTwilio(t, srv.URL).Send(t.Context(), m); err != nil {
				t.Errorf("Send = %v for a message Twilio accepted", err)
			}
		})
		t.Run("http "+tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startGateway(t, &gatewayFake{respond: tc.respond})
			h, err := NewHTTP(HTTPOptions{URL: srv.URL, Body: `{"to": to, "text": message}`, ExpectedStatus: []int{201}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			if err := h.Send(t.Context(), m); err != nil {
				t.Errorf("Send = %v for a message the gateway accepted", err)
			}
		})
	}
}
