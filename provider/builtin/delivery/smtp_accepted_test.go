package delivery

import (
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSMTPAcceptedThenSilent: once the relay has answered 250 to DATA it has
// taken the message (RFC 5321 §4.1.1.4), and the user will receive the code. A relay that
// then drops the connection, or stops answering, before RSET and QUIT must not turn that
// send into a failure: the factor would complete the challenge FAILED, and the code that
// arrives would not work.
func TestSMTPAcceptedThenSilent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mode  string
		after smtpfake.AfterData
	}{
		{"hang up, starttls", TLSStartTLS, smtpfake.HangUp},
		{"hang up, implicit tls", TLSImplicit, smtpfake.HangUp},
		{"hang up, plaintext", TLSNone, smtpfake.HangUp},
		{"stall, starttls", TLSStartTLS, smtpfake.Hang},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := smtpfake.Start(t, smtpfake.Options{TLS: tc.mode})
			srv.SetAfterData(tc.after)
			o := optionsFor(srv, tc.mode)
			// A stalled relay is waited for up to the sender's timeout, no longer.
			o.Timeout = 300 * time.Millisecond
			s := newTestSMTP(t, o)
			err := s.Send(t.Context(), Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 123456", Code: "123456"})
			if n := len(srv.Messages()); n != 1 {
				t.Fatalf("relay took %d messages, want 1", n)
			}
			if err != nil {
				t.Errorf("Send = %v for a message the relay accepted", err)
			}
		})
	}
}
