package builtin

import "github.com/emfa/emfa/provider/builtin/delivery"

// TypeSMSOTP is a one-time code sent by SMS (flow init_then_validate).
const TypeSMSOTP = "smsotp"

// smsSettings are the smsotp section: a code's settings (codes.go).
type smsSettings struct {
	codeSettings `mapstructure:",squash"`
}

func newSMSOTPSettings() Settings {
	return &smsSettings{defaultCodeSettings("Your sign-in code is {{code}}. It expires in {{minutes}} minutes.")}
}

func (s *smsSettings) Check(c *Checker) { s.check(c, delivery.SMS, TypeSMSOTP) }

func (s *smsSettings) Open(e *Engine) Factor {
	return &codeFactor{e: e, typ: TypeSMSOTP, channel: delivery.SMS, s: &s.codeSettings, to: phone("Mobile"),
		choice: "A code by text message", label: "Text message"}
}
