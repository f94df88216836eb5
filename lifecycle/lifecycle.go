// Package lifecycle is users and factors as an organisation manages them: create, update,
// disable and delete users, enroll, activate and retire their factors, reset a user,
// switch a capability off for everyone, import a directory, issue admin API tokens and
// the token endpoint's OAuth clients. The admin API (adapter), the CLI's commands and
// directory sync call it; it holds the rules (validation, idempotence, the deletion
// guard, the audit trail with its actor), the callers only translate.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// DefaultActivationLifetime is how long a factor waits for its activation before the
// sweep deletes it.
const DefaultActivationLifetime = 7 * 24 * time.Hour

// Options configure a Manager.
type Options struct {
	Store store.Store
	// Engines are the builtin engines of the configured providers; a factor of a type is
	// enrolled by the first that exposes it, else by the first.
	Engines []*builtin.Engine
	// Capabilities are each provider's, by credentialPrefix: what a switch may name.
	Capabilities map[string][]string
	// Switched, when set, is told that a switch changed (this replica's cache drops it).
	Switched func()
	// ActivationLifetime: default DefaultActivationLifetime.
	ActivationLifetime time.Duration
	// DefaultCountry is the region (ISO 3166-1 alpha-2, phone.CheckRegion) whose national
	// phone numbers ("020 7946 0958") profiles, enrollments, imports and the self-service
	// page take, into E.164; "": only numbers that say their country.
	DefaultCountry string
	// Propagation, when set, carries the users this manager creates, updates, disables,
	// enables and deletes, and the resets of their factors, to the vendors, and orders
	// these changes against a directory's events (Propagation): the admin API's and the
	// CLI's manager has it. Directory sync's own has not: its queue propagates what it
	// applies, and orders it by the time its source gives.
	Propagation Propagation
	// Observer, when set, counts the audit records lost (emfa_store_errors_total).
	Observer Observer
	Now      func() time.Time
	Log      *slog.Logger
}

// Observer learns what an operator counts about the manager: a store write lost without
// failing its action, StoreError("audit") for an audit record.
type Observer interface {
	StoreError(operation string)
}

// Propagation gives the sync queue's propagations of a user's change (sync.Queue's
// Propagations: one per vendor, none without a vendor), which the change's own commit
// queues (store.UserChange.Queue), and the ordering marks the change moves to its time in
// that commit (Marks; store.UserChange.Marks), so that a directory's event older than
// the change does not undo it. MarkTime is the time the change, made at t by this
// process's clock, is ordered at, by the clock the directory's events are ordered by (the
// sync queue's: the database's on PostgreSQL): never before a mark of its user already
// made.
type Propagation interface {
	Propagations(ctx context.Context, ev provider.LifecycleEvent) ([]store.QueuedEvent, error)
	Marks(ev provider.LifecycleEvent) []string
	MarkTime(ctx context.Context, t time.Time, evs ...provider.LifecycleEvent) (time.Time, error)
}

// Manager carries out an organisation's changes.
type Manager struct {
	store    store.Store
	engines  []*builtin.Engine
	caps     map[string][]string
	switched func()
	lifetime time.Duration
	// country is Options.DefaultCountry, as SetDefaultCountry leaves it.
	country atomic.Pointer[string]
	// propagation queues the user changes' propagations (Options.Propagation); nil: none.
	propagation Propagation
	observer    Observer // nil: none
	now         func() time.Time
	log         *slog.Logger
	// edits makes the edits of one user in this process (EditUser) take turns, a lock
	// chosen by its folded name, rather than race to conflicts; the user's revision keeps
	// apart those of other replicas.
	edits [32]sync.Mutex
}

// SetDefaultCountry makes code the country whose national phone numbers m reads from now
// on (Options.DefaultCountry; "": none): a reload's, for a manager that outlives
// snapshots (directory sync's). A code phone.CheckRegion refuses changes nothing.
func (m *Manager) SetDefaultCountry(code string) error {
	if code != "" {
		if err := phone.CheckRegion(code); err != nil {
			return fmt.Errorf("lifecycle: default country %q %w", code, err)
		}
	}
	m.country.Store(&code)
	return nil
}

// defaultCountry is the country whose national phone numbers m reads ("": none).
func (m *Manager) defaultCountry() string { return *m.country.Load() }

// editLock is the lock of name's edits.
func (m *Manager) editLock(name string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(store.FoldName(name)))
	return &m.edits[h.Sum32()%uint32(len(m.edits))]
}

