package builtin

import (
	"strings"

	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TypeVoiceCall is a one-time code read out in a phone call (flow init_then_validate):
// Okta's "call", DUO's "phone", IBM Verify's voice OTP. It follows smsotp's rules —
// length, lifetime, attempts, and the send limits, under the same destination key, so a
// number that receives both SMS and calls counts once.
const TypeVoiceCall = "voicecall"

// voiceSettings are the voicecall section: a code's settings (codes.go); the template is
// what is said, the code in it digit by digit.
type voiceSettings struct {
	codeSettings `mapstructure:",squash"`
}

func newVoiceCallSettings() Settings {
	return &voiceSettings{defaultCodeSettings("Your sign-in code is {{code}}.")}
}

func (s *voiceSettings) Check(c *Checker) { s.check(c, delivery.Voice, TypeVoiceCall) }

func (s *voiceSettings) Open(e *Engine) Factor {
	return &codeFactor{e: e, typ: TypeVoiceCall, channel: delivery.Voice, s: &s.codeSettings, to: phone("Phone"), say: spokenDigits,
		choice: "A code read out in a phone call", label: "Phone call"}
}

// spokenDigits separates a code's digits ("1, 2, 3"), so a voice reads each one alone
// rather than "one hundred and twenty-three", pausing between them.
func spokenDigits(code string) string {
	return strings.Join(strings.Split(code, ""), ", ")
}
