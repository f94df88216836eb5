package builtin

import "github.com/emfa/emfa/provider/builtin/delivery"

// What TOTP, HOTP and the code factors (totp.go, hotp.go, codes.go) say through the
// registry's optional methods of activation and of the self-service page's sign-in. They
// belong in those files, beside the types' other optional methods, and are kept here only
// while another change to those files is under way: moving them needs no other edit.

// An authenticator app's code is proved by its first code (never offered to Verify before
// its owner has shown the seed works); it is never pre-provisioned, having no destination.
func (k *totpFactor) activation() Activation { return Activation{Modes: []string{ActivationPasscode}} }
func (k *hotpFactor) activation() Activation { return Activation{Modes: []string{ActivationPasscode}} }

// A code factor's first code is sent to its new destination at enrolment; one
// pre-provisioned from directory data waits for its first use.
func (k *codeFactor) activation() Activation {
	return Activation{Modes: []string{ActivationPasscode, ActivationOnFirstUse}}
}

// appSignIn is the page's sign-in with an authenticator app's code, TOTP or HOTP: one
// method that tries both.
var appSignIn = PageSignIn{Method: "app", Choice: "A code from my authenticator app",
	Prompt: "Enter the code your authenticator app shows.", By: SignInByCode}

func (k *totpFactor) pageSignIn() PageSignIn { return appSignIn }
func (k *hotpFactor) pageSignIn() PageSignIn { return appSignIn }

// sentBy are the page's words for a sign-in with a code sent over each channel.
var sentBy = map[delivery.Channel]string{
	delivery.SMS:   "A code sent by text message",
	delivery.Email: "A code sent by e-mail",
	delivery.Voice: "A code read out in a phone call",
}

func (k *codeFactor) pageSignIn() PageSignIn {
	return PageSignIn{Choice: sentBy[k.channel], By: SignInBySentCode,
		Prompt: "If this account has such a sign-in method, a code is on its way. Enter it below."}
}
