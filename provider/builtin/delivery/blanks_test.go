package delivery

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestSenderValuesWithLineBreaksRefused: a Twilio authToken or an SMTP host read
// with its trailing newline (a Kubernetes secretKeyRef, an echo into a file) passed the
// checks; then every send failed (Twilio answering 401, the dial finding no host), at
// the first sign-in rather than at emfa check. They are refused when the sender is
// built, the token without its value.
func TestSenderValuesWithLineBreaksRefused(t *testing.T) {
	_, err := NewTwilio(TwilioOptions{
		AccountSID: "AC0123456789abcdef0123456789abcdef",
		AuthToken:  config.Secret("s3cret0123456789abcdef0123456789\n"),
		From:       "+15005550006",
	})
	if err == nil || !strings.Contains(err.Error(), "authToken") {
		t.Errorf("twilio: got %v, want authToken refused", err)
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("twilio: the error repeats the token: %v", err)
	}
	for _, host := range []string{"smtp.example.com\n", "smtp.example.com\t", "\tsmtp.example.com"} {
		if _, err := NewSMTP(SMTPOptions{Host: host, From: "otp@example.com"}); err == nil || !strings.Contains(err.Error(), "host") {
			t.Errorf("smtp host %q: got %v, want it refused", host, err)
		}
	}
	if _, err := NewTwilio(TwilioOptions{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "0123456789abcdef0123456789abcdef", From: "+15005550006"}); err != nil {
		t.Errorf("a good twilio sender: %v", err)
	}
}
