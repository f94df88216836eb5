package builtin

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
