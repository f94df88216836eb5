package delivery

import (
	"net/http"
	"testing"
	"time"
)

// TestHTTPAcceptedThenHeldBody: once a gateway's status says it took the message,
// a body it then holds open must not hold the send, and the contract call waiting on it,
// until the sender's timeout: the body is drained for the connection's reuse only, for a
// moment.
func TestHTTPAcceptedThenHeldBody(t *testing.T) {
	t.Parallel()
	held := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"sid":`))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // until the client gives up on the answer
	}
	m := Message{To: "+15558675310", Text: "Your code is 998877", Code: "998877", User: "alice"}
	wait := func(t *testing.T, send func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- send() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Send = %v for a message the gateway accepted", err)
			}
		case <-time.After(time.Minute): // a watchdog, far beyond the grace
			t.Fatal("Send still waits on the body of an accepted message")
		}
	}
	t.Run("twilio", func(t *testing.T) {
		t.Parallel()
		_, srv := startTwilioFake(t, held)
		tw := newTestTwilio(t, srv.URL, func(o *TwilioOptions) { o.Timeout = time.Hour })
		wait(t, func() error { return tw.Send(t.Context(), m) })
	})
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		srv := startGateway(t, &gatewayFake{respond: held})
		h, err := NewHTTP(HTTPOptions{URL: srv.URL, Body: `{"to": to, "text": message}`, ExpectedStatus: []int{201}, Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		wait(t, func() error { return h.Send(t.Context(), m) })
	})
}
