package builtin

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TypeTOTP is RFC 6238 time-based codes (authenticator apps).
const TypeTOTP = "totp"

// totpSettings are the totp section: the parameters of newly generated seeds, and the
// verification window applied to every TOTP factor.
type totpSettings struct {
	Algorithm string `mapstructure:"algorithm"` // SHA1, SHA256, SHA512
	Digits    int    `mapstructure:"digits"`    // 6 or 8
	Period    int    `mapstructure:"period"`    // seconds
	// Window is how many steps before and after the current one are accepted (RFC 6238
	// §5.2 advises 1); 0 may be set.
	Window int `mapstructure:"window"`
	// Issuer is shown by authenticator apps next to the account name (HOTP's too).
	Issuer string `mapstructure:"issuer"`

	alg Algorithm
}

func newTOTPSettings() Settings {
	return &totpSettings{Algorithm: "SHA1", Digits: 6, Period: 30, Window: 1, Issuer: "emfa"}
}

func (s *totpSettings) Check(c *Checker) {
	s.alg = checkSeedSettings(c, s.Algorithm, s.Digits)
	if s.Period < 10 || s.Period > 300 {
		c.Errorf("period", "must be between 10 and 300 seconds, not %d", s.Period)
	}
	if s.Window < 0 || s.Window > 10 {
		c.Errorf("window", "must be between 0 and 10 steps, not %d", s.Window)
	}
	if s.Issuer == "" {
		c.Errorf("issuer", "must not be empty")
	}
	if strings.Contains(s.Issuer, ":") {
		// The otpauth label is issuer:account; apps split it at the first colon.
		c.Errorf("issuer", "must not contain a colon (the otpauth URI's label is issuer:account), not %q", s.Issuer)
	}
}

func (s *totpSettings) Open(e *Engine) Factor { return &totpFactor{e: e, s: s} }

// totpFactor is RFC 6238 time-based codes.
type totpFactor struct {
	validateOnly
	e *Engine
	s *totpSettings
}

// clearsFailuresInUnit: a success advances the counter (claimCounter), and
// AdvanceCounter clears the failures and any lockout in the same statement.
func (*totpFactor) clearsFailuresInUnit() {}

func (k *totpFactor) Fields() []Field {
	return seedFields(Field{Name: "period", Meta: "S", Kind: FieldInt, Usage: "seconds per step (default: the provider's)"})
}

func (k *totpFactor) pageEnrollment() PageEnrollment {
	return PageEnrollment{Choice: "An authenticator app on my phone", Label: "Authenticator app", Activation: PageByCode}
}

// replayInput is the code of the (re-supplied) seed at the transcript's clock.
func (k *totpFactor) replayInput(f *store.Factor) string {
	return fmt.Sprintf("${totp(%s, %s, %s, %s)}", Redacted, f.Params["digits"], f.Params["period"], f.Params["algorithm"])
}

// refusedInput is replayInput for a code refused although it was the code of its
// instant's step (a reuse, a locked factor).
func (k *totpFactor) refusedInput(f *store.Factor, seed []byte, code string, at time.Time) string {
	p, err := paramsOf(f)
	if err != nil || len(code) != p.digits {
		return ""
	}
	step := TOTPStep(at.Unix(), p.period)
	if matchCounter(p.alg, seed, p.digits, code, step, step) != step {
		return ""
	}
	return k.replayInput(f)
}

func (k *totpFactor) Recorded(f *store.Factor) url.Values {
	return url.Values{"secret": {Redacted}, "algorithm": {f.Params["algorithm"]}, "digits": {f.Params["digits"]}, "period": {f.Params["period"]}}
}

