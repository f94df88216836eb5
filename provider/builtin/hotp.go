package builtin

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TypeHOTP is RFC 4226 counter-based codes (hardware tokens, authenticator apps in HOTP
// mode).
const TypeHOTP = "hotp"

// hotpSettings are the hotp section: defaults for new seeds, the look-ahead window and
// the resynchronisation window.
type hotpSettings struct {
	Algorithm string `mapstructure:"algorithm"` // for new seeds
	Digits    int    `mapstructure:"digits"`    // 6 or 8
	// Window is how many counter values after the last accepted one a code may be
	// (privacyIDEA: 10).
	Window int `mapstructure:"window"`
	// ResyncWindow is how far ahead two consecutive codes may resynchronise a token
	// (privacyIDEA: 1000).
	ResyncWindow int `mapstructure:"resyncWindow"`

	alg Algorithm
}

func newHOTPSettings() Settings {
	return &hotpSettings{Algorithm: "SHA1", Digits: 6, Window: 10, ResyncWindow: 1000}
}

func (s *hotpSettings) Check(c *Checker) {
	s.alg = checkSeedSettings(c, s.Algorithm, s.Digits)
	if s.Window < 1 || s.Window > 100 {
		c.Errorf("window", "must be between 1 and 100, not %d", s.Window)
	}
	if s.ResyncWindow < s.Window || s.ResyncWindow > 10000 {
		c.Errorf("resyncWindow", "must be between the window and 10000, not %d", s.ResyncWindow)
	}
}

func (s *hotpSettings) Open(e *Engine) Factor { return &hotpFactor{e: e, s: s} }

// ErrNotSynchronised means two codes were not consecutive codes of the token within the
// resynchronisation window.
var ErrNotSynchronised = errors.New("codes are not two consecutive codes of this token within the resynchronisation window")

// ErrResyncDisabled refuses to resynchronise a token whose factor, or whose user, is
// disabled: the store advances no counter of a factor that cannot be used.
var ErrResyncDisabled = errors.New("the factor or its user is disabled: enable it, then resynchronise the token")

// hotpFactor is RFC 4226 counter-based codes.
type hotpFactor struct {
	validateOnly
	e *Engine
	s *hotpSettings
}

// clearsFailuresInUnit: a success advances the counter (claimCounter), and
// AdvanceCounter clears the failures and any lockout in the same statement.
func (*hotpFactor) clearsFailuresInUnit() {}

func (k *hotpFactor) Fields() []Field {
	return seedFields(Field{Name: "counter", Meta: "N", Kind: FieldInt, Usage: "the token's next counter value"})
}

// replayInput is the code of the (re-supplied) seed at the counter it was accepted at.
func (k *hotpFactor) replayInput(f *store.Factor) string {
	return fmt.Sprintf("${hotp(%s, %d, %s, %s)}", Redacted, f.Counter, f.Params["digits"], f.Params["algorithm"])
}

// hotpRefusedLookAhead is how far past the last accepted counter value a refused code is
// looked for by refusedInput: the largest window an HOTP provider may have.
const hotpRefusedLookAhead = 100

// refusedInput is the code of the counter value a refused code was right for, from the
// last accepted one on (a reuse, a locked factor).
func (k *hotpFactor) refusedInput(f *store.Factor, seed []byte, code string, _ time.Time) string {
	p, err := hotpParamsOf(f)
	if err != nil || len(code) != p.digits {
		return ""
	}
	c := matchCounter(p.alg, seed, p.digits, code, max(f.Counter, 0), capAdd(f.Counter, hotpRefusedLookAhead))
	if c < 0 {
		return ""
	}
	return fmt.Sprintf("${hotp(%s, %d, %s, %s)}", Redacted, c, f.Params["digits"], f.Params["algorithm"])
}

func (k *hotpFactor) Recorded(f *store.Factor) url.Values {
	return url.Values{"secret": {Redacted}, "counter": {strconv.FormatInt(f.Counter+1, 10)},
		"algorithm": {f.Params["algorithm"]}, "digits": {f.Params["digits"]}}
}

// Enroll creates an active HOTP factor, its seed given or generated, and sealed. The
// counter given is the token's next one: the first code accepted is that counter's or a
// later one within the window (a new soft token starts at 0).
func (k *hotpFactor) Enroll(ctx context.Context, u store.User, _ []store.Factor, in Enrollment) (Enrolled, error) {
	seed, alg, digits, err := seedInput(in.Values, k.s.alg, k.s.Digits)
	if err != nil {
		return Enrolled{}, err
	}
	var counter int64
	if v := in.Values.Get("counter"); v != "" {
		if counter, err = strconv.ParseInt(v, 10, 64); errors.Is(err, strconv.ErrRange) {
			// RFC 4226's counter is 64 bits unsigned; the store keeps 63.
			return Enrolled{}, fmt.Errorf("%w: counter must be between 0 and %d, not %s", ErrInput, int64(math.MaxInt64), v)
		} else if err != nil {
			return Enrolled{}, fmt.Errorf("%w: counter %q is not a number", ErrInput, v)
		}
	}
	if counter < 0 {
		return Enrolled{}, fmt.Errorf("%w: counter must not be negative, not %d", ErrInput, counter)
	}
	f := k.e.newFactor(u, TypeHOTP, cmp.Or(in.Values.Get("name"), "Token"), in)
	f.Params["algorithm"], f.Params["digits"] = string(alg), strconv.Itoa(digits)
	// The store keeps the last accepted counter; the token's next one is one more.
	f.Counter = counter - 1
	if err := k.e.createSealed(ctx, in, &f, seed); err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Factor: f, Output: map[string]any{
		"algorithm": f.Params["algorithm"], "digits": f.Params["digits"], "counter": counter,
		"secret": EncodeSecret(seed), "otpauthURI": hotpURI(k.e.issuer(), u.Name, seed, alg, digits, counter),
	}}, nil
}

