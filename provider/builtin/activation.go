package builtin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Activation is how a factor enrolled by an organisation (the admin API, an import)
// becomes usable. The CLI's default, "", creates it active.
const (
	// ActivationPasscode: pending until the first code is verified (POST …/activate):
	// the code of the seed (TOTP, HOTP) or one sent to the new destination at enrolment
	// (SMS, e-mail, voice). A pending factor is never offered to Verify.
	ActivationPasscode = "passcode"
	// ActivationOnFirstUse: a pre-provisioned code factor (SMS, e-mail, voice) from
	// directory data. It is offered to Verify while pending, and the first successful
	// sign-in with it makes it active.
	ActivationOnFirstUse = "onFirstUse"
)

// ResourceActivate is the audit resource of a pre-provisioned factor's activation by its
// first successful sign-in.
const ResourceActivate = "activate"

// Factor params the activation keeps while a factor is pending; they go when it
// becomes active.
const (
	paramActivation   = "activation"
	paramActivationTx = "activationTransaction"
)

// ErrActivation refuses an activation: the factor is not waiting for one of this kind,
// or the code is wrong (the reason says which).
var ErrActivation = errors.New("activation refused")

// activated is implemented by factor types an organisation may enroll pending their
// activation: the type says how (Activation). A type without it is active at once, and
// takes no mode but "".
type activated interface{ activation() Activation }

// Activation is how a factor of a type that an organisation enrolled may become active.
type Activation struct {
	// Modes are what Enrollment.Activation may say besides "": ActivationPasscode (its
	// first code, checked by the type's Validate; a code factor sends one to the new
	// destination at enrolment) and ActivationOnFirstUse (offered to Verify while pending,
	// made active by its first successful sign-in).
	Modes []string
	// ByDevice: the factor becomes active only when its device registers (push), and
	// takes no mode: no organisation can vouch for a key it has never seen.
	ByDevice bool
}

// activationOf is how typ says its factors become active; zero for a type without
// activated, or unknown.
func activationOf(typ string) Activation {
	settings, ok := registry[typ]
	if !ok {
		return Activation{}
	}
	if a, ok := settings().Open(&Engine{}).(activated); ok {
		return a.activation()
	}
	return Activation{}
}

// ActivatedByDevice reports whether a factor of typ becomes active only when its device
// registers, as its type says (Activation.ByDevice).
func ActivatedByDevice(typ string) bool { return activationOf(typ).ByDevice }

// ActivationModes lists the activation modes a factor type takes besides "", as the type
// says (Activation.Modes).
func ActivationModes(typ string) []string { return slices.Clone(activationOf(typ).Modes) }

// ActivationTypes lists the factor types that take mode, sorted.
func ActivationTypes(mode string) []string {
	var out []string
	for _, typ := range Types() {
		if slices.Contains(activationOf(typ).Modes, mode) {
			out = append(out, typ)
		}
	}
	return out
}

// DeviceActivatedTypes lists the factor types that become active when their device
// registers, sorted.
func DeviceActivatedTypes() []string {
	var out []string
	for _, typ := range Types() {
		if ActivatedByDevice(typ) {
			out = append(out, typ)
		}
	}
	return out
}

// ActivationOf is the activation a pending factor waits for ("" when none: an active
// factor, or a push device waiting to register).
func ActivationOf(f *store.Factor) string {
	if f.State != store.FactorPending {
		return ""
	}
	return f.Params[paramActivation]
}

// NeverActivated reports whether f, whatever its state, never completed its activation:
// its activation is still recorded, or it is a push device that never registered a key.
// Such a factor becomes active only by its activation, never by an enable.
func NeverActivated(f *store.Factor) bool {
	return f.Params[paramActivation] != "" || (ActivatedByDevice(f.Type) && f.Params["publicKey"] == "")
}

// usable reports whether a factor may be offered to Verify and answered for: active, or
// pre-provisioned for activation on first use.
func usable(f *store.Factor) bool {
	return f.State == store.FactorActive || ActivationOf(f) == ActivationOnFirstUse
}

// activatedParams are a pending factor's params without the activation's own.
func activatedParams(f *store.Factor) map[string]string {
	p := maps.Clone(f.Params)
	delete(p, paramActivation)
	delete(p, paramActivationTx)
	return p
}

