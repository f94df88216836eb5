package builtin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// registry is every built-in factor type, by name, with a fresh value of its settings
// (holding their defaults). A new factor type is a file of its own and one line here:
// the CLI, the contract, the admin API (and its OpenAPI document), recordings and, if the
// type says how (pageEnrolled), the self-service page take it from here.
var registry = map[string]func() Settings{
	TypeTOTP:      newTOTPSettings,
	TypeHOTP:      newHOTPSettings,
	TypeSMSOTP:    newSMSOTPSettings,
	TypeEmailOTP:  newEmailOTPSettings,
	TypeVoiceCall: newVoiceCallSettings,
	TypePush:      newPushSettings,
	TypeQuestion:  newQuestionSettings,
}

// Types lists the factor types the engine knows, sorted: the capabilities a builtin
// provider may expose.
func Types() []string { return slices.Sorted(maps.Keys(registry)) }

// Settings are one factor type's section of a provider's builtin configuration, the way
// Dex's connector configs are: decoded from the section's raw data into the type's own
// struct (mapstructure tags), then Check applies what defaults decoding cannot and
// reports every problem at its path, and Open builds the factor for an engine.
type Settings interface {
	Check(c *Checker)
	Open(e *Engine) Factor
}

// Factor is one built-in factor type at work, privacyIDEA's token class in Go: it enrolls
// and answers each step of the contract. The Engine has already checked the factor
// against the request (it exists, belongs to this enabled user, serves this capability,
// is active and not locked).
type Factor interface {
	// Flow is announced in the type's enrollments (attributes.authExecutionFlow).
	Flow() provider.Flow
	// Fields are what an enrollment takes: the flags of `emfa factors add TYPE`, the keys
	// of an admin API's request.
	Fields() []Field
	// Enroll creates a factor of the type for u, who has existing factors.
	Enroll(ctx context.Context, u store.User, existing []store.Factor, in Enrollment) (Enrolled, error)
	// Attributes are what enrollments shows besides authExecutionFlow and deviceName (a
	// masked deliveryAddress, say); nil for none.
	Attributes(f *store.Factor) map[string]any
	Initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
	// Validate only reads and checks until the unit of writes that decides (provider.Decide):
	// its idempotent calls claim their record in that unit (Engine.DecidesInOneUnit).
	Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
	Result(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error)
	// Recorded is what a transcript needs to enroll f again, as enrollment values, its
	// secrets replaced by Redacted.
	Recorded(f *store.Factor) url.Values
}

// A Factor's Validate need not clear the factor's failures on a success: the engine does
// it for every validate-flow type (Engine.run), and the challenge of an init_then_validate
// type does it in its deciding unit (answerChallenge).

// offered is implemented by factors that may be switched off: an engine does not list or
// answer for them (it still enrolls them, or explains why not).
type offered interface{ offered() bool }

// pageEnrolled is implemented by factor types a user may enroll on the self-service page
// (selfService.capabilities): a type without it is refused there (CheckSelfService).
type pageEnrolled interface{ pageEnrollment() PageEnrollment }

// replayed is implemented by factor types whose successful validation a recording can
// replay: the passvalue replay sends in place of the redacted one that succeeded on f.
type replayed interface{ replayInput(f *store.Factor) string }

// refusedReplayed is implemented by factor types that can tell a refused code that was
// right when it came (at) from a wrong one, given the factor's seed: what replay sends in
// its place (ReplayInputOfRefused), or "".
type refusedReplayed interface {
	refusedInput(f *store.Factor, seed []byte, code string, at time.Time) string
}

// How a factor enrolled on the self-service page becomes active (PageEnrollment.Activation).
const (
	// PageByCode: pending until the user types its first code on the page (the code of
	// the seed shown, or one sent to the destination given): the type must take
	// ActivationPasscode.
	PageByCode = ActivationPasscode
	// PageByDevice: pending until the device registers (push).
	PageByDevice = "device"
	// PageAtOnce: active at once; the page shows the enrollment's Output[Shown] once.
	PageAtOnce = "immediate"
)

// PageEnrollment is how the self-service page enrolls a factor type.
type PageEnrollment struct {
	// Choice is the page's words for the type among the choices: "A code by e-mail".
	Choice string
	// Label is the enrolled factor's label: "E-mail".
	Label string
	// Destination is the enrollment field the page asks the user for: "phone" or
	// "email" (a phone number or an e-mail address); "" for none.
	Destination string
	// Activation is PageByCode, PageByDevice or PageAtOnce.
	Activation string
	// Shown is the key of the enrollment's Output a PageAtOnce type shows once (its
	// code, say); "" to show nothing.
	Shown string
}