// hotpURI is the Key URI Format authenticator apps read (Google Authenticator's wiki),
// with the counter the format requires for hotp.
func hotpURI(issuer, account string, seed []byte, alg Algorithm, digits int, counter int64) string {
	return otpauthURI(TypeHOTP, issuer, account, url.Values{
		"secret": {EncodeSecret(seed)}, "algorithm": {string(alg)},
		"digits": {strconv.Itoa(digits)}, "counter": {strconv.FormatInt(counter, 10)},
	})
}

// otpauthURI is an otpauth://kind/issuer:account URI with the issuer parameter and q.
// Every name and value is percent-encoded, a space as %20 and a '+' as %2B: apps read a
// '+' as a space (in the query, and some in the label too), and an '&' or '=' left as it
// is would cut the issuer parameter short. An '@' stays as it is, as in the format's
// examples (alice@google.com).
func otpauthURI(kind, issuer, account string, q url.Values) string {
	q.Set("issuer", issuer)
	keys := slices.Sorted(maps.Keys(q))
	var query strings.Builder
	for _, k := range keys {
		if query.Len() > 0 {
			query.WriteByte('&')
		}
		query.WriteString(otpauthEscape(k) + "=" + otpauthEscape(q.Get(k)))
	}
	return "otpauth://" + kind + "/" + otpauthEscape(issuer) + ":" + otpauthEscape(account) + "?" + query.String()
}

func otpauthEscape(s string) string {
	return strings.NewReplacer("+", "%20", "%40", "@").Replace(url.QueryEscape(s))
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

func (k *hotpFactor) Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.validateHOTP(ctx, f, req.Passvalue, k.s.Window)
}

// counterWindow is the n counter values after last, [last+1, last+n], cut at
// math.MaxInt64, the largest counter the store holds; false when none is left. last+n
// computed as it is wraps around past math.MaxInt64, to a negative end: the window was
// empty, and every right code of a token that far up was refused as wrong and counted.
func counterWindow(last int64, n int) (from, to int64, ok bool) {
	if last == math.MaxInt64 || n < 1 {
		return 0, 0, false
	}
	return last + 1, capAdd(last, n), true
}

// capAdd is c+n (n ≥ 0), or math.MaxInt64 where that sum wraps around.
func capAdd(c int64, n int) int64 {
	if c > 0 && int64(n) > math.MaxInt64-c {
		return math.MaxInt64
	}
	return c + int64(n)
}

