package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/emfa/emfa/store"
)

// Resource names of the contract.
const (
	ResourceEnrollments = "enrollments"
	ResourceInitiate    = "initiate"
	ResourceValidate    = "validate"
	ResourceResult      = "result"
	ResourceTest        = "test"
)

// Auditor records decisions; store.Store satisfies it.
type Auditor interface {
	AppendAudit(ctx context.Context, e store.AuditEvent) error
}

// Provider is one configured external-MFA provider: the rules of the contract that hold
// whatever the engine (disabled providers, capability names, filtering, audit), wrapped
// around an Engine. The adapter calls nothing else.
type Provider struct {
	Name             string
	CredentialPrefix string
	Enabled          bool
	// Capabilities in the operator's spelling; requests match them case-insensitively
	// and answers use this spelling.
	Capabilities []string
	Engine       Engine
	Log          *slog.Logger
	Audit        Auditor // optional
	Now          func() time.Time
	// Switches, when set, hide and refuse capabilities switched off org-wide.
	Switches Switches
	// Observer, when set, counts every decision and audit fault (metrics).
	Observer Observer
	// Policy, when set, hides and refuses capabilities a user may not use (policy.go).
	Policy Policy
}

// Observer learns what an operator counts about decisions. Its labels are bounded: the
// capability is the configured spelling, or "" when the request named none exposed.
type Observer interface {
	Contract(provider, resource, capability, status string, d time.Duration)
	StoreError(operation string)
}

// Capability resolves a capability as Verify sent it — bare ("totp") or prefixed
// ("emfa:totp") — to the configured spelling; ok is false when the provider does not
// expose it.
func (p *Provider) Capability(raw string) (string, bool) {
	if prefix, rest, found := strings.Cut(raw, ":"); found && strings.EqualFold(prefix, p.CredentialPrefix) {
		raw = rest
	}
	for _, c := range p.Capabilities {
		if strings.EqualFold(c, raw) {
			return c, true
		}
	}
	return "", false
}

// Refusal is why the Provider refuses username's use of capability now, or "": the
// provider disabled, the capability not exposed, switched off org-wide, or denied by a
// policy, as a contract call would be refused. The device API asks it before an
// approval counts: an approval made while push is refused (switched off to stop a
// push-fatigue attack) must sign nobody in, though no poll came while it was.
func (p *Provider) Refusal(ctx context.Context, username, capability string) (string, error) {
	c, exposed := p.Capability(capability)
	switch {
	case !p.Enabled:
		return "provider disabled", nil
	case !exposed:
		return fmt.Sprintf("capability %q not exposed by this provider", capability), nil
	}
	refusal, err := p.switchedOff(ctx, c)
	if err == nil && refusal == nil {
		refusal, err = p.denied(ctx, username, c)
	}
	if err != nil || refusal == nil {
		return "", err
	}
	return refusal.Reason, nil
}

// Enrollments answers the lookup: only factors whose capability the provider exposes,
// and [] for a disabled provider or an unknown user.
func (p *Provider) Enrollments(ctx context.Context, username string) (list []Enrollment, err error) {
	ctx, o := p.observe(ctx, ResourceEnrollments, "")
	defer func() { o.end(statusListed, err) }()
	return p.enrollments(ctx, username)
}

// statusListed is the status counted for an enrollments call answered (a list, [] too).
const statusListed = "ok"

func (p *Provider) enrollments(ctx context.Context, username string) ([]Enrollment, error) {
	out := []Enrollment{}
	if !p.Enabled {
		return out, nil
	}
	if on, err := p.anySwitchedOn(ctx); err != nil || !on {
		// Every capability off (a vendor's outage): nothing the engine lists would be
		// offered, and the vendor that is out is not asked, nor its timeout waited for.
		if err != nil {
			return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
		}
		return out, nil
	}
	list, err := p.Engine.Enrollments(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
	}
	for _, e := range list {
		if why := CheckIdentifier("id", e.ID, MaxFactorIDBytes); why != "" {
			// Every later call names the factor by this id, and is refused before any
			// engine sees it (Request.invalid): a factor offered so could never work.
			if p.Log != nil {
				p.Log.Warn("enrollment not offered: its id cannot be named in a contract call",
					"provider", p.CredentialPrefix, "capability", Printable(e.Capability, MaxCapabilityBytes), "reason", why)
			}
			continue
		}
		if c, ok := p.Capability(e.Capability); ok {
			if refusal, err := p.switchedOff(ctx, c); err != nil || refusal != nil {
				if err != nil {
					return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
				}
				continue
			}
			if refusal, err := p.denied(ctx, username, c); err != nil || refusal != nil {
				if err != nil {
					return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
				}
				continue
			}
			e.Capability = c
			out = append(out, e)
		}
	}
	return out, nil
}

