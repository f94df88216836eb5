// Package builtin is emfa's own factor engine: factors whose secrets emfa keeps — TOTP,
// HOTP, SMS, e-mail and voice-call codes, push approval on a registered device, and
// security questions — so an organisation needs no other MFA product. Each factor type
// is a file of its own (its settings, enrollment and checks) and a line of the registry
// (factor.go); this file holds the engine they share.
package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Options configure one builtin engine (one provider).
type Options struct {
	Store   store.Store
	Keyring *Keyring
	// Config is the provider's builtin section as loaded (config.Provider.Builtin): the
	// engine's own settings (lockout, sendLimits, maxFactorsPerUser) and one section per
	// factor type, which that type decodes.
	Config map[string]any
	// Capabilities are what the provider exposes: factor types, in any case. Each type
	// exposed must be able to serve (a code factor needs a sender...).
	Capabilities []string
	// Senders finds the senders factors name.
	Senders Senders
	// Path is the provider's place in the configuration ("providers[0]"), for errors.
	Path string
	// Provider is the provider's credential prefix, recorded on the push challenges the
	// engine starts (store.Transaction.Provider): the device API asks that provider
	// whether an approval counts (DevicesOptions.Refusal).
	Provider string
	// Log receives what fails in the background (a push notification). Default: discard.
	Log *slog.Logger
	// Now is the engine's clock; tests inject a fake one. Default time.Now.
	Now func() time.Time
	// Observer, when set, counts codes sent and refused and factors locked.
	Observer Observer
	// PendingLifetime is how long a pending factor waits for its activation before it is
	// deleted (lifecycle.activationLifetime, its default filled in): no activation code
	// may promise to outlive its factor. 0: not checked.
	PendingLifetime time.Duration
}

// Observer learns what an operator counts about this engine: codes handed to a sender,
// codes refused by a send limit and sends the sender failed (by the sender's name under
// delivery), factors
// locked (by factor type), and audit records lost (StoreError("audit")). None of it names
// a user or a destination.
type Observer interface {
	CodeSent(sender string)
	SendRefused(sender string)
	SendFailed(sender string)
	Lockout(capability string)
	StoreError(operation string)
}

type nopObserver struct{}

func (nopObserver) CodeSent(string)    {}
func (nopObserver) SendRefused(string) {}
func (nopObserver) SendFailed(string)  {}
func (nopObserver) Lockout(string)     {}
func (nopObserver) StoreError(string)  {}

// Lockout throttles guessing per factor: after MaxFailures consecutive failures a factor
// is locked for Duration.
type Lockout struct {
	MaxFailures int           `mapstructure:"maxFailures"`
	Duration    time.Duration `mapstructure:"duration"`
}

// engineSettings are the keys of a builtin section that are not a factor type's.
type engineSettings struct {
	Lockout    Lockout    `mapstructure:"lockout"`
	SendLimits SendLimits `mapstructure:"sendLimits"`
	// MaxFactorsPerUser bounds the factors one user may enroll, of every type together.
	MaxFactorsPerUser int `mapstructure:"maxFactorsPerUser"`
}

// Engine is the built-in factor engine of one provider.
type Engine struct {
	store      store.Store
	keys       *Keyring
	log        *slog.Logger
	now        func() time.Time
	lockout    Lockout
	sendLimits SendLimits
	maxFactors int
	exposed    map[string]bool   // by factor type
	factors    map[string]Factor // every registered type, by name
	served     map[string]Factor // those switched on
	observer   Observer
	provider   string // Options.Provider
	warnings   []string
	// pendingLifetime is Options.PendingLifetime: no activation code outlives its factor.
	pendingLifetime time.Duration
}

var _ provider.Engine = (*Engine)(nil)

// parsed is a builtin section decoded and checked.
type parsed struct {
	engine   engineSettings
	settings map[string]Settings
	exposed  map[string]bool
	warnings []string
}