// validateHOTP looks for the code among the Window counter values after the last accepted
// one, checking all of them (so timing does not tell which matched), then claims the
// matched value with an atomic compare-and-set: of concurrent requests with one code,
// exactly one advances the counter.
func (e *Engine) validateHOTP(ctx context.Context, f *store.Factor, code string, window int) (provider.Outcome, error) {
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
	matched := int64(-1)
	if from, to, ok := counterWindow(f.Counter, window); ok {
		matched = matchCounter(p.alg, seed, p.digits, code, from, to)
	}
	if matched < 0 {
		// The code just accepted, sent again (a double submit, or an observer), is a
		// replay: refused without counting toward the lockout, so one observed code
		// cannot lock the owner out. Older codes are not looked for: every value exempted
		// from the count is one more free guess.
		if f.Counter >= 0 && subtle.ConstantTimeCompare([]byte(HOTP(p.alg, seed, uint64(f.Counter), p.digits)), []byte(code)) == 1 {
			return provider.Failed("replayed code"), nil
		}
		return e.fail(ctx, f, fmt.Sprintf("wrong code (not among the %d counter values after %d)", window, f.Counter))
	}
	return e.claimCounter(ctx, f, matched, provider.Outcome{Status: provider.StatusSuccess, Reason: fmt.Sprintf("counter %d accepted", matched)})
}

// ResyncHOTP resynchronises an HOTP factor whose token has run ahead of the look-ahead
// window: code1 and code2 must be the codes of two consecutive counter values within
// ResyncWindow after the last accepted one. The counter then moves past code2, and the
// factor's failures and lockout are cleared. It returns the token's next counter value.
// audit, when set, is the resynchronisation's record, committed with the counter.
func (e *Engine) ResyncHOTP(ctx context.Context, factorID, code1, code2 string, audit func() store.AuditEvent) (int64, error) {
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
		return 0, fmt.Errorf("%w: codes must be %d digits", ErrInput, p.digits)
	}
	seed, err := e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		return 0, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	// Each candidate costs one HMAC: the second is only computed when the first matches.
	resync := e.factors[TypeHOTP].(*hotpFactor).s.ResyncWindow
	// Both codes within the window: c < last rather than c+1 <= last, which wraps around
	// (and never ends) when last is math.MaxInt64. The second code's counter stays below
	// math.MaxInt64, so that the token's next one (c+2) is a counter the store holds.
	first, last, ok := counterWindow(f.Counter, resync)
	for c := first; ok && c < last && c < math.MaxInt64-1; c++ {
		if HOTP(p.alg, seed, uint64(c), p.digits) != code1 || HOTP(p.alg, seed, uint64(c+1), p.digits) != code2 {
			continue
		}
		err := e.store.Update(ctx, func(w store.Writer) error {
			// The factor is written twice, and the second write takes its user's row (the
			// foreign key, checked again): taken first, as a delete of the user takes them
			// (the user, then its factors), or each held what the other waited for (40P01;
			// lifecycle's TestFactorWrittenTwiceBesideUserDeleteDoesNotDeadlock).
			if err := w.LockUser(ctx, f.UserID); err != nil {
				return err
			}
			// Two consecutive codes prove the token: an administrator's resync clears a
			// lockout, as an unlock would, in the same unit.
			if err := w.ResetFailures(ctx, f.ID, e.now()); err != nil {
				return err
			}
			if err := w.AdvanceCounter(ctx, f.ID, c+1, e.now()); err != nil {
				return err
			}
			if audit == nil {
				return nil
			}
			return w.AppendAudit(ctx, audit())
		})
		switch {
		case errors.Is(err, store.ErrInactive):
			return 0, fmt.Errorf("factor %s: %w", f.ID, ErrResyncDisabled)
		case errors.Is(err, store.ErrReplay):
			// A validation accepted this code, or a later one, since f was read.
			return 0, fmt.Errorf("%w (the token's counter moved past them meanwhile)", ErrNotSynchronised)
		case err != nil:
			return 0, fmt.Errorf("factor %s: %w", f.ID, err)
		}
		return c + 2, nil
	}
	return 0, ErrNotSynchronised
}