// anySwitchedOn reports whether one of the provider's capabilities is not switched off
// org-wide (the switches are a cache: no store read per call).
func (p *Provider) anySwitchedOn(ctx context.Context) (bool, error) {
	for _, c := range p.Capabilities {
		refusal, err := p.switchedOff(ctx, c)
		if err != nil {
			return false, err
		}
		if refusal == nil {
			return true, nil
		}
	}
	return len(p.Capabilities) == 0, nil
}

// ClaimsLate reports whether an idempotent call of resource may claim its record in the
// unit that decides it (Idempotency.DoLate): the engine says it writes nothing, and
// reaches nothing outside emfa, before that unit (UnitDecider).
func (p *Provider) ClaimsLate(resource string) bool {
	u, ok := p.Engine.(UnitDecider)
	return ok && u.DecidesInOneUnit(resource)
}

// Initiate starts a challenge.
func (p *Provider) Initiate(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceInitiate, req, p.Engine.Initiate)
}

// Validate checks a code.
func (p *Provider) Validate(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceValidate, req, p.Engine.Validate)
}

// Result polls a challenge.
func (p *Provider) Result(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceResult, req, p.Engine.Result)
}

// Test is Verify's connection check.
func (p *Provider) Test(ctx context.Context) (out Outcome, err error) {
	ctx, o := p.observe(ctx, ResourceTest, "")
	defer func() { o.end(string(out.Status), err) }()
	if !p.Enabled {
		return Outcome{Status: StatusFailed, Attributes: map[string]any{"reason": "provider disabled"}}, nil
	}
	out, err = p.Engine.Test(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("provider %s: test: %w", p.CredentialPrefix, err)
	}
	return testAnswer(out), nil
}

// testAnswer is an engine's test outcome as contract §8 has it, whatever the engine: SUCCESS,
// or FAILED with attributes.reason. A remote provider's test resource is the operator's
// transform, which may make any status, or a FAILED without a reason (IBM's DUO test does).
func testAnswer(out Outcome) Outcome {
	if out.Status == StatusSuccess {
		return out
	}
	if r, _ := out.Attributes["reason"].(string); r == "" {
		attrs := make(map[string]any, len(out.Attributes)+1)
		maps.Copy(attrs, out.Attributes)
		attrs["reason"] = "the backend's test answered " + cmp.Or(string(out.Status), "no status")
		out.Attributes = attrs
	}
	out.Status = StatusFailed
	return out
}

// observation is a contract call being counted (Observer) and traced (its "contract
// RESOURCE" span). A value, not a closure: enrollments, the most frequent call, pays no
// allocation for it.
type observation struct {
	p                    *Provider
	ctx                  context.Context
	span                 trace.Span
	resource, capability string
	start                time.Time
}

// observe starts observing a call of resource; capability is the configured spelling, or
// "" when the request named none exposed (or the resource takes none).
func (p *Provider) observe(ctx context.Context, resource, capability string) (context.Context, observation) {
	o := observation{p: p, ctx: ctx, resource: resource, capability: capability, span: trace.SpanFromContext(ctx)}
	if o.span.IsRecording() { // else the span's name and attributes would be built for nothing
		ctx, o.span = StartSpan(ctx, "contract "+resource, AttrProvider.String(p.CredentialPrefix),
			AttrResource.String(resource), AttrCapability.String(capability))
	}
	if p.Observer != nil {
		o.start = time.Now()
	}
	return ctx, o
}

