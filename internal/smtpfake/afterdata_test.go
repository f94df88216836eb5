package smtpfake_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TestAfterData: a server set to hang up after DATA keeps the message, answers
// 250 and then closes the connection, so the client's RSET or QUIT finds it gone; set back
// to Answer, it finishes the session politely again.
func TestAfterData(t *testing.T) {
	s := smtpfake.Start(t, smtpfake.Options{TLS: smtpfake.TLSStartTLS})
	s.SetAfterData(smtpfake.HangUp)
	snd := sender(t, s, smtpfake.TLSStartTLS, "", "")
	m := delivery.Message{To: "alice@example.com", Subject: "code", Text: "Your code is 123456.", Code: "123456"}
	snd.Send(t.Context(), m) // the sender's verdict is its own test's business
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages kept, want 1", n)
	}
	if trace := s.Trace(); strings.Contains(trace, "QUIT") {
		t.Errorf("a QUIT was answered after the hang-up:\n%s", trace)
	}
	s.SetAfterData(smtpfake.Answer)
	if err := snd.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 2 {
		t.Errorf("%d messages kept, want 2", n)
	}
}
