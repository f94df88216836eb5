package adapter

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestTypedCodeInOtherDigitsAndDashes: the page ignores the dashes a code is
// grouped with (README: "spaces and dashes in a typed code are ignored"), of any kind, and
// reads the digits a phone keyboard types in another script (Arabic-Indic, Persian,
// full-width): the code is the same, and refusing it as wrong would have the person type
// it again the same way until the factor locks.
func TestTypedCodeInOtherDigitsAndDashes(t *testing.T) {
	arabic := func(s string) string {
		return strings.Map(func(r rune) rune { return r - '0' + '\u0660' }, s)
	}
	persian := func(s string) string {
		return strings.Map(func(r rune) rune { return r - '0' + '\u06f0' }, s)
	}
	fullWidth := func(s string) string {
		return strings.Map(func(r rune) rune { return r - '0' + '\uff10' }, s)
	}
	for name, typed := range map[string]func(string) string{
		"en dash":      func(c string) string { return c[:3] + "\u2013" + c[3:] },
		"hyphen":       func(c string) string { return c[:3] + "\u2010" + c[3:] },
		"arabic-indic": arabic,
		"persian":      persian,
		"full-width":   func(c string) string { return fullWidth(c[:3]) + " " + fullWidth(c[3:]) },
	} {
		t.Run(name, func(t *testing.T) {
			h, _ := newSelfServiceHarness(t)
			p := openLink(t, h)
			p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
			code, _ := totp.GenerateCode(secretShown.FindStringSubmatch(p.body)[1], time.Now())
			if status := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {typed(code)}}); status != 200 || !strings.Contains(p.body, "You are all set") {
				t.Fatalf("the code %s typed %q: %d %s", code, typed(code), status, p.body)
			}
		})
	}
}