// end counts and ends the call, answered status or failed with err.
func (o observation) end(status string, err error) {
	if o.span.IsRecording() {
		spanStatus := status
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			spanStatus = "timeout"
		case Abandoned(o.ctx, err):
			spanStatus = "canceled" // as counted: its caller gave up, no fault of emfa's
		case err != nil:
			spanStatus = "error"
		}
		o.span.SetAttributes(AttrStatus.String(spanStatus))
		EndSpan(o.span, err != nil && !errors.Is(err, ErrSuperseded) && !Abandoned(o.ctx, err), "no decision")
	}
	if o.p.Observer == nil || errors.Is(err, ErrSuperseded) {
		return // superseded: the attempt that decided is counted, and the replay of it
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// The engine waited for the store to the request deadline (a vendor too slow is
		// its FAILED, no error): a store fault, answered 503.
		status = "timeout"
		o.p.Observer.StoreError("contract")
	case Abandoned(o.ctx, err):
		status = "canceled" // its caller gave up (Verify's own timeout): no store fault
	case err != nil:
		status = "error"
		o.p.Observer.StoreError("contract")
	}
	o.p.Observer.Contract(o.p.CredentialPrefix, o.resource, o.capability, status, time.Since(o.start))
}

// endedOr is refusal, or, for a result on a transaction that has ended, how it ended
// (Ender): a refusal that came after the end (a switch, a policy, the provider disabled)
// must not turn a SUCCESS already polled into a FAILED at the next poll (contract §7).
func (p *Provider) endedOr(ctx context.Context, resource string, req Request, refusal Outcome) (Outcome, error) {
	if resource != ResourceResult || req.TransactionID == "" {
		return refusal, nil
	}
	if r, ok := p.Engine.(ResultRefuser); ok {
		// A challenge still pending ends with the refusal: every later poll answers it.
		return r.RefuseResult(ctx, req, refusal)
	}
	e, ok := p.Engine.(Ender)
	if !ok {
		return refusal, nil
	}
	ended, ok, err := e.Ended(ctx, req)
	if err != nil || !ok {
		return refusal, err
	}
	return ended, nil
}

func (p *Provider) call(ctx context.Context, resource string, req Request, fn func(context.Context, Request) (Outcome, error)) (out Outcome, err error) {
	var d *decision
	c, exposed := p.Capability(req.Capability)
	ctx, o := p.observe(ctx, resource, c)
	defer func() { o.end(string(out.Status), err) }()
	invalid := req.invalid()
	switch {
	case invalid != "":
		out = Failed(invalid) // before any store sees it: answered alike on every store
	case !p.Enabled:
		out = Failed("provider disabled")
		if exposed {
			req.Capability = c
			ctx, d = p.refusing(ctx, resource, req)
			if out, err = p.endedOr(ctx, resource, req, out); err != nil {
				return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
			}
		}
	case !exposed:
		out = Failed(fmt.Sprintf("capability %q not exposed by this provider", req.Capability))
	default:
		req.Capability = c
		refusal, err := p.switchedOff(ctx, c)
		if err != nil {
			return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
		}
		if refusal == nil {
			refusal, err = p.denied(ctx, req.Username, c)
			if err != nil {
				return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
			}
		}
		if refusal != nil {
			ctx, d = p.refusing(ctx, resource, req)
			if out, err = p.endedOr(ctx, resource, req, *refusal); err != nil {
				return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
			}
			break
		}
		if p.Audit != nil {
			d = p.decision(resource, req)
			ctx = context.WithValue(ctx, decisionKey{}, d)
		}
		if out, err = fn(ctx, req); err != nil {
			return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
		}
	}
	if p.Audit == nil || d != nil && d.audited {
		p.log(ctx, resource, req, out)
		return out, nil
	}
	// A decision that wrote nothing (a refusal before any state change) is recorded by
	// itself. Like a unit, it is not answered unless its record is written.
	actx, cancel := Detach(ctx)
	defer cancel()
	if st, ok := p.Audit.(store.Store); ok && out.Status != "" && (pendingFor(actx, st) != nil || lateClaim(actx) != nil) {
		// An idempotent call's: its audit row, and its answer or claim, are one unit.
		if d == nil {
			d = p.decision(resource, req)
		}
		_, err := Decide(context.WithValue(actx, decisionKey{}, d), st, func(store.Writer) (Outcome, error) { return out, nil })
		if errors.Is(err, ErrSuperseded) {
			// Another attempt of the call decided it, and its answer is sent: this
			// attempt's decision is not, and is not logged as if it were.
			if p.Log != nil {
				p.Log.LogAttrs(ctx, slog.LevelDebug, "decision superseded by another attempt of the call",
					slog.String("provider", p.CredentialPrefix), slog.String("resource", resource),
					slog.String("request_id", req.RequestID), slog.String("webhook_id", req.WebhookID))
			}
			return Outcome{}, err
		}
		p.log(ctx, resource, req, out)
		switch {
		case err != nil:
			return Outcome{}, fmt.Errorf("provider %s: %s: audit: %w", p.CredentialPrefix, resource, err)
		}
		return out, nil
	}
	p.log(ctx, resource, req, out)
	if err := p.Audit.AppendAudit(actx, p.event(resource, req, out)); err != nil {
		return Outcome{}, fmt.Errorf("provider %s: %s: audit: %w", p.CredentialPrefix, resource, err)
	}
	return out, nil
}

