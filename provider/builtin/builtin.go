// Package builtin is emfa's own factor engine: factors whose secrets emfa keeps — TOTP,
// HOTP, SMS and e-mail codes, push approval on a registered device, and security
// questions — so an organisation needs no other MFA product. One file per factor kind;
// this file holds what they share.
package builtin

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Factor types the engine serves (the bare capability names).
const (
	TypeTOTP = "totp"
)

// Options configure one builtin engine (one provider).
type Options struct {
	Store   store.Store
	Keyring *Keyring
	TOTP    TOTPOptions
	Lockout Lockout
	Push    PushOptions
	// HOTP, SMS and e-mail codes, security questions, and the limits on codes sent.
	HOTP       HOTPOptions
	SMSOTP     CodeOptions
	EmailOTP   CodeOptions
	Question   QuestionOptions
	SendLimits SendLimits
	// Now is the engine's clock; tests inject a fake one. Default time.Now.
	Now func() time.Time
}

// TOTPOptions are the provider's TOTP settings: defaults for new seeds and the window.
type TOTPOptions struct {
	Algorithm Algorithm
	Digits    int
	Period    int
	Window    int
	Issuer    string
}

// Lockout throttles guessing per factor.
type Lockout struct {
	MaxFailures int
	Duration    time.Duration
}

// Engine is the built-in factor engine of one provider.
type Engine struct {
	store   store.Store
	keys    *Keyring
	totp    TOTPOptions
	lockout Lockout
	push    PushOptions
	now     func() time.Time
	kinds   map[string]kind // by factor type

	// hotp.go, codes.go, question.go
	hotp       HOTPOptions
	sms, email codeSettings
	question   QuestionOptions
	sendLimits SendLimits
}