// PageEnrollmentOf is how the self-service page enrolls typ; false for a type it cannot
// enroll (unknown, or without pageEnrolled).
func PageEnrollmentOf(typ string) (PageEnrollment, bool) {
	settings, ok := registry[typ]
	if !ok {
		return PageEnrollment{}, false
	}
	p, ok := settings().Open(&Engine{}).(pageEnrolled)
	if !ok {
		return PageEnrollment{}, false
	}
	return p.pageEnrollment(), true
}

// PageTypes lists the factor types the self-service page can enroll, sorted.
func PageTypes() []string {
	var out []string
	for _, typ := range Types() {
		if _, ok := PageEnrollmentOf(typ); ok {
			out = append(out, typ)
		}
	}
	return out
}

// CheckSelfService reports each of caps (selfService.capabilities) the page cannot enroll,
// at its path, naming the types it can (not the value: a misplaced secret stays out of
// the message, as config's own do).
func CheckSelfService(caps []string) error {
	var errs config.Errors
	for i, c := range caps {
		if _, ok := PageEnrollmentOf(c); !ok {
			errs = append(errs, &config.FieldError{Path: fmt.Sprintf("selfService.capabilities[%d]", i),
				Msg: fmt.Sprintf("cannot be enrolled on the self-service page (it can enroll %s)", strings.Join(PageTypes(), ", "))})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// pageSignedIn is implemented by factor types a user may sign in with on the self-service
// page (SignInMethods): a type without it is not offered there.
type pageSignedIn interface{ pageSignIn() PageSignIn }

// How a sign-in on the self-service page proves its user (PageSignIn.By).
const (
	// SignInByCode: the user types a code they have (an authenticator app's); nothing is
	// started first.
	SignInByCode = "code"
	// SignInBySentCode: starting sends a code (the type's Initiate), which the user types.
	SignInBySentCode = "sent"
	// SignInByApproval: starting asks the user's device (Initiate), and the page polls the
	// type's Result until it is approved, denied or times out (push).
	SignInByApproval = "approval"
)

// PageSignIn is how a user signs in on the self-service page with a factor type.
type PageSignIn struct {
	// Method is the sign-in's name on the page (its form's value): the type's own name, or
	// one that several types share and that tries each of them ("app": totp and hotp).
	Method string
	// Choice is the page's words for it among the sign-in methods: "A code sent by e-mail".
	Choice string
	// Prompt is the page's words asking for the code; unused by SignInByApproval.
	Prompt string
	// By is SignInByCode, SignInBySentCode or SignInByApproval.
	By string
}

// SignInMethod is one sign-in method of the self-service page and the factor types it
// tries, sorted.
type SignInMethod struct {
	PageSignIn
	Types []string
}

// SignInMethods lists the self-service page's sign-in methods, as the types say
// (pageSignIn): those whose code the user has first, then those that send one, then
// approvals; by name within each. Types sharing a method share its words (the first
// type's, by name).
func SignInMethods() []SignInMethod {
	var out []SignInMethod
	for _, typ := range Types() {
		p, ok := registry[typ]().Open(&Engine{}).(pageSignedIn)
		if !ok {
			continue
		}
		in := p.pageSignIn()
		in.Method = cmp.Or(in.Method, typ)
		if i := slices.IndexFunc(out, func(m SignInMethod) bool { return m.Method == in.Method }); i >= 0 {
			out[i].Types = append(out[i].Types, typ)
			continue
		}
		out = append(out, SignInMethod{PageSignIn: in, Types: []string{typ}})
	}
	rank := map[string]int{SignInByCode: 0, SignInBySentCode: 1, SignInByApproval: 2}
	slices.SortStableFunc(out, func(a, b SignInMethod) int {
		return cmp.Or(cmp.Compare(rank[a.By], rank[b.By]), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// SignInMethodOf is the page's sign-in method named method; false for none.
func SignInMethodOf(method string) (SignInMethod, bool) {
	methods := SignInMethods()
	i := slices.IndexFunc(methods, func(m SignInMethod) bool { return m.Method == method })
	if i < 0 {
		return SignInMethod{}, false
	}
	return methods[i], true
}

// ReplayInput is what a transcript's replay sends in place of a redacted passvalue that
// succeeded on f, as its type says (${totp(…)}, ${sent(…)}, a stand-in); "" when the type
// cannot say (the recording keeps <redacted>).
func ReplayInput(f *store.Factor) string {
	settings, ok := registry[f.Type]
	if !ok {
		return ""
	}
	r, ok := settings().Open(&Engine{}).(replayed)
	if !ok {
		return ""
	}
	return r.replayInput(f)
}

// ReplayInputOfRefused is what replay sends in place of a redacted passvalue that was
// refused on f although it was a right code when it came (at, the call's time): a code
// used already, or sent to a locked factor. Replayed as that same code, the refusal still
// means something: a replay against an emfa that accepts it fails. "" for any other
// passvalue (a wrong code stays <redacted>, refused on replay too), for a type that cannot
// say (refusedReplayed), or when the seed cannot be opened.
func ReplayInputOfRefused(keys *Keyring, f *store.Factor, code string, at time.Time) string {
	settings, ok := registry[f.Type]
	if !ok || keys == nil || code == "" || !allDigits(code) {
		return ""
	}
	r, ok := settings().Open(&Engine{}).(refusedReplayed)
	if !ok {
		return ""
	}
	seed, err := keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		return ""
	}
	return r.refusedInput(f, seed, code, at)
}

// FieldKind is how an enrollment field's value reads.
type FieldKind int

const (
	FieldString FieldKind = iota
	FieldInt              // a decimal integer
	FieldList             // repeatable: each occurrence adds a value
)

// Field is one input of an enrollment.
type Field struct {
	Name  string // "phone": the flag --phone, the key "phone"
	Meta  string // what a usage line calls the value ("E164"); default the name in capitals
	Usage string
	Kind  FieldKind
	// Required fields must be given; the CLI says so before opening anything.
	Required bool
	// Secret fields are never recorded; a replay of a recording enrolls StandIn instead,
	// or nothing ("": a seed is generated afresh).
	Secret  bool
	StandIn string
}

// Redacted stands for a secret a recording does not keep.
const Redacted = "<redacted>"

// Enrollment is a request to enroll one factor, as the CLI, an admin API or a
// self-service page makes it.
type Enrollment struct {
	Type string
	User string
	// ID keeps a given factor id (a replayed recording's); "" for a new random one.
	ID     string
	Values url.Values // by Field name
	// Activation is how the factor becomes usable (activation.go): "" active at once,
	// ActivationPasscode or ActivationOnFirstUse (see ActivationModes).
	Activation string
	// Audit, when set, is the enrollment's audit record for the factor as enrolled. It is
	// written in the commit that completes the enrollment, so that there is never a factor
	// without its record nor a record without its factor: the factor's own, or, for a
	// code factor activated by passcode, the one that keeps the code sent (createFactor).
	Audit func(f store.Factor) store.AuditEvent
	// Link, when set, is the hash of the self-service link this enrollment was made with:
	// what completes the enrollment (a push device's registration; the creation of a
	// factor active at once) spends it in its commit, and is refused if it was spent or
	// replaced meanwhile.
	Link string
	// Origin, when set, says where the enrollment was started (OriginSelfService): the
	// factor keeps it (OriginOf), so that the self-service page can tell the pending
	// factors it started from those an admin did.
	Origin string
	// StartedBy, when set, is an opaque tag of the self-service session that started the
	// enrollment: the factor keeps it (StartedBy), so that the same set-up posted again to
	// another replica, before the first saved its session, finds the first's factor.
	StartedBy string
}

// OriginSelfService is the Origin of an enrollment started on the self-service page.
const OriginSelfService = "self-service"

// paramOrigin keeps a factor's Enrollment.Origin.
const paramOrigin = "origin"

// OriginOf is where f's enrollment was started: its Enrollment.Origin, "" when unsaid.
func OriginOf(f *store.Factor) string { return f.Params[paramOrigin] }

// paramStartedBy keeps a factor's Enrollment.StartedBy.
const paramStartedBy = "startedBy"

// StartedBy is the tag of the session that started f's enrollment (Enrollment.StartedBy).
func StartedBy(f *store.Factor) string { return f.Params[paramStartedBy] }

// Enrolled is a new factor and what its owner is shown once: a seed, an activation code.
type Enrolled struct {
	Factor store.Factor
	Output map[string]any
}

// ErrInput is an enrollment's input that cannot be right whatever the user's factors: a
// missing or malformed value (the CLI answers it as a usage error).
var ErrInput = errors.New("invalid input")

// ErrTooManyFactors refuses an enrollment beyond maxFactorsPerUser.
var ErrTooManyFactors = errors.New("too many factors")

// ErrLinkSpent refuses an enrollment whose self-service link (Enrollment.Link) was spent
// or replaced meanwhile.
var ErrLinkSpent = errors.New("the self-service link was spent or replaced")

// ErrUnknownType is a factor type the engine does not know.
var ErrUnknownType = errors.New("unknown factor type")

// Enroll creates a factor for an existing user: the one path every enrollment takes, so
// the rules for every type (the user exists, maxFactorsPerUser) are checked once.
func (e *Engine) Enroll(ctx context.Context, in Enrollment) (Enrolled, error) {
	f, ok := e.factors[in.Type]
	if !ok {
		return Enrolled{}, fmt.Errorf("%w %q (want %s)", ErrUnknownType, in.Type, strings.Join(Types(), ", "))
	}
	if err := checkActivation(in); err != nil {
		return Enrolled{}, err
	}
	u, err := e.store.GetUser(ctx, in.User)
	if err != nil {
		return Enrolled{}, fmt.Errorf("user %q: %w", in.User, err)
	}
	existing, err := e.store.ListFactors(ctx, u.ID)
	if err != nil {
		return Enrolled{}, err
	}
	if len(existing) >= e.maxFactors {
		return Enrolled{}, fmt.Errorf("%w: %s already has %d factors, the most builtin.maxFactorsPerUser allows; delete one first",
			ErrTooManyFactors, u.Name, len(existing))
	}
	enrolled, err := f.Enroll(ctx, u, existing, in)
	if err != nil {
		return Enrolled{}, err
	}
	return e.afterEnroll(ctx, u, in, enrolled)
}

// createFactor stores an enrollment's new factor in one unit with more (its other writes,
// if any) and the enrollment's audit record (in.Audit), unless a code is still to be sent
// to activate it: then the record goes with the send's own commit (sendActivation).
func (e *Engine) createFactor(ctx context.Context, in Enrollment, f store.Factor, more func(w store.Writer) error) error {
	return e.store.Update(ctx, func(w store.Writer) error {
		// maxFactorsPerUser again, where the factor is written: Enroll's count was read
		// before, and another enrollment of the user may have committed since.
		// The same for a type's rule against a factor alike (aliker), checked by its Enroll
		// on the factors read before.
		most, alike := e.CreateBound(f.Type)
		if err := w.CreateFactorWithin(ctx, f, most, alike); errors.Is(err, store.ErrTooMany) {
			return fmt.Errorf("%w: %s already has the %d factors builtin.maxFactorsPerUser allows; delete one first",
				ErrTooManyFactors, in.User, e.maxFactors)
		} else if errors.Is(err, store.ErrAlike) {
			return fmt.Errorf("%w: %s already has a %s factor like this one, enrolled meanwhile", ErrDuplicate, in.User, f.Type)
		} else if err != nil {
			return err
		}
		if in.Link != "" && f.State == store.FactorActive {
			// Active at once, the enrollment is complete: it spends the self-service link
			// it was made with, in its commit (a push device's registration spends it later).
			if err := w.SpendLink(ctx, in.Link, e.now()); errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				return ErrLinkSpent
			} else if err != nil {
				return err
			}
		}
		if more != nil {
			if err := more(w); err != nil {
				return err
			}
		}
		if in.Audit == nil || e.activatesBySend(in) {
			return nil
		}
		return w.AppendAudit(ctx, in.Audit(f))
	})
}

// aliker is a factor type that allows a user no two factors alike (store.Alike).
type aliker interface{ alike() store.Alike }

// CreateBound is what the store holds where a factor of typ is written
// (store.Writer.CreateFactorWithin): maxFactorsPerUser, and the type's rule against a
// factor alike. A factor written outside Enroll (an import's pre-provisioned one) holds
// it too.
func (e *Engine) CreateBound(typ string) (most int, alike store.Alike) {
	if k, ok := e.factors[typ].(aliker); ok {
		alike = k.alike()
	}
	return e.maxFactors, alike
}

// FieldsOf are the enrollment fields of a factor type, known before any configuration is
// read (a command declares them as its flags): they do not depend on settings.
func FieldsOf(typ string) ([]Field, bool) {
	settings, ok := registry[typ]
	if !ok {
		return nil, false
	}
	return settings().Open(&Engine{}).Fields(), true
}

// Recorded is what a transcript needs to enroll f again, as enrollment values, secrets
// redacted; false for a type the engine does not know. Like FieldsOf it needs no
// settings.
func Recorded(f *store.Factor) (url.Values, bool) {
	settings, ok := registry[f.Type]
	if !ok {
		return nil, false
	}
	return settings().Open(&Engine{}).Recorded(f), true
}

// newFactor is what every enrollment stores before its type adds its own: a factor of
// the user, active or pending its activation, with the requested id or a new one.
func (e *Engine) newFactor(u store.User, typ, label string, in Enrollment) store.Factor {
	now := e.now()
	f := store.Factor{
		ID: cmp.Or(in.ID, NewID()), UserID: u.ID, Type: typ, Label: label, State: store.FactorActive,
		Params: map[string]string{}, Counter: -1, CreatedAt: now, UpdatedAt: now,
	}
	if in.Origin != "" {
		f.Params[paramOrigin] = in.Origin
	}
	if in.StartedBy != "" {
		f.Params[paramStartedBy] = in.StartedBy
	}
	pend(&f, in)
	return f
}

// validateOnly is embedded by factors whose flow is validate: they start no challenge.
type validateOnly struct{}

func (validateOnly) Flow() provider.Flow                     { return provider.FlowValidate }
func (validateOnly) Attributes(*store.Factor) map[string]any { return nil }
func (validateOnly) Initiate(_ context.Context, f *store.Factor, _ provider.Request) (provider.Outcome, error) {
	return provider.Failed(fmt.Sprintf("%s has no initiate step (flow validate)", f.Type)), nil
}
func (validateOnly) Result(_ context.Context, f *store.Factor, _ provider.Request) (provider.Outcome, error) {
	return provider.Failed(fmt.Sprintf("%s has no result step (flow validate)", f.Type)), nil
}

// Checker is what a factor type's Check works with: where its section is, whether its
// provider exposes the type, the senders, and where problems and warnings go.
type Checker struct {
	at string // "providers[0].builtin.smsotp"
	// Exposed is set when the provider exposes the type: it must then be able to serve.
	Exposed  bool
	senders  Senders
	errs     *config.Errors
	warnings *[]string
	// pendingLifetime is Options.PendingLifetime.
	pendingLifetime time.Duration
}

// Errorf reports a problem with the key of the section.
func (c *Checker) Errorf(key, format string, args ...any) {
	*c.errs = append(*c.errs, &config.FieldError{Path: joinPath(c.at, key), Msg: fmt.Sprintf(format, args...)})
}

// Warnf reports a finding that does not stop emfa.
func (c *Checker) Warnf(key, format string, args ...any) {
	*c.warnings = append(*c.warnings, joinPath(c.at, key)+": "+fmt.Sprintf(format, args...))
}

// Sender finds the sender a factor names at key, for channel; a type its provider exposes
// needs one. nil when none is named or it cannot serve (reported).
func (c *Checker) Sender(key, name string, channel delivery.Channel, typ string) delivery.Sender {
	if name == "" {
		if c.Exposed {
			c.Errorf(key, "%s needs a sender (a name under delivery)", typ)
		}
		return nil
	}
	if c.senders == nil {
		c.Errorf(key, "no such sender under delivery")
		return nil
	}
	s, err := c.senders(name)
	switch {
	case err != nil:
		c.Errorf(key, "%v", err)
		return nil
	case s == nil:
		c.Errorf(key, "no such sender under delivery")
		return nil
	case !s.Serves(channel):
		c.Errorf(key, "a %s sender cannot deliver %s", s.Kind(), typ)
		return nil
	case s.Kind() == "log" && c.Exposed:
		c.Warnf(key, "a log sender: codes are written to the log, for development only")
	}
	return s
}

// Senders finds a sender under delivery by name (built once, shared by providers).
type Senders func(name string) (delivery.Sender, error)

func joinPath(at, key string) string {
	if key == "" {
		return at
	}
	return at + "." + key
}

// decode reads raw (a section as configuration loading left it) into out, reporting each
// unknown key, each malformed value and each duration without a unit at its path, the
// way config reports its own (config.Annotate adds the lines).
func decode(raw any, out any, at string, errs *config.Errors) {
	*errs = append(*errs, config.Decode(raw, out, at)...)
}