// refusing readies the audit row of a refused result for the unit that may end its
// transaction (ResultRefuser), so that the end and its record are one commit; nil, and
// ctx as it is, for anything else.
func (p *Provider) refusing(ctx context.Context, resource string, req Request) (context.Context, *decision) {
	if _, ok := p.Engine.(ResultRefuser); !ok || p.Audit == nil || resource != ResourceResult {
		return ctx, nil
	}
	d := p.decision(resource, req)
	return context.WithValue(ctx, decisionKey{}, d), d
}

// log logs a decision. The reason goes there and to the audit trail, never to Verify;
// codes and answers go nowhere.
func (p *Provider) log(ctx context.Context, resource string, req Request, out Outcome) {
	if p.Log == nil {
		return
	}
	level := slog.LevelInfo
	if out.Status == StatusFailed {
		level = slog.LevelWarn
	}
	if !p.Log.Enabled(ctx, level) {
		return
	}
	req, out = printable(req, out)
	// Attrs rather than key-value pairs: no value boxed into an interface (as the access log).
	p.Log.LogAttrs(ctx, level, "decision",
		slog.String("provider", p.CredentialPrefix), slog.String("resource", resource), slog.String("capability", req.Capability),
		slog.String("factor", req.ID), slog.String("user", req.Username), slog.String("status", string(out.Status)),
		slog.String("reason", out.Reason), slog.String("request_id", req.RequestID), slog.String("webhook_id", req.WebhookID))
}

// decision is the audit row of a call of resource, waiting for the unit that decides it.
func (p *Provider) decision(resource string, req Request) *decision {
	return &decision{auditor: p.Audit, p: p, resource: resource, req: req}
}

// event is the audit row of a decision.
func (p *Provider) event(resource string, req Request, out Outcome) store.AuditEvent {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	req, out = printable(req, out)
	return store.AuditEvent{
		Time: now(), RequestID: req.RequestID, Provider: p.CredentialPrefix, Username: req.Username,
		Capability: req.Capability, FactorID: req.ID, Resource: resource,
		Outcome: string(out.Status), Reason: out.Reason, WebhookID: req.WebhookID,
	}
}

// decisionKey is the context key of a Provider's call in progress (a *decision).
type decisionKey struct{}

// decision is the audit row of a call in progress, waiting for the engine's final unit of
// writes to carry it (Decide).
type decision struct {
	auditor  Auditor
	p        *Provider
	resource string
	req      Request
	audited  bool // a unit has committed the row
}

// event is the audit row of the call deciding out. The call's fields are the decision's
// own, not a closure's: one allocation a call, not two.
func (d *decision) event(out Outcome) store.AuditEvent { return d.p.event(d.resource, d.req, out) }