// parse decodes and checks o's section: every problem at once, as config.Errors with
// their configuration paths.
func parse(o Options) (*parsed, error) {
	at := joinPath(o.Path, "builtin")
	if o.Path == "" {
		at = "builtin"
	}
	var errs config.Errors
	p := &parsed{
		engine:   engineSettings{Lockout: Lockout{MaxFailures: 10, Duration: 15 * time.Minute}, MaxFactorsPerUser: 20},
		settings: map[string]Settings{}, exposed: map[string]bool{},
	}
	for j, c := range o.Capabilities {
		typ := strings.ToLower(c)
		if _, ok := registry[typ]; !ok {
			errs = append(errs, &config.FieldError{Path: fmt.Sprintf("%s.capabilities[%d]", o.Path, j),
				Msg: fmt.Sprintf("the builtin engine cannot serve it (it serves %s)", strings.Join(Types(), ", "))})
		}
		p.exposed[typ] = true
	}
	own := map[string]any{}
	sections := map[string]any{}
	for key, v := range o.Config {
		if _, ok := registry[strings.ToLower(key)]; ok {
			sections[strings.ToLower(key)] = v
		} else {
			own[key] = v
		}
	}
	decode(own, &p.engine, at, &errs)
	p.engine.SendLimits.check(at+".sendLimits", &errs)
	if l := p.engine.Lockout; l.MaxFailures < 1 || l.MaxFailures > 100 {
		// NIST SP 800-63B: no more than 100 consecutive failed attempts.
		errs = append(errs, &config.FieldError{Path: at + ".lockout.maxFailures", Msg: fmt.Sprintf("must be between 1 and 100, not %d", l.MaxFailures)})
	}
	if p.engine.Lockout.Duration < time.Second {
		errs = append(errs, &config.FieldError{Path: at + ".lockout.duration", Msg: fmt.Sprintf("must be at least 1s, not %s", p.engine.Lockout.Duration)})
	}
	if n := p.engine.MaxFactorsPerUser; n < 1 || n > 1000 {
		errs = append(errs, &config.FieldError{Path: at + ".maxFactorsPerUser", Msg: fmt.Sprintf("must be between 1 and 1000, not %d", n)})
	}
	for _, typ := range Types() {
		s := registry[typ]()
		decode(sections[typ], s, at+"."+typ, &errs)
		s.Check(&Checker{at: at + "." + typ, Exposed: p.exposed[typ], senders: o.Senders, errs: &errs, warnings: &p.warnings, pendingLifetime: o.PendingLifetime})
		p.settings[typ] = s
	}
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
}

// Check decodes and checks a builtin section without building an engine (emfa check):
// warnings, and config.Errors listing every problem.
func Check(o Options) (warnings []string, err error) {
	p, err := parse(o)
	return p.warnings, err
}

// New builds an engine. It checks the options so a misconfiguration fails at start-up.
func New(o Options) (*Engine, error) {
	if o.Store == nil || o.Keyring == nil {
		return nil, errors.New("builtin: a store and a keyring are required")
	}
	p, err := parse(o)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		store: o.Store, keys: o.Keyring, log: o.Log, now: o.Now,
		lockout: p.engine.Lockout, sendLimits: p.engine.SendLimits.withDefaults(), maxFactors: p.engine.MaxFactorsPerUser,
		exposed: p.exposed, factors: map[string]Factor{}, served: map[string]Factor{}, warnings: p.warnings,
		observer: o.Observer, provider: o.Provider, pendingLifetime: o.PendingLifetime,
	}
	if e.observer == nil {
		e.observer = nopObserver{}
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	for typ, s := range p.settings {
		f := s.Open(e)
		e.factors[typ] = f
		if o, ok := f.(offered); !ok || o.offered() {
			e.served[typ] = f
		}
	}
	return e, nil
}

// Warnings are the findings of the configuration that do not stop the engine (a log
// sender), for the operator's eyes.
func (e *Engine) Warnings() []string { return e.warnings }

// Provider is the credential prefix of the provider the engine serves (Options.Provider),
// "" for an engine built without one.
func (e *Engine) Provider() string { return e.provider }

// Exposes reports whether the engine's provider exposes a factor type.
func (e *Engine) Exposes(typ string) bool { return e.exposed[typ] }