// Enroll creates an active TOTP factor, its seed given or generated, and sealed; the
// seed and its otpauth URI are shown once.
func (k *totpFactor) Enroll(ctx context.Context, u store.User, _ []store.Factor, in Enrollment) (Enrolled, error) {
	seed, alg, digits, err := seedInput(in.Values, k.s.alg, k.s.Digits)
	if err != nil {
		return Enrolled{}, err
	}
	period := k.s.Period
	if v := in.Values.Get("period"); v != "" {
		if period, err = strconv.Atoi(v); err != nil {
			return Enrolled{}, fmt.Errorf("%w: period %q is not a number", ErrInput, v)
		}
	}
	if period < 10 || period > 300 {
		return Enrolled{}, fmt.Errorf("%w: period must be between 10 and 300 seconds, not %d", ErrInput, period)
	}
	f := k.e.newFactor(u, TypeTOTP, cmp.Or(in.Values.Get("name"), "Authenticator app"), in)
	f.Params["algorithm"], f.Params["digits"], f.Params["period"] = string(alg), strconv.Itoa(digits), strconv.Itoa(period)
	if err := k.e.createSealed(ctx, in, &f, seed); err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Factor: f, Output: map[string]any{
		"algorithm": f.Params["algorithm"], "digits": f.Params["digits"], "period": f.Params["period"],
		"secret": EncodeSecret(seed), "otpauthURI": otpauthURI(TypeTOTP, k.s.Issuer, u.Name, url.Values{
			"secret": {EncodeSecret(seed)}, "algorithm": {string(alg)}, "digits": {f.Params["digits"]}, "period": {f.Params["period"]},
		}),
	}}, nil
}

// issuer is what authenticator apps show next to the account name, for TOTP and HOTP
// alike: totp.issuer.
func (e *Engine) issuer() string { return e.factors[TypeTOTP].(*totpFactor).s.Issuer }

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

func (k *totpFactor) Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.validateTOTP(ctx, f, req.Passvalue, k.s.Window)
}

// validateTOTP checks a code against every step of the window (without stopping early, so
// timing does not tell which step matched), then claims the matched step with an atomic
// compare-and-set: a step at or below the last accepted one is a replay (RFC 6238 §5.2).
//
// The steps above the last accepted one are tried first, and only then the used ones, to
// tell a replay from a wrong code: two steps share a code one time in a million, and a code
// of an unused step that a used step also had is that step's code, not a replay.
func (e *Engine) validateTOTP(ctx context.Context, f *store.Factor, code string, window int) (provider.Outcome, error) {
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
	lo, hi := current-int64(window), current+int64(window)
	matched := matchCounter(p.alg, seed, p.digits, code, max(lo, f.Counter+1), hi)
	if matched < 0 {
		matched = matchCounter(p.alg, seed, p.digits, code, lo, min(hi, f.Counter))
	}
	if matched < 0 {
		return e.fail(ctx, f, "wrong code"+driftHint(p, seed, code, current, lo, hi))
	}
	// A replay proves knowledge of a valid code, not guessing, so it is refused without
	// counting toward the lockout: otherwise one observed code could lock the owner out.
	return e.claimCounter(ctx, f, matched, provider.Outcome{Status: provider.StatusSuccess})
}

// driftSteps is how far outside the window a wrong code is looked for, to tell the help
// desk that a device's clock is off: ten steps beyond each end of the window, five
// minutes at the default period.
const driftSteps = 10

// driftHint says, for a code refused as wrong, that it is the code of a step outside the
// window [lo, hi] — the device's clock is off by that much — or nothing. Only the audit
// row and the log carry it (never the answer); the code still fails and counts.
func driftHint(p totpParams, seed []byte, code string, current, lo, hi int64) string {
	step := matchCounter(p.alg, seed, p.digits, code, lo-driftSteps, lo-1)
	if step < 0 {
		step = matchCounter(p.alg, seed, p.digits, code, hi+1, hi+driftSteps)
	}
	if step < 0 {
		return ""
	}
	off := time.Duration(step-current) * time.Duration(p.period) * time.Second
	when, way := "later", "fast"
	if off < 0 {
		off, when, way = -off, "earlier", "slow"
	}
	return fmt.Sprintf("; it is the code of %s %s: the device's clock may be %s %s", off, when, off, way)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
