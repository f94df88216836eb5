package builtin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TypeHOTP is RFC 4226 counter-based codes (hardware tokens, authenticator apps in HOTP
// mode).
const TypeHOTP = "hotp"

// HOTPOptions are the provider's HOTP settings: defaults for new seeds, the look-ahead
// window and the resynchronisation window.
type HOTPOptions struct {
	Algorithm Algorithm // default SHA1
	Digits    int       // 6 or 8, default 6
	// Window is how many counter values after the last accepted one a code may be
	// (privacyIDEA: 10); default 10.
	Window int
	// ResyncWindow is how far ahead two consecutive codes may resynchronise a token
	// (privacyIDEA: 1000); default 1000.
	ResyncWindow int
}

func (o HOTPOptions) withDefaults() HOTPOptions {
	if o.Algorithm == "" {
		o.Algorithm = SHA1
	}
	if o.Digits == 0 {
		o.Digits = 6
	}
	if o.Window <= 0 {
		o.Window = 10
	}
	if o.ResyncWindow < o.Window {
		o.ResyncWindow = max(1000, o.Window)
	}
	return o
}

// ErrNotSynchronised means two codes were not consecutive codes of the token within the
// resynchronisation window.
var ErrNotSynchronised = errors.New("codes are not two consecutive codes of this token within the resynchronisation window")

// HOTPSpec describes an HOTP factor to enroll; zero fields take the provider's defaults.
type HOTPSpec struct {
	Secret    []byte // nil: generate one
	Algorithm Algorithm
	Digits    int
	// Counter is the token's next counter value: the first code accepted is the one for
	// Counter or a later one within the window. A new soft token starts at 0.
	Counter int64
	Label   string
}

// EnrollHOTP creates an active HOTP factor for an existing user, sealing the seed.
func (e *Engine) EnrollHOTP(ctx context.Context, username string, spec HOTPSpec) (EnrolledSeed, error) {
	if spec.Algorithm == "" {
		spec.Algorithm = e.hotp.Algorithm
	}
	if spec.Digits == 0 {
		spec.Digits = e.hotp.Digits
	}
	if spec.Label == "" {
		spec.Label = "Token"
	}
	seed, err := checkSeed(spec.Algorithm, spec.Digits, spec.Secret)
	if err != nil {
		return EnrolledSeed{}, err
	}
	if spec.Counter < 0 {
		return EnrolledSeed{}, fmt.Errorf("counter must not be negative, not %d", spec.Counter)
	}
	f, err := e.createSealed(ctx, username, store.Factor{
		Type: TypeHOTP, Label: spec.Label,
		Params: map[string]string{
			"algorithm": string(spec.Algorithm),
			"digits":    strconv.Itoa(spec.Digits),
		},
		// The store keeps the last accepted counter; the token's next one is one more.
		Counter: spec.Counter - 1,
	}, seed)
	if err != nil {
		return EnrolledSeed{}, err
	}
	return EnrolledSeed{
		Factor: f, Secret: EncodeSecret(seed),
		OTPAuthURI: hotpURI(e.totp.Issuer, username, seed, spec.Algorithm, spec.Digits, spec.Counter),
	}, nil
}

// hotpURI is the Key URI Format authenticator apps read (Google Authenticator's wiki);
// pquerna/otp's hotp package leaves out the counter, which the format requires for hotp.
func hotpURI(issuer, account string, seed []byte, alg Algorithm, digits int, counter int64) string {
	q := url.Values{}
	q.Set("secret", EncodeSecret(seed))
	q.Set("issuer", issuer)
	q.Set("algorithm", string(alg))
	q.Set("digits", strconv.Itoa(digits))
	q.Set("counter", strconv.FormatInt(counter, 10))
	u := url.URL{Scheme: "otpauth", Host: "hotp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

type hotpParams struct {
	alg    Algorithm
	digits int
}

func hotpParamsOf(f *store.Factor) (hotpParams, error) {
	alg, err := ParseAlgorithm(f.Params["algorithm"])
	if err != nil {
		return hotpParams{}, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	digits, err := strconv.Atoi(f.Params["digits"])
	if err != nil || (digits != 6 && digits != 8) {
		return hotpParams{}, fmt.Errorf("factor %s: corrupt HOTP parameters", f.ID)
	}
	return hotpParams{alg, digits}, nil
}

// hotpKind is RFC 4226 counter-based codes.
type hotpKind struct {
	validateOnly
	e *Engine
}

func (k hotpKind) validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.validateHOTP(ctx, f, req.Passvalue)
}

// validateHOTP looks for the code among the Window counter values after the last accepted
// one, checking all of them (so timing does not tell which matched), then claims the
// matched value with an atomic compare-and-set: of concurrent requests with one code,
// exactly one advances the counter.
func (e *Engine) validateHOTP(ctx context.Context, f *store.Factor, code string) (provider.Outcome, error) {
	p, err := hotpParamsOf(f)
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
	matched := matchCounter(p.alg, seed, p.digits, code, f.Counter+1, f.Counter+int64(e.hotp.Window))
	if matched < 0 {
		// The code just accepted, sent again (a double submit, or an observer), is a
		// replay: refused without counting toward the lockout, so one observed code
		// cannot lock the owner out. Older codes are not looked for: every value exempted
		// from the count is one more free guess.
		if f.Counter >= 0 && subtle.ConstantTimeCompare([]byte(HOTP(p.alg, seed, uint64(f.Counter), p.digits)), []byte(code)) == 1 {
			return provider.Failed("replayed code"), nil
		}
		return e.fail(ctx, f, fmt.Sprintf("wrong code (not among the %d counter values after %d)", e.hotp.Window, f.Counter))
	}
	return e.claimCounter(ctx, f, matched, provider.Outcome{Status: provider.StatusSuccess, Reason: fmt.Sprintf("counter %d accepted", matched)})
}

// ResyncHOTP resynchronises an HOTP factor whose token has run ahead of the look-ahead
// window: code1 and code2 must be the codes of two consecutive counter values within
// ResyncWindow after the last accepted one. The counter then moves past code2, and the
// factor's failures and lockout are cleared. It returns the token's next counter value.
func (e *Engine) ResyncHOTP(ctx context.Context, factorID, code1, code2 string) (int64, error) {
	f, err := e.store.GetFactor(ctx, factorID)
	if err != nil {
		return 0, fmt.Errorf("factor %q: %w", factorID, err)
	}
	if f.Type != TypeHOTP {
		return 0, fmt.Errorf("factor %s is %s, not %s", f.ID, f.Type, TypeHOTP)
	}
	p, err := hotpParamsOf(&f)
	if err != nil {
		return 0, err
	}
	if len(code1) != p.digits || !allDigits(code1) || len(code2) != p.digits || !allDigits(code2) {
		return 0, fmt.Errorf("codes must be %d digits", p.digits)
	}
	seed, err := e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		return 0, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	// Each candidate costs one HMAC: the second is only computed when the first matches.
	for c := f.Counter + 1; c <= f.Counter+int64(e.hotp.ResyncWindow); c++ {
		if HOTP(p.alg, seed, uint64(c), p.digits) != code1 || HOTP(p.alg, seed, uint64(c+1), p.digits) != code2 {
			continue
		}
		if err := e.store.AdvanceCounter(ctx, f.ID, c+1, e.now()); err != nil {
			return 0, fmt.Errorf("factor %s: %w", f.ID, err)
		}
		return c + 2, nil
	}
	return 0, ErrNotSynchronised
}