// Enrollments lists the usable factors of an enabled user: active ones, and those
// pre-provisioned for activation on first use.
func (e *Engine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	// One read: an unknown or disabled user takes the same store call as one without
	// factors (a list that matches nothing), so the time taken does not tell them apart.
	factors, err := e.store.ListEnabledFactors(ctx, username)
	if err != nil {
		return nil, err
	}
	var out []provider.Enrollment
	for _, f := range factors {
		k, served := e.served[f.Type]
		if !served || !usable(&f) {
			continue
		}
		attrs := map[string]any{"authExecutionFlow": string(k.Flow()), "deviceName": f.Label}
		for name, v := range k.Attributes(&f) {
			attrs[name] = v
		}
		out = append(out, provider.Enrollment{Capability: f.Type, ID: f.ID, Attributes: attrs})
	}
	return out, nil
}

// Initiate starts a challenge on the factor the request names.
func (e *Engine) Initiate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.step(ctx, req, Factor.Initiate)
}

// Validate checks a code.
func (e *Engine) Validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.validate(ctx, req)
}

// validate is Validate's step. A code's reads its transaction with the factor and the
// user, in one read, which answerChallenge takes as ForValidate would have read it: two
// round trips with the deciding unit, as a TOTP validate has, where a read of its own
// made three.
func (e *Engine) validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	k, ok := e.served[factorType(req.Capability)].(challengeReader)
	if !ok || req.TransactionID == "" {
		return e.step(ctx, req, Factor.Validate)
	}
	f, u, tx, err := e.store.GetFactorUserAndTransaction(ctx, req.ID, req.Username, e.challenges().Key(req.TransactionID))
	checked, out, err := e.admit(req, f, u, err)
	if err != nil || checked == nil {
		return out, err
	}
	return e.run(ctx, checked, req, func(_ Factor, ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
		return k.validate(ctx, f, req, &tx)
	})
}

// challengeReader is a factor type whose validate takes its challenge's transaction as
// read with the factor (Engine.validate): a code's, a question's.
type challengeReader interface {
	validate(ctx context.Context, f *store.Factor, req provider.Request, read *store.Transaction) (provider.Outcome, error)
}

// ValidateSignIn checks a code as Validate does, for the self-service page's sign-in,
// except that a wrong code does not count toward the factor's lockout. On the page a
// user name is all it takes to guess (on Verify's path a guess comes after the user's
// password), so counting there would let anyone lock a user out of Verify; the page
// limits its attempts itself instead (SignInLimits), per user name and client. A factor
// already locked is refused as ever, a code factor's challenge still bounds its
// attempts, and a right code is claimed as on Verify's path: it does not work twice.
func (e *Engine) ValidateSignIn(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	return e.validate(context.WithValue(ctx, uncountedKey{}, true), req)
}

// uncountedKey marks, in a context, a validation whose failures do not count toward the
// factor's lockout (ValidateSignIn). Only this package sets it: the contract's path
// cannot.
type uncountedKey struct{}

func uncounted(ctx context.Context) bool { v, _ := ctx.Value(uncountedKey{}).(bool); return v }

// DecidesInOneUnit says validate reads, checks and then decides in a unit of writes
// (provider.Decide) of every type: its idempotent calls claim their record in that unit
// (provider.UnitDecider). A type's Validate must keep it so: no write, no send, before
// its deciding unit (activation on first use comes after it). Initiate sends, and
// result may expire a challenge apart: they claim first.
func (e *Engine) DecidesInOneUnit(resource string) bool {
	return resource == provider.ResourceValidate
}

// Result polls a challenge.
func (e *Engine) Result(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	f, out, err := e.factorFor(ctx, req)
	if err != nil {
		return out, err
	}
	if f == nil {
		// Refused now (the user disabled, the factor locked or reset since): a transaction
		// that ended still answers as it ended (contract §7), and one still pending gets
		// the refusal.
		if ended, ok, err := e.Ended(ctx, req); err != nil || ok {
			return ended, err
		}
		return e.refusePending(ctx, req, out)
	}
	return e.run(ctx, f, req, Factor.Result)
}

