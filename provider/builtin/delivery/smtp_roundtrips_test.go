package delivery

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSMTPNoIdleCommands: a session carries one message on a connection just
// opened: EHLO, (STARTTLS, EHLO, AUTH,) MAIL, RCPT, DATA, QUIT. A NOOP to check the
// connection it has just greeted on, or a RSET before the QUIT, is one more round trip
// to the relay for each code, and one more answer a slow relay makes the user wait for.
func TestSMTPNoIdleCommands(t *testing.T) {
	t.Parallel()
	srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
	s := newTestSMTP(t, optionsFor(srv, TLSStartTLS))
	if err := s.Send(t.Context(), Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 123456", Code: "123456"}); err != nil {
		t.Fatal(err)
	}
	trace := srv.Trace()
	for _, cmd := range []string{"NOOP", "RSET"} {
		if strings.Contains(trace, "\n"+cmd+"\r\n") || strings.Contains(trace, "\n"+cmd+"\n") {
			t.Errorf("the session sent %s:\n%s", cmd, trace)
		}
	}
	if !strings.Contains(trace, "QUIT") {
		t.Errorf("no QUIT:\n%s", trace)
	}
}
