package builtin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestUnsendableMailboxRefused: an address whose internationalised domain IDNA
// refuses (an underscore, a leading hyphen) parses as an e-mail address, but the
// SMTP sender refuses to send to it, at every initiate. The enrollment refuses it, saying
// why, rather than storing a factor that can never receive a code.
func TestUnsendableMailboxRefused(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		mail, err := delivery.NewSMTP(delivery.SMTPOptions{Host: "smtp.invalid", From: "otp@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for _, address := range []string{"alice@bü_cher.example", "alice@-bücher.example"} {
			// The premise: the sender refuses it before it dials.
			if err := mail.Send(t.Context(), delivery.Message{To: address, Subject: "s", Text: "t"}); err == nil || !strings.Contains(err.Error(), "not an e-mail address") {
				t.Fatalf("%q: the SMTP sender answers %v", address, err)
			}
			_, err := f.engine.Enroll(t.Context(), enrollment("emailotp", "alice", "email", address))
			if !errors.Is(err, builtin.ErrInvalidDestination) {
				t.Errorf("%q: enroll: %v, want ErrInvalidDestination", address, err)
			}
		}
		f.enroll(t, "emailotp", "alice", "email", "alice@bücher.example")
	})
}