// checkActivation refuses a mode the type does not take.
func checkActivation(in Enrollment) error {
	if in.Activation == "" {
		return nil
	}
	if slices.Contains(activationOf(in.Type).Modes, in.Activation) {
		return nil
	}
	return fmt.Errorf("%w: %s factors do not take activation %q", ErrInput, in.Type, in.Activation)
}

// pend marks a new factor pending its activation, if it has one.
func pend(f *store.Factor, in Enrollment) {
	if in.Activation == "" {
		return
	}
	f.State = store.FactorPending
	f.Params[paramActivation] = in.Activation
}

// afterEnroll starts what an activation needs once the factor exists: a code sent to
// the new destination of a code factor. If it cannot be sent, the factor goes again:
// nobody could activate it.
func (e *Engine) afterEnroll(ctx context.Context, u store.User, in Enrollment, enrolled Enrolled) (Enrolled, error) {
	if !e.activatesBySend(in) {
		return enrolled, nil
	}
	k := e.factors[in.Type].(*codeFactor)
	f := enrolled.Factor
	_, expires, err := e.sendActivation(ctx, k, u, &f, in.Audit)
	if err != nil {
		// Removed even when the caller has gone away, yet bounded (provider.Detach): a
		// store that stopped answering must not hold this goroutine and its connection.
		dctx, cancel := provider.Detach(ctx)
		defer cancel()
		if derr := e.store.DeleteFactor(dctx, f.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		return Enrolled{}, err
	}
	enrolled.Factor = f // its params now name the activation's transaction
	enrolled.Output["activationExpiresAt"] = expires.UTC().Format(time.RFC3339)
	return enrolled, nil
}

// activatesBySend reports whether in's factor becomes usable with a code sent to it: a code
// factor activated by passcode.
func (e *Engine) activatesBySend(in Enrollment) bool {
	_, code := e.factors[in.Type].(*codeFactor)
	return code && in.Activation == ActivationPasscode
}

// ErrNotSent is an activation code that could not be sent (no sender, a send limit, the
// provider refusing); the reason says which.
var ErrNotSent = errors.New("activation code not sent")

// NotSentError is ErrNotSent with its reason and, when a send limit refused the code, how
// long until it would not (RetryAfter; 0 otherwise).
type NotSentError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *NotSentError) Error() string        { return ErrNotSent.Error() + ": " + e.Reason }
func (e *NotSentError) Is(target error) bool { return target == ErrNotSent }

