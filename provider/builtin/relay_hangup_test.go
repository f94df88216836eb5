package builtin_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TestEmailCodeWorksAfterRelayHangsUp: a relay that queues the message (250 to
// DATA) and then drops the connection has sent it: initiate answers PENDING and the code
// that arrives works, rather than FAILED and a code that arrives dead.
func TestEmailCodeWorksAfterRelayHangsUp(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		relay := smtpfake.Start(t, smtpfake.Options{TLS: smtpfake.TLSStartTLS})
		relay.SetAfterData(smtpfake.HangUp)
		mail, err := delivery.NewSMTP(delivery.SMTPOptions{Host: relay.Host(), Port: relay.Port(), From: "otp@example.com",
			RootCAs: relay.CertPool(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		f := newEngineFixture(t, st, func(c *engineConfig) { c.senders["email"] = mail })
		id := f.enroll(t, "emailotp", "alice", "email", "alice@example.com").Factor.ID
		out := f.initiate(t, "alice", "emailotp", id)
		expect(t, "initiate", out, provider.StatusPending, "code sent by smtp")
		msgs := relay.To("alice@example.com")
		if len(msgs) != 1 {
			t.Fatalf("%d messages at the relay, want 1", len(msgs))
		}
		text, err := msgs[0].Text()
		if err != nil {
			t.Fatal(err)
		}
		code := regexp.MustCompile(`\d{8}`).FindString(text)
		expect(t, "the code that arrived", f.validate(t, "alice", "emailotp", id, out.TransactionID, code), provider.StatusSuccess, "")
	})
}