// refusePending answers refusal to a result on req's challenge, still pending, and ends
// the challenge FAILED in the same unit as the record of that answer: once a poll has
// answered FAILED every later one must (contract §7), and the device must not turn it
// into a SUCCESS by an approval once the user is enabled again or the factor unlocked.
// Before, nothing was written, and it could. A transaction that is not req's (another
// user's, factor's or capability's), or none, is refused and left alone.
func (e *Engine) refusePending(ctx context.Context, req provider.Request, refusal provider.Outcome) (provider.Outcome, error) {
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		return e.transactionsOf(req.Capability).In(w).Refuse(ctx, req, refusal)
	})
}

var _ provider.Ender = (*Engine)(nil)

var _ provider.ResultRefuser = (*Engine)(nil)

// RefuseResult answers a result the Provider refuses (provider.ResultRefuser): as its
// transaction ended, when it has; a challenge still pending ends FAILED with the
// refusal, as the engine's own refusals end it (refusePending), so that no approval
// turns a poll answered FAILED into a SUCCESS once the refusal is lifted.
func (e *Engine) RefuseResult(ctx context.Context, req provider.Request, refusal provider.Outcome) (provider.Outcome, error) {
	if ended, ok, err := e.Ended(ctx, req); err != nil || ok {
		return ended, err
	}
	return e.refusePending(ctx, req, refusal)
}

// Ended answers a result on req's transaction as it ended, when it has (provider.Ender).
func (e *Engine) Ended(ctx context.Context, req provider.Request) (provider.Outcome, bool, error) {
	return e.transactionsOf(req.Capability).Ended(ctx, req)
}

// transactionsOf are the transactions of capability's challenges.
func (e *Engine) transactionsOf(capability string) provider.Transactions {
	if factorType(capability) == TypePush {
		return pushTransactions(e.store, e.now)
	}
	return e.challenges()
}

type stepFunc func(Factor, context.Context, *store.Factor, provider.Request) (provider.Outcome, error)

// step checks the factor against the request, then hands it to its type.
func (e *Engine) step(ctx context.Context, req provider.Request, fn stepFunc) (provider.Outcome, error) {
	f, out, err := e.factorFor(ctx, req)
	if err != nil || f == nil {
		return out, err
	}
	return e.run(ctx, f, req, fn)
}

// run hands a checked factor to its type.
func (e *Engine) run(ctx context.Context, f *store.Factor, req provider.Request, fn stepFunc) (provider.Outcome, error) {
	k, ok := e.served[f.Type]
	if !ok {
		return provider.Failed("this engine does not serve factor type " + f.Type), nil
	}
	out, err := fn(k, ctx, f, req)
	if _, inUnit := k.(clearsInUnit); err == nil && k.Flow() == provider.FlowValidate && !inUnit {
		e.clearFailures(ctx, f, out)
	}
	if err == nil {
		err = e.activateOnFirstUse(ctx, f, req, out)
	}
	return out, err
}

// clearsInUnit is a validate-flow type whose deciding unit clears the failures with its
// success (TOTP and HOTP: AdvanceCounter), in the success's one commit: the engine does
// not clear them again, which was a second durable write after the first.
type clearsInUnit interface{ clearsFailuresInUnit() }

// clearFailures clears the failures (and a lockout past) of a validate-flow factor once
// it validated: failures count consecutive ones. The engine does it for every such type
// that does not say it has (clearsInUnit), so that a new one cannot forget. Such a type
// decides every SUCCESS afresh (it has no transaction to answer again). Challenge types
// clear them in their deciding unit (answerChallenge), where a transaction answered
// again does not. The answer stands if the write fails: the code was right, and the count is only stale.
func (e *Engine) clearFailures(ctx context.Context, f *store.Factor, out provider.Outcome) {
	if out.Status != provider.StatusSuccess || (f.Failures == 0 && f.LockedUntil.IsZero()) {
		return
	}
	dctx, cancel := provider.Detach(ctx)
	defer cancel()
	if err := e.store.ResetFailures(dctx, f.ID, e.now()); err != nil {
		e.log.Warn("clearing a factor's failures after its success", "factor", f.ID, "type", f.Type, "err", err)
	}
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
	// One read for both: the factor, and the user the request names.
	f, u, err := e.store.GetFactorAndUser(ctx, req.ID, req.Username)
	return e.admit(req, f, u, err)
}