// sendActivation sends a code to a pending code factor's destination, exactly as a
// sign-in's initiate does (same length, lifetime, attempts and send limits), and keeps
// its transaction in the factor's params: only the newest code activates. audit, when
// set, is the enrollment's or resend's record, committed with the params.
func (e *Engine) sendActivation(ctx context.Context, k *codeFactor, u store.User, f *store.Factor, audit func(store.Factor) store.AuditEvent) (string, time.Time, error) {
	if u.Disabled {
		// A disabled user's factor is not activated (answerChallenge: the right code is
		// refused and spent): the code would be sent, paid for and counted for nothing.
		return "", time.Time{}, &NotSentError{Reason: "user " + u.Name + " is disabled: no code could activate the factor before they are enabled; nothing sent"}
	}
	// The factor is deleted once it has waited its activation lifetime (Manager.
	// SweepPending): a code sent past that end would have nothing to activate, and one
	// sent near it is said to work only until then.
	var deleted time.Time
	if e.pendingLifetime > 0 {
		deleted = f.CreatedAt.Add(e.pendingLifetime)
		if !e.now().Before(deleted) {
			return "", time.Time{}, &NotSentError{Reason: "factor pending since " + f.CreatedAt.UTC().Format(time.RFC3339) +
				": its activation lifetime (" + e.pendingLifetime.String() + ") is over, and it is deleted at the next sweep; enroll it again; nothing sent"}
		}
	}
	out, err := k.Initiate(ctx, f, provider.Request{Username: u.Name, Capability: f.Type, ID: f.ID})
	if err != nil {
		return "", time.Time{}, err
	}
	if out.Status != provider.StatusPending {
		ns := &NotSentError{Reason: out.Reason}
		if !out.RetryAt.IsZero() {
			ns.RetryAfter = max(out.RetryAt.Sub(e.now()), time.Second)
		}
		return "", time.Time{}, ns
	}
	// The factor as it is now, not as read before the send (seconds, over SMTP): the code
	// its user held may have activated it meanwhile, and its params, written back as read,
	// would have put the activation's on the active factor, which then passed for one never
	// activated (NeverActivated: never to be enabled again once disabled). The code held is
	// dealt with by now: the send's unit canceled it, or it had succeeded before.
	//
	// Written to their end, as the send ran (provider.RunToEnd), though the caller hangs up
	// meanwhile: the send has canceled the code held before, and without these params
	// naming the new one, neither would activate.
	ctx, cancel := provider.Detach(ctx)
	defer cancel()
	cur, err := e.store.GetFactor(ctx, f.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	waiting := ActivationOf(&cur) == ActivationPasscode
	if waiting {
		if cur.Params == nil {
			cur.Params = map[string]string{}
		}
		cur.Params[paramActivationTx] = out.TransactionID
	}
	*f = cur
	if err := e.store.Update(ctx, func(w store.Writer) error {
		// The code's transaction and these params are two commits: a concurrent resend
		// may have sent a newer code in between, cancelling this one, and written (or be
		// about to write) its own transaction here. Only a code still pending names
		// itself, under the factor's lock so that of two such units the later one sees
		// the other's cancellation; a superseded one leaves the params to the newer code.
		if err := w.LockFactor(ctx, f.ID); err != nil {
			return err
		}
		tx, err := w.GetTransaction(ctx, e.challenges().Key(out.TransactionID))
		if err != nil {
			return err
		}
		if waiting && tx.Status == string(provider.StatusPending) {
			if err := w.UpdateFactorParams(ctx, f.ID, nil, f.Params, e.now()); err != nil {
				return err
			}
		}
		if audit == nil {
			return nil
		}
		return w.AppendAudit(ctx, audit(*f))
	}); err != nil {
		return "", time.Time{}, err
	}
	expires := e.now().Add(k.s.Lifetime)
	if !deleted.IsZero() && deleted.Before(expires) {
		expires = deleted
	}
	return out.TransactionID, expires, nil
}

// ActivationTransaction is the store's key of the transaction of the code a pending code
// factor was sent ("" for none): a caller tells from it whether that code can still
// activate.
func ActivationTransaction(f *store.Factor) string {
	id := f.Params[paramActivationTx]
	if id == "" || ActivationOf(f) != ActivationPasscode {
		return ""
	}
	return (&Engine{}).challenges().Key(id)
}

// ResendActivation sends a new activation code to a code factor pending a passcode; the
// earlier one stops working. audit, when set, is the resend's record, committed with the
// new code's transaction in the factor's params.
func (e *Engine) ResendActivation(ctx context.Context, u store.User, factorID string, audit func(store.Factor) store.AuditEvent) (time.Time, error) {
	f, err := e.store.GetFactor(ctx, factorID)
	if err != nil {
		return time.Time{}, err
	}
	k, ok := e.factors[f.Type].(*codeFactor)
	if f.UserID != u.ID || !ok || ActivationOf(&f) != ActivationPasscode {
		return time.Time{}, fmt.Errorf("%w: factor %s is not a code factor waiting for a passcode", ErrActivation, factorID)
	}
	// A locked factor is sent nothing, as sign-in's initiate refuses it: Activate refuses
	// its code until the lockout ends, and a code's lifetime (5 minutes) is mostly shorter
	// than a lockout (15), so the code would be sent, paid for and counted for nothing.
	if now := e.now(); f.LockedUntil.After(now) {
		return time.Time{}, &NotSentError{
			Reason:     "factor locked until " + f.LockedUntil.UTC().Format(time.RFC3339) + "; nothing sent",
			RetryAfter: max(f.LockedUntil.Sub(now), time.Second),
		}
	}
	_, expires, err := e.sendActivation(ctx, k, u, &f, audit)
	return expires, err
}

// Activate checks the first code of a factor pending a passcode and makes it active. A
// wrong code counts toward the factor's lockout, as at sign-in; the error wraps
// ErrActivation with the reason.
//
// The check's writes (the code used up, or the failure counted), the activation and its
// record (audit, when set, given SUCCESS or FAILED and the reason) are one commit. A
// refusal decided before any write (the factor locked, a code used already) is recorded
// apart, and its loss only logged.
func (e *Engine) Activate(ctx context.Context, u store.User, factorID, passcode string, audit func(outcome, reason string) store.AuditEvent) (store.Factor, error) {
	return e.ActivateWith(ctx, u, factorID, passcode, audit, nil)
}

// ActivateWith is Activate with also, the caller's writes, in the commit that activates
// the factor (a self-service link spent by it). An error of also fails the activation
// whole, and is returned wrapped (so it should be the caller's own, not store.ErrConflict
// nor ErrActivation): the code is not used up, nothing is counted.
func (e *Engine) ActivateWith(ctx context.Context, u store.User, factorID, passcode string, audit func(outcome, reason string) store.AuditEvent, also func(w store.Writer) error) (store.Factor, error) {
	f, err := e.store.GetFactor(ctx, factorID)
	if err != nil {
		return store.Factor{}, err
	}
	if f.UserID != u.ID {
		return store.Factor{}, fmt.Errorf("factor %s of another user: %w", factorID, store.ErrNotFound)
	}
	decided := &provider.AlsoDecided{Write: func(w store.Writer, out provider.Outcome) error {
		outcome, reason := "FAILED", activationRefused(out.Reason).Error()
		if out.Status == provider.StatusSuccess {
			if err := w.ActivateFactor(ctx, f.ID, activatedParams(&f), e.now()); err != nil {
				return err
			}
			if also != nil {
				if err := also(w); err != nil {
					return err
				}
			}
			outcome, reason = "SUCCESS", ""
		}
		if audit == nil {
			return nil
		}
		return w.AppendAudit(ctx, audit(outcome, reason))
	}, First: func(w store.Writer) error {
		// The code's check writes the factor, then the activation writes it again, and
		// takes its user's row there (the foreign key, checked again): taken first, as
		// a delete of the user takes them (the user, then its factors), or each held
		// what the other waited for (40P01; lifecycle's
		// TestFactorWrittenTwiceBesideUserDeleteDoesNotDeadlock).
		return w.LockUser(ctx, u.ID)
	}}
	out, err := e.activate(provider.WithAlsoDecided(ctx, decided), u, &f, passcode)
	switch {
	case errors.Is(err, store.ErrConflict) && !decided.Done():
		err = fmt.Errorf("%w: activated concurrently", ErrActivation)
	case err == nil && out.Status != provider.StatusSuccess:
		err = activationRefused(out.Reason)
	case err == nil && !decided.Done():
		// A type whose success writes nothing (a static code, nothing to claim) decides it
		// without a unit: the activation and its record commit in one of their own.
		err = e.store.Update(ctx, func(w store.Writer) error { return decided.Write(w, out) })
		if errors.Is(err, store.ErrConflict) {
			err = fmt.Errorf("%w: activated concurrently", ErrActivation)
		}
	}
	if errors.Is(err, ErrActivation) && !decided.Done() && audit != nil {
		actx, cancel := provider.Detach(ctx)
		defer cancel()
		if aerr := e.store.AppendAudit(actx, audit("FAILED", err.Error())); aerr != nil {
			e.observer.StoreError("audit") // emfa_store_errors_total{operation="audit"}
			e.log.Error("audit write", "factor", f.ID, "err", aerr)
		}
	}
	if err != nil {
		return store.Factor{}, err
	}
	got, err := e.store.GetFactor(ctx, f.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Activated and recorded, then deleted (its user's deletion, a reset, on another
		// replica) before this read: answered as written, not as an activation never made
		// while its SUCCESS stands in the audit trail (lifecycle's
		// TestActivationAnsweredAsWritten). The code's check cleared the failures and any
		// lockout past in that commit (AdvanceCounter, ClearFailuresUnlocked): the answer
		// says so, as the read would have.
		f.State, f.Params = store.FactorActive, activatedParams(&f)
		f.Failures, f.LockedUntil = 0, time.Time{}
		return f, nil
	}
	return got, err
}

// activationRefused is the error of an activation whose code was refused for reason.
func activationRefused(reason string) error {
	return fmt.Errorf("%w: %s", ErrActivation, reason)
}

// activate checks passcode as the first code of f: the outcome, decided in a unit that
// runs what ctx adds to it (provider.WithAlsoDecided), or a refusal before any write.
func (e *Engine) activate(ctx context.Context, u store.User, f *store.Factor, passcode string) (provider.Outcome, error) {
	switch {
	case ActivationOf(f) != ActivationPasscode:
		return provider.Outcome{}, fmt.Errorf("%w: factor %s is %s and waits for no passcode", ErrActivation, f.ID, stateName(f))
	case f.LockedUntil.After(e.now()):
		return provider.Outcome{}, fmt.Errorf("%w: factor locked until %s", ErrActivation, f.LockedUntil.UTC().Format(time.RFC3339))
	case u.Disabled:
		// No factor of a disabled user is activated (answerChallenge refuses it in the
		// unit): refused before the code is checked, so that the code sent stays good for
		// when they are enabled, and a wrong one counts toward no lockout.
		return provider.Outcome{}, fmt.Errorf("%w: user %s is disabled: enable them first; the code was not checked", ErrActivation, u.Name)
	}
	k, ok := e.factors[f.Type]
	if !ok || !slices.Contains(activationOf(f.Type).Modes, ActivationPasscode) {
		return provider.Outcome{}, fmt.Errorf("%w: %s factors take no passcode", ErrActivation, f.Type)
	}
	// The type's own check, as at sign-in; a code factor's names the transaction of the
	// code sent to activate it.
	return k.Validate(ctx, f, provider.Request{Username: u.Name, Capability: f.Type, ID: f.ID,
		TransactionID: f.Params[paramActivationTx], Passvalue: passcode})
}

// activateOnFirstUse makes a pre-provisioned factor active after its first successful
// sign-in (req's), in one commit with the record that says so, which carries the
// request's id as the call's decision row does. The answer is decided already: losing
// the race to a concurrent one is fine, and records nothing; a crash before this commit
// leaves the factor pending, for the next sign-in to activate.
func (e *Engine) activateOnFirstUse(ctx context.Context, f *store.Factor, req provider.Request, out provider.Outcome) error {
	if out.Status != provider.StatusSuccess || ActivationOf(f) != ActivationOnFirstUse {
		return nil
	}
	ctx, cancel := provider.Detach(ctx)
	defer cancel()
	now := e.now()
	err := e.store.Update(ctx, func(w store.Writer) error {
		if err := w.ActivateFactor(ctx, f.ID, activatedParams(f), now); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: now, RequestID: req.RequestID, Username: req.Username, Capability: f.Type, FactorID: f.ID,
			Resource: ResourceActivate, Outcome: string(provider.StatusSuccess), Reason: "its first successful sign-in (" + ActivationOnFirstUse + ")"})
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		// Activated by a concurrent sign-in, or deleted (a reset) since the answer's
		// unit committed it: nothing is left to activate, and the answer stands.
		return nil
	}
	return err
}

func stateName(f *store.Factor) string {
	if f.State == store.FactorPending && ActivationOf(f) == "" {
		return "pending its device"
	}
	return string(f.State)
}

// PreProvision builds (without storing it) a code factor from directory data, pending
// activation on first use: what an import writes in its own batch. It checks what Enroll
// checks: the type, the destination, a duplicate, maxFactorsPerUser.
func (e *Engine) PreProvision(u store.User, existing []store.Factor, typ, destination string) (store.Factor, error) {
	k, ok := e.factors[typ].(*codeFactor)
	if !ok || !slices.Contains(activationOf(typ).Modes, ActivationOnFirstUse) {
		return store.Factor{}, fmt.Errorf("%w: only %s factors are pre-provisioned, not %q", ErrInput, strings.Join(PreProvisionTypes(), ", "), typ)
	}
	if len(existing) >= e.maxFactors {
		return store.Factor{}, fmt.Errorf("%w: %s already has %d factors", ErrTooManyFactors, u.Name, len(existing))
	}
	in := Enrollment{Type: typ, User: u.Name, Activation: ActivationOnFirstUse, Values: map[string][]string{k.to.param: {destination}}}
	f, _, err := k.build(u, existing, in)
	return f, err
}

// PreProvisionTypes lists the factor types an import pre-provisions from directory data
// (PreProvision), sorted: those sending codes to a destination that take activation on
// first use.
func PreProvisionTypes() []string {
	var out []string
	for _, typ := range ActivationTypes(ActivationOnFirstUse) {
		if Destination(typ) != "" {
			out = append(out, typ)
		}
	}
	return out
}

// Destination is the param a code factor type sends to ("phone", "email"), as the type
// says; "" for other types.
func Destination(typ string) string {
	settings, ok := registry[typ]
	if !ok {
		return ""
	}
	if k, ok := settings().Open(&Engine{}).(*codeFactor); ok {
		return k.to.param
	}
	return ""
}
