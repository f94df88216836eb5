package delivery

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidE164(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"+15551230123", true},
		{"+447911123456", true},
		{"+6834002", true},           // 7 digits, the shortest (Niue)
		{"+123456789012345", true},   // 15 digits, the longest
		{"+123456", false},           // 6 digits
		{"+1234567890123456", false}, // 16 digits
		{"+05551230123", false},      // country codes do not start with 0
		{"15551230123", false},       // no '+'
		{"+1 555 123 0123", false},   // formatted
		{"+1-555-123-0123", false},
		{"+1555123012a", false},
		{"", false},
		{"+", false},
		{"+١٥٥٥١٢٣٠١٢٣", false}, // Arabic-Indic digits are not ASCII digits
	}
	for _, tt := range tests {
		if got := ValidE164(tt.s); got != tt.want {
			t.Errorf("ValidE164(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s      string
		want   string
		wantOK bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"Alice.Smith@Example.COM", "Alice.Smith@example.com", true}, // domain folded, local part kept
		{"  bob@example.com ", "bob@example.com", true},
		{"<bob@example.com>", "bob@example.com", true},
		{`"john doe"@example.com`, "", false},            // needs quoting
		{`"john"@example.com`, "john@example.com", true}, // needless quotes dropped
		{"jörg@bücher.example", "jörg@bücher.example", true},
		{"Alice <alice@example.com>", "", false}, // display name
		{"alice@example.com (Alice)", "", false}, // comment, which net/mail takes as the name
		{"alice@example.com, bob@example.com", "", false},
		{"undisclosed-recipients:;", "", false},
		{"alice", "", false},
		{"alice@", "", false},
		{"@example.com", "", false},
		{"alice@example.com\r\nBcc: x@example.com", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ValidEmail(tt.s)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ValidEmail(%q) = %q, %v; want %q, %v", tt.s, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s, want string
	}{
		{"+15551230123", "+1 ***-***-0123"},   // NANP
		{"+447911123456", "+44 ******3456"},   // two-digit country code
		{"+4915112345678", "+49 *******5678"}, // Germany, 11-digit national number
		{"+33612345678", "+33 *****5678"},
		{"+79161234567", "+7 ******4567"},       // one-digit country code that is not NANP
		{"+35312345678", "+353 ****5678"},       // three-digit country code
		{"+97150123456", "+971 ****3456"},       // UAE
		{"+8613812345678", "+86 *******5678"},   // China
		{"+35312345", "+353 ***45"},             // short national number: at most half shown
		{"+3531234567", "+353 ****567"},         // 7 digits: 3 shown
		{"+6834002", "+683 **02"},               // Niue's four digits: two shown
		{"+1555123012", "+1 *****3012"},         // +1 but not ten digits: not formatted as NANP
		{"+12345678901234", "+1 *********1234"}, // longest +1 number
		{"555-0123", "***"},                     // not E.164: nothing shown
		{"", "***"},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.s); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s, want string
	}{
		{"alice@example.com", "a***@example.com"},
		{"a@example.com", "a***@example.com"},
		{"jörg@bücher.example", "j***@bücher.example"},
		{"Ärger@example.com", "Ä***@example.com"},
		{`"a@b"@example.com`, `"***@example.com`},
		{"@example.com", "***@example.com"},
		{"bob", "b***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskEmail(tt.s); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestCountryCodes(t *testing.T) {
	t.Parallel()
	// Every two-digit code is assigned in ITU-T E.164 and is not the prefix of a one-digit code.
	for cc := range twoDigitCountryCodes {
		if len(cc) != 2 || cc[0] == '0' || cc[0] == '1' || cc[0] == '7' {
			t.Errorf("two-digit country code %q", cc)
		}
	}
}

func TestMaskAddressesIn(t *testing.T) {
	t.Parallel()
	const id = "k5xq2b@example.com"
	tests := []struct{ in, want string }{
		{"550 5.1.1 <bob@example.com>: Recipient address rejected", "550 5.1.1 <b***@example.com>: Recipient address rejected"},
		{"RCPT bob.smith+otp@Mail.Example.COM. then jö@exämple.de", "RCPT b***@Mail.Example.COM. then j***@exämple.de"},
		{"recipient(s): <a@x>, <c_d@y.z>, message ID: <" + id + ">", "recipient(s): <a***@x>, <c***@y.z>, message ID: <" + id + ">"},
		{"451 4.3.0 try again later", "451 4.3.0 try again later"},
	}
	for _, tt := range tests {
		cause := errors.New(tt.in)
		err := maskAddressesIn(fmt.Errorf("smtp: %w", cause), id)
		if got := strings.TrimPrefix(err.Error(), "smtp: "); got != tt.want {
			t.Errorf("%q masked: %q, want %q", tt.in, got, tt.want)
		}
		if !errors.Is(err, cause) {
			t.Errorf("%q: the cause is no longer in the chain", tt.in)
		}
	}
}