// admit is factorFor's check of the factor and the user it read (err: the read's).
func (e *Engine) admit(req provider.Request, f store.Factor, u store.User, err error) (*store.Factor, provider.Outcome, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, provider.Failed("unknown factor"), nil
	case err != nil:
		return nil, provider.Outcome{}, err
	case u.ID == "":
		return nil, provider.Failed("unknown user"), nil
	case f.UserID != u.ID:
		return nil, provider.Failed("factor belongs to another user"), nil
	case u.Disabled:
		return nil, provider.Failed("user disabled"), nil
	case f.Type != factorType(req.Capability):
		return nil, provider.Failed(fmt.Sprintf("factor is %s, not %s", f.Type, req.Capability)), nil
	case !usable(&f):
		return nil, provider.Failed("factor " + string(f.State)), nil
	case f.LockedUntil.After(e.now()):
		return nil, provider.Failed("factor locked until " + f.LockedUntil.UTC().Format(time.RFC3339)), nil
	}
	return &f, provider.Outcome{}, nil
}

// fail counts a failed verification and says whether it locked the factor, in one unit
// with the audit row of the FAILED it decides.
func (e *Engine) fail(ctx context.Context, f *store.Factor, reason string) (provider.Outcome, error) {
	if uncounted(ctx) {
		return provider.Failed(reason + "; not counted toward the lockout"), nil
	}
	var locked bool
	out, err := provider.Decide(ctx, e.store, func(w store.Writer) (out provider.Outcome, err error) {
		out, locked, err = e.failIn(ctx, w, f, reason)
		return out, err
	})
	e.lockedOut(f, locked, err)
	return out, err
}

// failIn is fail within a unit that has more to write. locked: this failure locked the
// factor, which the caller reports once the unit has committed (lockedOut), since a unit
// may run twice (store.Store.Update).
func (e *Engine) failIn(ctx context.Context, w store.Writer, f *store.Factor, reason string) (out provider.Outcome, locked bool, err error) {
	if uncounted(ctx) {
		return provider.Failed(reason + "; not counted toward the lockout"), false, nil
	}
	updated, err := w.RecordFailure(ctx, f.ID, e.now(), e.lockout.MaxFailures, e.lockout.Duration)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted (a reset) since it was read: nothing is left to count against.
		return provider.Failed(reason + "; factor deleted meanwhile"), false, nil
	}
	if err != nil {
		return provider.Outcome{}, false, err
	}
	if !updated.LockedUntil.IsZero() {
		now := e.now()
		// This failure locked the factor if it is the one that reached maxFailures. One
		// past it was decided after another failure (here or on another replica) locked
		// the factor since f was read, and that one is the lockout. A count past the
		// limit before this failure (maxFailures lowered by a reload) is told by f, when
		// nothing was counted in between.
		prev := updated.Failures - 1
		locked = updated.LockedUntil.After(now) && (updated.Failures == e.lockout.MaxFailures ||
			prev >= e.lockout.MaxFailures && prev == f.Failures && !f.LockedUntil.After(now))
		reason += fmt.Sprintf("; %d failures, factor locked until %s", updated.Failures, updated.LockedUntil.UTC().Format(time.RFC3339))
	}
	return provider.Failed(reason), locked, nil
}

// lockedOut counts a lockout once the unit whose failure locked f has committed.
func (e *Engine) lockedOut(f *store.Factor, locked bool, err error) {
	if locked && err == nil {
		e.observer.Lockout(f.Type)
	}
}

// factorType maps a capability (any case) to the factor type it names.
func factorType(capability string) string { return strings.ToLower(capability) }

// NewID returns an unguessable identifier: 128 random bits, lower-case base32
// (provider.NewID, which the remote engine mints its transactions with too).
func NewID() string { return provider.NewID() }