// kind is what one factor type does at each step of the contract; each lives in a file
// of its own. The Engine has already checked the factor against the request (it exists,
// belongs to this enabled user, serves this capability, is active and not locked).
type kind interface {
	flow() provider.Flow
	// attributes are what enrollments shows besides authExecutionFlow and deviceName
	// (a masked deliveryAddress, say); nil for none.
	attributes(f *store.Factor) map[string]any
	initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
	validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
	result(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
}

// validateOnly is embedded by kinds whose flow is validate: they start no challenge.
type validateOnly struct{}

func (validateOnly) flow() provider.Flow                     { return provider.FlowValidate }
func (validateOnly) attributes(*store.Factor) map[string]any { return nil }
func (validateOnly) initiate(_ context.Context, f *store.Factor, _ provider.Request) (provider.Outcome, error) {
	return provider.Failed(fmt.Sprintf("%s has no initiate step (flow validate)", f.Type)), nil
}
func (validateOnly) result(_ context.Context, f *store.Factor, _ provider.Request) (provider.Outcome, error) {
	return provider.Failed(fmt.Sprintf("%s has no result step (flow validate)", f.Type)), nil
}

var _ provider.Engine = (*Engine)(nil)

// New builds an engine. It checks the options so a misconfiguration fails at start-up.
func New(o Options) (*Engine, error) {
	if o.Store == nil || o.Keyring == nil {
		return nil, errors.New("builtin: a store and a keyring are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TOTP.Algorithm == "" {
		o.TOTP.Algorithm = SHA1
	}
	if o.TOTP.Digits == 0 {
		o.TOTP.Digits = 6
	}
	if o.TOTP.Period == 0 {
		o.TOTP.Period = 30
	}
	if o.TOTP.Issuer == "" {
		o.TOTP.Issuer = "emfa"
	}
	if o.Lockout.MaxFailures <= 0 {
		o.Lockout.MaxFailures = 10
	}
	if o.Lockout.Duration <= 0 {
		o.Lockout.Duration = 15 * time.Minute
	}
	e := &Engine{store: o.Store, keys: o.Keyring, totp: o.TOTP, lockout: o.Lockout, push: o.Push.withDefaults(), now: o.Now}
	e.kinds = map[string]kind{
		TypeTOTP: totpKind{e: e},
		TypePush: pushKind{e: e},

		TypeHOTP:     hotpKind{e: e},
		TypeSMSOTP:   e.codeKind(TypeSMSOTP),
		TypeEmailOTP: e.codeKind(TypeEmailOTP),
	}
	if err := e.configureCodes(o); err != nil {
		return nil, err
	}
	if e.question.Enabled {
		e.kinds[TypeQuestion] = questionKind{e: e}
	}
	return e, nil
}

// Enrollments lists the active factors of an enabled user.
func (e *Engine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	u, err := e.store.GetUser(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// An unknown or disabled user takes the same store calls as one without factors
	// (a list that matches nothing): the time taken must not tell them apart.
	known := err == nil && !u.Disabled
	if !known {
		u.ID = ""
	}
	factors, err := e.store.ListFactors(ctx, u.ID)
	if err != nil || !known {
		return nil, err
	}
	var out []provider.Enrollment
	for _, f := range factors {
		k, served := e.kinds[f.Type]
		if !served || f.State != store.FactorActive {
			continue
		}
		attrs := map[string]any{"authExecutionFlow": string(k.flow()), "deviceName": f.Label}
		for name, v := range k.attributes(&f) {
			attrs[name] = v
		}
		out = append(out, provider.Enrollment{Capability: f.Type, ID: f.ID, Attributes: attrs})
	}
	return out, nil
}

// Initiate starts a challenge on the factor the request names.
func (e *Engine) Initiate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.step(ctx, req, kind.initiate)
}

// Validate checks a code.
func (e *Engine) Validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.step(ctx, req, kind.validate)
}

// Result polls a challenge.
func (e *Engine) Result(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.step(ctx, req, kind.result)
}

// step checks the factor against the request, then hands it to its kind.
func (e *Engine) step(ctx context.Context, req provider.Request, fn func(kind, context.Context, *store.Factor, provider.Request) (provider.Outcome, error)) (provider.Outcome, error) {
	f, out, err := e.factorFor(ctx, req)
	if err != nil || f == nil {
		return out, err
	}
	k, ok := e.kinds[f.Type]
	if !ok {
		return provider.Failed("this engine does not serve factor type " + f.Type), nil
	}
	return fn(k, ctx, f, req)
}

// Test reports whether the store answers.
func (e *Engine) Test(ctx context.Context) (provider.Outcome, error) {
	if err := e.store.Ping(ctx); err != nil {
		return provider.Outcome{Status: provider.StatusFailed, Attributes: map[string]any{"reason": "store unreachable"}, Reason: err.Error()}, nil
	}
	return provider.Outcome{Status: provider.StatusSuccess}, nil
}

// factorFor loads the factor a request names and checks everything that does not depend
// on the code: it exists, belongs to this (enabled) user, serves this capability, is
// active and not locked. Each refusal is the same FAILED to the caller, so a probe cannot
// tell an unknown factor from another user's.
func (e *Engine) factorFor(ctx context.Context, req provider.Request) (*store.Factor, provider.Outcome, error) {
	f, err := e.store.GetFactor(ctx, req.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, provider.Failed("unknown factor"), nil
	}
	if err != nil {
		return nil, provider.Outcome{}, err
	}
	u, err := e.store.GetUser(ctx, req.Username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, provider.Failed("unknown user"), nil
	}
	if err != nil {
		return nil, provider.Outcome{}, err
	}
	switch {
	case f.UserID != u.ID:
		return nil, provider.Failed("factor belongs to another user"), nil
	case u.Disabled:
		return nil, provider.Failed("user disabled"), nil
	case f.Type != factorType(req.Capability):
		return nil, provider.Failed(fmt.Sprintf("factor is %s, not %s", f.Type, req.Capability)), nil
	case f.State != store.FactorActive:
		return nil, provider.Failed("factor " + string(f.State)), nil
	case f.LockedUntil.After(e.now()):
		return nil, provider.Failed("factor locked until " + f.LockedUntil.UTC().Format(time.RFC3339)), nil
	}
	return &f, provider.Outcome{}, nil
}

// fail counts a failed verification and says whether it locked the factor.
func (e *Engine) fail(ctx context.Context, f *store.Factor, reason string) (provider.Outcome, error) {
	updated, err := e.store.RecordFailure(ctx, f.ID, e.now(), e.lockout.MaxFailures, e.lockout.Duration)
	if err != nil {
		return provider.Outcome{}, err
	}
	if !updated.LockedUntil.IsZero() {
		reason += fmt.Sprintf("; %d failures, factor locked until %s", updated.Failures, updated.LockedUntil.UTC().Format(time.RFC3339))
	}
	return provider.Failed(reason), nil
}

// factorType maps a capability (any case) to the factor type it names.
func factorType(capability string) string { return strings.ToLower(capability) }

// NewID returns an unguessable identifier: 128 random bits, lower-case base32.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