// New builds a Manager.
func New(o Options) (*Manager, error) {
	if o.Store == nil {
		return nil, errors.New("lifecycle: a store is required")
	}
	m := &Manager{store: o.Store, engines: o.Engines, caps: o.Capabilities, switched: o.Switched,
		lifetime: o.ActivationLifetime, propagation: o.Propagation, observer: o.Observer, now: o.Now, log: o.Log}
	if err := m.SetDefaultCountry(o.DefaultCountry); err != nil {
		return nil, err
	}
	if m.lifetime <= 0 {
		m.lifetime = DefaultActivationLifetime
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.switched == nil {
		m.switched = func() {}
	}
	return m, nil
}

// Actor is who asks for a change: an admin API token's name, "cli", "import".
type Actor string

// Kind is what sort of refusal an Error is; the admin API maps it to an HTTP status.
type Kind int

const (
	Invalid      Kind = iota + 1 // the request is wrong (400)
	NotFound                     // no such user, factor, token (404)
	Conflict                     // it exists already, or is not in the state needed (409)
	Refused                      // well-formed but refused: a wrong passcode, a guard (422)
	Forbidden                    // the credentials do not allow it (403)
	Unauthorized                 // no valid credentials (401)
)

// Error is a refusal with a stable code (user_exists, invalid_phone...) and the field at
// fault; it changes nothing. Its message may be shown to the caller: it holds no secret.
type Error struct {
	Kind  Kind
	Code  string
	Field string
	Msg   string
	// RetryAfter, when positive, is how long until a limit that refused the request would
	// allow it (a code's send limits): the admin API answers 429 with Retry-After.
	RetryAfter time.Duration
	// Quoted are a person's e-mail addresses and phone numbers that Msg quotes back to the
	// caller who sent them ("\"+1555\" is not an E.164 number"): the caller may read them,
	// an audit record or a log line may not. Error and Reason mask them.
	Quoted []string
}

// Error is the refusal as a log says it: its code, field and message, quoted personal
// values masked, escaped and cut to maxErrorText. The message may quote what the caller
// sent (an e-mail domain, a country), which only the caller's own answer (Msg) gives
// whole: 60 KB of a body made a 60 KB audit row or log line of every refusal.
func (e *Error) Error() string {
	if e.Field != "" {
		return provider.Printable(e.Code+": "+e.Field+": "+e.masked(), maxErrorText)
	}
	return provider.Printable(e.Code+": "+e.masked(), maxErrorText)
}

// maxErrorText bounds a refusal as logged and audited (Error, Reason): every message of
// emfa's own fits, with an e-mail address or a phone number it quotes.
const maxErrorText = 1024

// Reason is the refusal as its audit record says it: its code, the field it is about and
// its message, quoted personal values masked, as Error says it ("invalid_field: must be
// an integer" alone does not say which field).
func (e *Error) Reason() string { return e.Error() }

// masked is Msg with every Quoted value masked, in the quoted form %q gave it first, then
// where it stands alone (maskAlone).
func (e *Error) masked() string {
	msg := e.Msg
	for _, v := range e.Quoted {
		if v == "" {
			continue
		}
		m := delivery.MaskPhone(v)
		if strings.Contains(v, "@") {
			m = delivery.MaskEmail(v)
		}
		msg = maskAlone(strings.ReplaceAll(msg, strconv.Quote(v), strconv.Quote(m)), v, m)
	}
	return msg
}

// maskAlone replaces with m each occurrence of v in msg that is not part of a longer run
// of letters, digits and '+': a value someone sent ("1", "555") is masked where the
// message says it, not inside the message's own words and examples ("E.164",
// "+15551230123"). A value shorter than the shortest phone number or address is masked
// only where %q quoted it: alone, it says nothing of a person.
func maskAlone(msg, v, m string) string {
	if len(v) < 6 {
		return msg
	}
	part := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c >= utf8.RuneSelf
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, v)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		j := i + len(v)
		b.WriteString(msg[:i])
		if (i == 0 || !part(msg[i-1])) && (j == len(msg) || !part(msg[j])) {
			b.WriteString(m)
		} else {
			b.WriteString(v)
		}
		msg = msg[j:]
	}
}

// quoting is e with values added to its Quoted.
func (e *Error) quoting(values ...string) *Error {
	e.Quoted = append(slices.Clip(e.Quoted), values...)
	return e
}