// Decide runs fn as one unit of writes on st (store.Store.Update) and returns the outcome
// fn decides. In a Provider's call (ctx) whose audit trail is st, a unit that decides (fn
// returns an Outcome with a Status) also writes the call's audit row for that outcome: the
// state change and the record of the decision commit together, in one commit, or neither
// does and the call fails with the error. An Outcome without a Status decides nothing yet
// (a reservation that went through): the call goes on, and its row comes with a later
// unit, or by itself once the engine answers.
//
// This is how an engine makes its final state change: the one whose result decides the
// answer (AdvanceCounter's ErrReplay is FAILED), so fn learns it inside the unit and maps
// it to the outcome there. fn must only compute and call w: it may run on SQLite's single
// writer, in a commit shared with other requests, and it may run more than once, each
// run but the last undone (see store.Store.Update): what it learns from w, it acts on
// through the Outcome it returns. Network I/O (a vendor, a sender) comes before or after,
// never inside.
func Decide(ctx context.Context, st store.Store, fn func(w store.Writer) (Outcome, error)) (Outcome, error) {
	if _, ok := ctx.Deadline(); !ok {
		// An engine writes its decision on a detached context, to be written even when
		// Verify hung up: bounded all the same, or a store that stopped answering would
		// hold the request forever.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, WriteGrace)
		defer cancel()
	}
	// Read after the timeout is put on: a value asked of context.WithoutCancel's context
	// itself (an engine's detached one) boxes it, an allocation each decision; through
	// the timeout's, the lookup walks past it without one.
	d, _ := ctx.Value(decisionKey{}).(*decision)
	if d != nil && (d.audited || !sameValue(d.auditor, st)) {
		d = nil // recorded already, or elsewhere: the Provider writes it apart
	}
	ctx, span := StartSpan(ctx, "store.update")
	// An idempotent call's answer is recorded with its decision: one commit, made durable
	// here rather than by a commit of its own after (Idempotency).
	pa := pendingFor(ctx, st)
	uctx := ctx
	if pa != nil {
		uctx = store.SyncNow(ctx)
	}
	// A call under Idempotency.DoLate claims its record with its first unit: last in it
	// when the records are st's (below), just before it otherwise.
	late := lateClaim(ctx)
	switch {
	case late == nil:
	case late.lost != nil: // superseded by an earlier unit of this call: none runs now
		EndSpan(span, false, "")
		return Outcome{}, ErrSuperseded
	case !sameValue(late.store, st):
		ok, err := late.claimApart(ctx)
		if err != nil || !ok {
			EndSpan(span, err != nil, "unit not committed")
			return Outcome{}, cmp.Or(err, ErrSuperseded)
		}
		late = nil
	}
	also := alsoFor(ctx)
	// What the unit learns, in one variable: captured by the unit's closure, which
	// escapes, each variable apart went to the heap apart (four allocations a unit).
	var u struct {
		out              Outcome
		ans              Answer  // the answer rendered, recorded with the decision
		recorded         *Answer // &ans once recorded
		claimed, alsoRan bool
	}
	err := st.Update(uctx, func(w store.Writer) error {
		// Of a speculative run that did not hold (store.Store.Update).
		u.recorded, u.claimed, u.alsoRan = nil, false, false
		if also != nil && also.First != nil {
			if err := also.First(w); err != nil {
				return err
			}
		}
		var err error
		if u.out, err = fn(w); err != nil {
			if late != nil {
				// fn may have failed on what another attempt of the call decided (its
				// counter moved): then the call is that attempt's, not an error. The
				// unit rolls back either way, a claim made here with it.
				if ok, cerr := late.claimIn(ctx, w); cerr == nil && !ok {
					return ErrSuperseded
				}
			}
			return err
		}
		var ans *Answer
		if out := u.out; out.Status != "" {
			if d != nil {
				if err := w.AppendAudit(ctx, d.event(out)); err != nil {
					return err
				}
			}
			if also != nil {
				if err := also.Write(w, out); err != nil {
					return err
				}
				u.alsoRan = true
			}
			if pa != nil {
				if a, ok := pa.render(out); ok {
					u.ans = a
					ans = &u.ans
				}
			}
		}
		switch {
		case late != nil:
			// Claimed last, and with the answer when there is one: a call recorded by
			// another attempt rolls back the whole unit, what fn wrote with it.
			if ans != nil {
				u.claimed, err = late.recordIn(ctx, w, *ans)
			} else {
				u.claimed, err = late.claimIn(ctx, w)
			}
			if err == nil && !u.claimed {
				err = ErrSuperseded
			}
			if err != nil {
				return err
			}
		case ans != nil:
			if err := w.CompleteIdempotency(ctx, pa.key, pa.owner, ans.Status, ans.Body, pa.now()); err != nil {
				return err
			}
		}
		u.recorded = ans
		return nil
	})
	out := u.out
	if late != nil {
		switch {
		case err == nil && u.claimed:
			late.claimed = true
		case !errors.Is(err, ErrSuperseded):
			// The record the claim saw was read in a batch that did not commit: it may
			// be another unit's of that batch, lost with it.
			late.lost = nil
		}
	}
	if err == nil && u.recorded != nil {
		pa.recorded, pa.decided = u.recorded, out
	}
	if err == nil && out.Status != "" && span.IsRecording() {
		span.SetAttributes(AttrStatus.String(string(out.Status)))
	}
	EndSpan(span, err != nil && !errors.Is(err, ErrSuperseded), "unit not committed")
	if err != nil {
		return Outcome{}, err
	}
	if d != nil && out.Status != "" {
		d.audited = true
	}
	if u.alsoRan {
		also.done = true
	}
	return out, nil
}

