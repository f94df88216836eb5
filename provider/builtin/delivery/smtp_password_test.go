package delivery

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestSMTPCredentialLineBreak: an SMTP password (or user name) read with its
// trailing newline, from an environment variable a Kubernetes secret filled, passed the
// checks; then every e-mailed code failed with 535 at a user's sign-in. It is refused when
// the sender is built, as a Twilio token is, and the error does not repeat it.
func TestSMTPCredentialLineBreak(t *testing.T) {
	t.Parallel()
	for _, o := range []SMTPOptions{
		{Username: "relay-user", Password: config.Secret("s3cret-relay-pass\n")},
		{Username: "relay-user", Password: config.Secret("s3cret-relay-pass\r\n")},
		{Username: "relay-user\n", Password: config.Secret("s3cret-relay-pass")},
	} {
		o.Host, o.From = "smtp.example.com", "otp@example.com"
		_, err := NewSMTP(o)
		if err == nil {
			t.Errorf("username %q, password with a line break: accepted", o.Username)
			continue
		}
		if !strings.Contains(err.Error(), "line break") {
			t.Errorf("error %q does not say what is wrong", err)
		}
		checkErrorHygiene(t, err, "smtp: ", "s3cret")
	}
	if _, err := NewSMTP(SMTPOptions{Host: "smtp.example.com", From: "otp@example.com", Username: "u", Password: "pass with spaces"}); err != nil {
		t.Errorf("a password with spaces: %v", err)
	}
}