func invalid(code, field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func notFound(code, field, format string, args ...any) *Error {
	return &Error{Kind: NotFound, Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// CodeChanged is the conflict of a change made on a user that another change has changed
// since it was read (UserInput's IfRevision).
const CodeChanged = "user_changed"

func conflict(code, field, format string, args ...any) *Error {
	return &Error{Kind: Conflict, Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits on what a directory may hold for one user.
const (
	maxName       = 256
	maxText       = 256
	maxGroups     = 100
	maxAttributes = 50
	maxAttrValue  = 1024
)

// checkText refuses an empty (when required) or over-long value, invalid UTF-8, control
// characters, and spaces around it.
func checkText(field, v string, required bool, maxLen int) *Error {
	switch {
	case v == "" && required:
		return invalid("missing_field", field, "is required")
	case len(v) > maxLen:
		return invalid("invalid_field", field, "is longer than %d bytes", maxLen)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl):
		return invalid("invalid_field", field, "must be text without control characters")
	case strings.TrimSpace(v) != v:
		return invalid("invalid_field", field, "must not start or end with spaces")
	}
	return nil
}

// errorOf turns a store or engine error into a refusal when it is one the caller can act
// on, else returns it as is (a fault).
func errorOf(err error, what string) error {
	var le *Error
	switch {
	case err == nil, errors.As(err, &le):
		return err
	case errors.Is(err, store.ErrNotFound):
		return notFound("not_found", what, "%s not found", what)
	case errors.Is(err, store.ErrExists):
		return conflict("exists", "", "%s exists already", what)
	case errors.Is(err, store.ErrStale):
		return conflict(CodeChanged, "", "the %s changed since it was read; read it again and retry", what)
	case errors.Is(err, store.ErrAlike), errors.Is(err, store.ErrTooMany):
		// A factor created on the factors read (an import's), enrolled meanwhile.
		return conflict(CodeChanged, "", "the %s's factors changed since they were read; read them again and retry", what)
	}
	return err
}

// WithRequestID is ctx carrying id, the id of the request that asks for a change (the
// X-Request-ID the access log writes): every audit record the Manager writes under it
// carries it, so that the actor it names can be joined to the address the access log has.
// The key is provider's (provider.WithRequestID), so that the records the engines write
// under the same ctx carry it too.
func WithRequestID(ctx context.Context, id string) context.Context {
	return provider.WithRequestID(ctx, id)
}

// RequestID is the request id ctx carries ("" when none: the CLI, the sweeper), for a
// record written outside the Manager (directory sync's) and for an event queued to be
// applied later, whose records then carry the id of the request that queued it.
func RequestID(ctx context.Context) string {
	return provider.RequestID(ctx)
}

// audit appends a refusal or an action done outside ApplyUserChanges; the action stands
// whether or not its record could be written, but the loss is logged.
func (m *Manager) audit(ctx context.Context, actor Actor, action, user, factor, outcome, reason string) {
	m.appendApart(ctx, AdminEvent(m.now(), actor, action, user, factor, outcome, reason))
}

// appendApart appends ev on its own: the record of a refusal or of an action that stands
// whether or not it is written. A loss is logged. It is written even when the caller has
// gone away, yet bounded (provider.Detach): a store that stopped answering must not hold
// the goroutine and its connection forever.
func (m *Manager) appendApart(ctx context.Context, ev store.AuditEvent) {
	if ev.RequestID == "" {
		ev.RequestID = RequestID(ctx)
	}
	ctx, cancel := provider.Detach(ctx)
	defer cancel()
	if err := m.store.AppendAudit(ctx, ev); err != nil {
		if m.observer != nil {
			m.observer.StoreError("audit") // emfa_store_errors_total{operation="audit"}
		}
		m.log.Error("audit write", "action", ev.Resource, "err", err)
	}
}

// event is the audit record of an action applied with a UserChange.
func (m *Manager) event(ctx context.Context, actor Actor, action, user, factor, reason string) store.AuditEvent {
	return m.record(ctx, actor, action, user, factor, "SUCCESS", reason)
}

// record is AdminEvent now, with the request id ctx carries (WithRequestID).
func (m *Manager) record(ctx context.Context, actor Actor, action, user, factor, outcome, reason string) store.AuditEvent {
	return requested(ctx, AdminEvent(m.now(), actor, action, user, factor, outcome, reason))
}

// requested is ev with the request id ctx carries.
func requested(ctx context.Context, ev store.AuditEvent) store.AuditEvent {
	ev.RequestID = RequestID(ctx)
	return ev
}

// AdminEvent is the audit record of an administrative action (users.create,
// factors.delete...) by actor, whichever way it came: the admin API, a directory, the CLI.
// Its resource is "admin." and the action. The reason may quote text from outside (a mail
// relay's reply): it is written as the contract calls' records write theirs, a byte that
// is not UTF-8 escaped, which PostgreSQL's text refused, and the record with it. The user
// and factor of a refusal are what the caller named (an admin API path: a%00b, or 6 KB),
// escaped and cut as the contract's refusals write theirs: PostgreSQL refused such a row,
// and the audit's user index an entry of kilobytes. A name emfa could hold is unchanged.
func AdminEvent(now time.Time, actor Actor, action, user, factor, outcome, reason string) store.AuditEvent {
	return store.AuditEvent{Time: now, Resource: AdminResource(action),
		Username: provider.Printable(user, provider.MaxUsernameBytes), FactorID: provider.Printable(factor, provider.MaxFactorIDBytes),
		Outcome: outcome, Reason: provider.Printable(reason, math.MaxInt), Actor: string(actor)}
}

// refuse audits a refusal and returns it.
func (m *Manager) refuse(ctx context.Context, actor Actor, action, user, factor string, err error) error {
	var le *Error
	if errors.As(err, &le) {
		m.audit(ctx, actor, action, user, factor, "FAILED", le.Reason())
	}
	return err
}

// apply applies one change, mapping the store's refusals.
func (m *Manager) apply(ctx context.Context, c store.UserChange, what string) error {
	return errorOf(m.store.ApplyUserChanges(ctx, []store.UserChange{c})[0], what)
}

// timeOrNil is t for a JSON field that is absent while t is the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
