package delivery

import (
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSMTPStallAfterAccepted: a relay that has answered 250 to DATA has the
// message; one that then stops answering must not hold the send, and the contract call
// waiting on it, until the sender's timeout (10 s by default, Verify's whole budget).
// After the 250 only QUIT is owed, and it is given a moment, not the time left.
func TestSMTPStallAfterAccepted(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{TLSNone, TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := smtpfake.Start(t, smtpfake.Options{TLS: mode})
			srv.SetAfterData(smtpfake.Hang)
			o := optionsFor(srv, mode)
			o.Timeout = time.Hour // what a stalled relay would otherwise cost
			s := newTestSMTP(t, o)
			done := make(chan error, 1)
			go func() {
				done <- s.Send(t.Context(), Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 123456", Code: "123456"})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Send = %v for a message the relay accepted", err)
				}
			case <-time.After(time.Minute): // a watchdog, far beyond the grace
				t.Fatal("Send still waits on a relay that went silent after accepting the message")
			}
			if n := len(srv.Messages()); n != 1 {
				t.Errorf("relay took %d messages, want 1", n)
			}
		})
	}
}
