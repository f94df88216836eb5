package delivery

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSMTPUTF8LocalPart: a mailbox name with non-ASCII letters (jörg@…, which
// enrollment accepts) may go only to a relay that offers SMTPUTF8 (RFC 6531 §3.2); the
// domain has its A-label, the local part has no ASCII form. Sent raw to a relay without
// it, the message was accepted, the code answered PENDING, and the relay was free to
// mangle or bounce it where nobody looks. Refused instead, the send fails saying why; a
// relay that offers SMTPUTF8 gets the message, announced with it.
func TestSMTPUTF8LocalPart(t *testing.T) {
	t.Parallel()
	msg := Message{To: "jörg@bücher.example", Subject: "Your code", Text: "Your code is 123456", Code: "123456"}
	t.Run("relay without SMTPUTF8", func(t *testing.T) {
		t.Parallel()
		srv := smtpfake.Start(t, smtpfake.Options{})
		err := newTestSMTP(t, optionsFor(srv, TLSNone)).Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "SMTPUTF8") {
			t.Errorf("Send = %v, want a refusal naming SMTPUTF8", err)
		}
		if err != nil && strings.Contains(err.Error(), "jörg") {
			t.Errorf("the error names the mailbox: %v", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("relay took %d messages, want none", n)
		}
		if trace := srv.Trace(); strings.Contains(trace, "jörg") {
			t.Errorf("UTF-8 mailbox name sent to a relay without SMTPUTF8:\n%s", trace)
		}
	})
	t.Run("relay with SMTPUTF8", func(t *testing.T) {
		t.Parallel()
		srv := smtpfake.Start(t, smtpfake.Options{SMTPUTF8: true})
		if err := newTestSMTP(t, optionsFor(srv, TLSNone)).Send(t.Context(), msg); err != nil {
			t.Fatalf("Send = %v", err)
		}
		got := srv.Messages()
		if len(got) != 1 || len(got[0].To) != 1 || got[0].To[0] != "jörg@xn--bcher-kva.example" {
			t.Errorf("relay took %+v", got)
		}
		if trace := srv.Trace(); !strings.Contains(trace, " SMTPUTF8") {
			t.Errorf("MAIL FROM without SMTPUTF8:\n%s", trace)
		}
	})
	t.Run("ASCII mailbox, relay without SMTPUTF8", func(t *testing.T) {
		t.Parallel()
		srv := smtpfake.Start(t, smtpfake.Options{})
		m := msg
		m.To = "joerg@bücher.example"
		if err := newTestSMTP(t, optionsFor(srv, TLSNone)).Send(t.Context(), m); err != nil {
			t.Fatalf("Send = %v", err)
		}
	})
}
