package builtin

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math/big"
	"net/url"
	"strings"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A new factor type written as the README's Development section says: this one file, and
// one line of the registry (export_test.go), with no other edit. factortype_test.go
// shows every part of emfa takes it. It is what a reviewer wrote: a static backup code
// of 10 to 20 digits, kept as a sealed SHA-256, that the user types (flow validate).

// TypeBackupCode is the test's factor type.
const TypeBackupCode = "backupcode"

// BackupCodeStandIn is the code a replay enrolls in place of a recorded, redacted one.
const BackupCodeStandIn = "24680135792468"

type backupCodeSettings struct {
	Length int `mapstructure:"length"`
}

func newBackupCodeSettings() Settings { return &backupCodeSettings{Length: 14} }

func (s *backupCodeSettings) Check(c *Checker) {
	if s.Length < 10 || s.Length > 20 {
		c.Errorf("length", "must be between 10 and 20, not %d", s.Length)
	}
}

func (s *backupCodeSettings) Open(e *Engine) Factor { return &backupCodeFactor{e: e, s: s} }

type backupCodeFactor struct {
	validateOnly
	e *Engine
	s *backupCodeSettings
}

func (k *backupCodeFactor) Fields() []Field {
	return []Field{
		{Name: "name", Usage: "the factor's label"},
		{Name: "code", Meta: "DIGITS", Secret: true, StandIn: BackupCodeStandIn, Usage: "the code (default: a new one)"},
	}
}

func (k *backupCodeFactor) Enroll(ctx context.Context, u store.User, _ []store.Factor, in Enrollment) (Enrolled, error) {
	code := in.Values.Get("code")
	if code == "" {
		for range k.s.Length {
			d, _ := rand.Int(rand.Reader, big.NewInt(10))
			code += d.String()
		}
	}
	if len(code) < 10 || len(code) > 20 || !allDigits(code) {
		return Enrolled{}, fmt.Errorf("%w: a backup code is 10 to 20 digits", ErrInput)
	}
	f := k.e.newFactor(u, TypeBackupCode, cmp.Or(in.Values.Get("name"), "Backup code"), in)
	sum := sha256.Sum256([]byte(code))
	if err := k.e.createSealed(ctx, in, &f, sum[:]); err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Factor: f, Output: map[string]any{"code": code}}, nil
}

// Validate compares the code's hash; it clears no failures on a success (the engine does).
func (k *backupCodeFactor) Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	want, err := k.e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		return provider.Outcome{}, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(req.Passvalue)))
	if subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return k.e.fail(ctx, f, "wrong code")
	}
	return provider.Outcome{Status: provider.StatusSuccess}, nil
}

func (k *backupCodeFactor) Recorded(f *store.Factor) url.Values {
	return url.Values{"code": {Redacted}}
}

func (k *backupCodeFactor) pageEnrollment() PageEnrollment {
	return PageEnrollment{Choice: "A backup code to print", Label: "Backup code", Activation: PageAtOnce, Shown: "code"}
}

func (k *backupCodeFactor) replayInput(*store.Factor) string { return BackupCodeStandIn }

// activation: an organisation may hand out a code pending its first use on the page
// (passcode), or offer it to Verify pending its first sign-in (onFirstUse).
func (k *backupCodeFactor) activation() Activation {
	return Activation{Modes: []string{ActivationPasscode, ActivationOnFirstUse}}
}

// pageSignIn: a user may sign in on the page by typing the code.
func (k *backupCodeFactor) pageSignIn() PageSignIn {
	return PageSignIn{Choice: "A backup code", Prompt: "Enter one of your backup codes.", By: SignInByCode}
}