// AlsoDecided is what a caller writes with the decision of an engine's call: Decide runs
// Write in the unit that decides the call under ctx (WithAlsoDecided), after the engine's
// own writes, with the outcome decided, so that the caller's state change and its record
// commit with the decision or not at all. Done reports whether they committed; a call
// that ends without a deciding unit (a refusal the engine makes before any write) leaves
// the caller to write them apart. Write runs at most once per call, and follows Decide's
// rules for fn: only computing and calls on w, and it may run more than once.
//
// First, when set, runs first in that unit, before the engine's writes: a lock the
// caller's writes need taken before the rows the engine's take (store.Writer.LockUser).
type AlsoDecided struct {
	Write func(w store.Writer, out Outcome) error
	First func(w store.Writer) error
	done  bool
}

// Done reports whether Write committed with a decision.
func (a *AlsoDecided) Done() bool { return a.done }

type alsoKey struct{}

// WithAlsoDecided returns ctx under which the deciding unit also runs a.Write.
func WithAlsoDecided(ctx context.Context, a *AlsoDecided) context.Context {
	return context.WithValue(ctx, alsoKey{}, a)
}

// alsoFor is the AlsoDecided of ctx that has not committed yet, or nil.
func alsoFor(ctx context.Context) *AlsoDecided {
	a, _ := ctx.Value(alsoKey{}).(*AlsoDecided)
	if a == nil || a.done || a.Write == nil {
		return nil
	}
	return a
}

// sameValue reports whether a and b are one comparable value of one type: whether the
// Provider's auditor, or the idempotency records, are the store st itself.
func sameValue(a, b any) bool {
	t := reflect.TypeOf(a)
	return t != nil && t == reflect.TypeOf(b) && t.Comparable() && a == b
}

// printable bounds and escapes what the caller sent, and the reason, for the log and the
// audit trail: the audit write must not be what fails (PostgreSQL refuses a NUL), nor a log
// line carry 30 KB or a forged line. A valid request is unchanged.
func printable(req Request, out Outcome) (Request, Outcome) {
	req.Username = Printable(req.Username, MaxUsernameBytes)
	req.Capability = Printable(req.Capability, MaxCapabilityBytes)
	req.ID = Printable(req.ID, MaxFactorIDBytes)
	out.Reason = Printable(out.Reason, maxReasonBytes)
	return req, out
}

// Abandoned reports whether err is only the end of ctx by its caller: a request whose
// client gave up (Verify's own timeout, a closed connection) and not a fault of emfa or
// of a backend. A cancel from inside, with the caller still waiting, is a fault.
func Abandoned(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled)
}
