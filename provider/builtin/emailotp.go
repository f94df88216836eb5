package builtin

import (
	"fmt"
	"strings"

	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TypeEmailOTP is a one-time code sent by e-mail (flow init_then_validate).
const TypeEmailOTP = "emailotp"

// emailSettings are the emailotp section: a code's settings (codes.go) and a subject.
type emailSettings struct {
	codeSettings `mapstructure:",squash"`
	Subject      string `mapstructure:"subject"`
}

func newEmailOTPSettings() Settings {
	return &emailSettings{
		codeSettings: defaultCodeSettings("Your sign-in code is {{code}}. It expires in {{minutes}} minutes."),
		Subject:      "Your sign-in code",
	}
}

func (s *emailSettings) Check(c *Checker) {
	s.check(c, delivery.Email, TypeEmailOTP)
	switch {
	case s.Subject == "":
		c.Errorf("subject", "must not be empty")
	case strings.ContainsAny(s.Subject, "\r\n"):
		// The SMTP sender refuses it at every send: a line break would write headers.
		c.Errorf("subject", "must be one line, without a line break (a YAML block scalar ends with one)")
	}
}

func (s *emailSettings) Open(e *Engine) Factor {
	return &codeFactor{e: e, typ: TypeEmailOTP, channel: delivery.Email, s: &s.codeSettings, subject: s.Subject, to: mailbox,
		choice: "A code by e-mail", label: "E-mail"}
}

// mailbox is the destination of e-mailed codes, stored with its domain lower-cased.
var mailbox = destination{
	param: "email", meta: "ADDRESS", usage: "the e-mail address", label: "E-mail", mask: delivery.MaskEmail,
	// Mailbox names are case-insensitive in practice, whatever RFC 5321 allows, and a
	// domain has many spellings.
	key: delivery.MailboxKey,
	normalize: func(s string) (string, error) {
		normalized, ok := delivery.ValidEmail(s)
		if !ok {
			return "", fmt.Errorf("%w: %q is not one bare e-mail address", ErrInvalidDestination, s)
		}
		if _, ok := delivery.ASCIIDomain(normalized); !ok {
			// No code could be sent to it: the domain has no A-label form to send to.
			// "e-mail" names the field for the admin API's error (lifecycle's engineRefusal).
			return "", fmt.Errorf("%w: %q is no e-mail address a code can be sent to: its domain is not a valid internationalised domain name (IDNA)", ErrInvalidDestination, s)
		}
		if !delivery.HostDomain(normalized) {
			// "-example.com", "exa_mple.com", "[192.0.2.1]": no mailbox of a user's.
			return "", fmt.Errorf("%w: %q is no e-mail address a code can be sent to: its domain is not a host name (letters, digits and inner hyphens, labels of at most 63)", ErrInvalidDestination, s)
		}
		return normalized, nil
	},
}
