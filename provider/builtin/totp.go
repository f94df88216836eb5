package builtin

import (
	"context"
	"fmt"
	"strconv"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TOTPSpec describes a TOTP factor to enroll; zero fields take the provider's defaults.
type TOTPSpec struct {
	ID        string // "": a new random id (a replayed recording keeps its own)
	Secret    []byte // nil: generate one
	Algorithm Algorithm
	Digits    int
	Period    int
	Label     string
}

// EnrolledSeed is a new TOTP or HOTP factor and what the user's app or token needs.
type EnrolledSeed struct {
	Factor     store.Factor
	Secret     string // Base32, shown once
	OTPAuthURI string
}

// EnrollTOTP creates an active TOTP factor for an existing user, sealing the seed.
func (e *Engine) EnrollTOTP(ctx context.Context, username string, spec TOTPSpec) (EnrolledSeed, error) {
	if spec.Algorithm == "" {
		spec.Algorithm = e.totp.Algorithm
	}
	if spec.Digits == 0 {
		spec.Digits = e.totp.Digits
	}
	if spec.Period == 0 {
		spec.Period = e.totp.Period
	}
	if spec.Label == "" {
		spec.Label = "Authenticator app"
	}
	seed, err := checkSeed(spec.Algorithm, spec.Digits, spec.Secret)
	if err != nil {
		return EnrolledSeed{}, err
	}
	if spec.Period < 10 || spec.Period > 300 {
		return EnrolledSeed{}, fmt.Errorf("period must be between 10 and 300 seconds, not %d", spec.Period)
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: e.totp.Issuer, AccountName: username, Period: uint(spec.Period),
		Secret: seed, Digits: otp.Digits(spec.Digits), Algorithm: otpAlgorithm(spec.Algorithm),
	})
	if err != nil {
		return EnrolledSeed{}, fmt.Errorf("otpauth uri: %w", err)
	}
	f, err := e.createSealed(ctx, username, store.Factor{
		ID: spec.ID, Type: TypeTOTP, Label: spec.Label, Counter: -1,
		Params: map[string]string{
			"algorithm": string(spec.Algorithm),
			"digits":    strconv.Itoa(spec.Digits),
			"period":    strconv.Itoa(spec.Period),
		},
	}, seed)
	if err != nil {
		return EnrolledSeed{}, err
	}
	return EnrolledSeed{Factor: f, Secret: EncodeSecret(seed), OTPAuthURI: key.URL()}, nil
}

func otpAlgorithm(a Algorithm) otp.Algorithm {
	switch a {
	case SHA256:
		return otp.AlgorithmSHA256
	case SHA512:
		return otp.AlgorithmSHA512
	}
	return otp.AlgorithmSHA1
}

type totpParams struct {
	alg    Algorithm
	digits int
	period int
}

func paramsOf(f *store.Factor) (totpParams, error) {
	alg, err := ParseAlgorithm(f.Params["algorithm"])
	if err != nil {
		return totpParams{}, err
	}
	digits, err1 := strconv.Atoi(f.Params["digits"])
	period, err2 := strconv.Atoi(f.Params["period"])
	if err1 != nil || err2 != nil || period <= 0 || (digits != 6 && digits != 8) {
		return totpParams{}, fmt.Errorf("factor %s: corrupt TOTP parameters", f.ID)
	}
	return totpParams{alg, digits, period}, nil
}

// totpKind is RFC 6238 time-based codes.
type totpKind struct {
	validateOnly
	e *Engine
}

func (k totpKind) validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.validateTOTP(ctx, f, req.Passvalue)
}

// validateTOTP checks a code against every step of the window (without stopping early, so
// timing does not tell which step matched), then claims the matched step with an atomic
// compare-and-set: a step at or below the last accepted one is a replay (RFC 6238 §5.2).
func (e *Engine) validateTOTP(ctx context.Context, f *store.Factor, code string) (provider.Outcome, error) {
	p, err := paramsOf(f)
	if err != nil {
		return provider.Outcome{}, err
	}
	seed, err := e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		return provider.Outcome{}, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	if len(code) != p.digits || !allDigits(code) {
		return e.fail(ctx, f, "malformed code")
	}
	current := TOTPStep(e.now().Unix(), p.period)
	window := int64(e.totp.Window)
	matched := matchCounter(p.alg, seed, p.digits, code, current-window, current+window)
	if matched < 0 {
		return e.fail(ctx, f, "wrong code")
	}
	// A replay proves knowledge of a valid code, not guessing, so it is refused without
	// counting toward the lockout: otherwise one observed code could lock the owner out.
	return e.claimCounter(ctx, f, matched, provider.Outcome{Status: provider.StatusSuccess})
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
