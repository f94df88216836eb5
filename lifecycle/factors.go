package lifecycle

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pquerna/otp"

	"github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/internal/qr"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// Factor states in the API. The store's pending is pending_activation.
const (
	FactorActive            = "active"
	FactorPendingActivation = "pending_activation"
	FactorDisabled          = "disabled"
)

// Activation values of an enrollment request.
const (
	// ActivationImmediate: active at once (Okta's activate=true): the admin vouches for
	// the factor (a hardware token's seed, a number already verified elsewhere).
	ActivationImmediate  = "immediate"
	ActivationPasscode   = builtin.ActivationPasscode
	ActivationOnFirstUse = builtin.ActivationOnFirstUse
	// ActivationDevice: a push factor, active once its device registers (its default and
	// only mode; what a pending push factor shows).
	ActivationDevice = "device"
)

// Factor is a factor as the admin API shows it: never a secret.
type Factor struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Label       string     `json:"label"`
	State       string     `json:"state"`
	Activation  string     `json:"activation,omitempty"`
	Destination string     `json:"deliveryAddress,omitempty"`
	Created     time.Time  `json:"created"`
	LastUsed    *time.Time `json:"lastUsed,omitempty"`
	Failures    int        `json:"failures"`
	LockedUntil *time.Time `json:"lockedUntil,omitempty"`
}

func (m *Manager) factorOf(f store.Factor, lastUsed time.Time) Factor {
	// The store keeps milliseconds: a new factor shows the time its listing will.
	out := Factor{ID: f.ID, Type: f.Type, Label: f.Label, State: FactorActive, Created: f.CreatedAt.Truncate(time.Millisecond), Failures: f.Failures,
		Activation: builtin.ActivationOf(&f)}
	switch f.State {
	case store.FactorPending:
		out.State = FactorPendingActivation
		if out.Activation == "" {
			out.Activation = ActivationDevice // push: waiting for its device to register
		}
	case store.FactorDisabled:
		out.State = FactorDisabled
	}
	out.Destination = destination(f)
	out.LastUsed = timeOrNil(lastUsed)
	if f.LockedUntil.After(m.now()) {
		t := f.LockedUntil
		out.LockedUntil = &t
	}
	return out
}

// destination is where a code factor's codes go, masked ("" for another type): all the
// admin API and the audit trail show of it.
func destination(f store.Factor) string {
	switch builtin.Destination(f.Type) {
	case "phone":
		return delivery.MaskPhone(f.Params["phone"])
	case "email":
		return delivery.MaskEmail(f.Params["email"])
	}
	return ""
}

// enrollNote is what an enrollment's record says of the factor: its type and state, how it
// becomes active (one pre-provisioned for its first use is offered to Verify at once, the
// way an insider would slip in a number of their own), and a code's destination, masked.
// Never a secret, a seed or a full address.
func enrollNote(f store.Factor) string {
	note := f.Type + " " + string(f.State)
	switch a := builtin.ActivationOf(&f); {
	case f.State == store.FactorActive:
		note += " at once (" + ActivationImmediate + ")"
	case a == ActivationOnFirstUse:
		note += ", activation " + a + " (offered to Verify at once)"
	case a != "":
		note += ", activation " + a
	case f.State == store.FactorPending:
		note += ", activation " + ActivationDevice
	}
	if d := destination(f); d != "" {
		note += ", to " + d
	}
	return note
}

// phoneCountryOf is the country tel, a phone number of user name's, is read as: the
// user's own, else the deployment's (that of a user there is not, who is refused later).
// A number written with + says its own, and the user is not read for it.
func (m *Manager) phoneCountryOf(ctx context.Context, name, tel string) (phoneRegion, error) {
	if phone.SaysCountry(tel) {
		return phoneCountry("", m.defaultCountry()), nil
	}
	r, err := m.store.GetUserRecord(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return phoneCountry("", m.defaultCountry()), nil
	case err != nil:
		return phoneRegion{}, err
	}
	return phoneCountry(r.Profile.Country, m.defaultCountry()), nil
}

// user loads a user by name, or a not_found refusal.
func (m *Manager) user(ctx context.Context, name string) (store.User, error) {
	u, err := m.store.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("not_found", "user", "no user %q", name)
	}
	return u, err
}

// factor loads a factor of the named user, or a not_found refusal (another user's factor
// is not found either).
func (m *Manager) factor(ctx context.Context, name, id string) (store.User, store.Factor, error) {
	u, err := m.user(ctx, name)
	if err != nil {
		return u, store.Factor{}, err
	}
	f, err := m.store.GetFactor(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.UserID != u.ID) {
		return u, store.Factor{}, notFound("not_found", "factor", "user %q has no factor %q", name, id)
	}
	return u, f, err
}

// ListFactors lists a user's factors, oldest first.
func (m *Manager) ListFactors(ctx context.Context, name string) ([]Factor, error) {
	u, err := m.user(ctx, name)
	if err != nil {
		return nil, err
	}
	fs, err := m.store.ListFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	used, err := m.store.LastUsed(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Factor, len(fs))
	for i, f := range fs {
		out[i] = m.factorOf(f, used[f.ID])
	}
	return out, nil
}

// GetFactor returns one factor of a user.
func (m *Manager) GetFactor(ctx context.Context, name, id string) (Factor, error) {
	_, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, err
	}
	used, err := m.store.LastUsed(ctx, []string{id})
	if err != nil {
		return Factor{}, err
	}
	return m.factorOf(f, used[id]), nil
}

// Enrollment is a request to enroll a factor: its type, label, activation, and the type's
// own parameters (the registry's Fields: phone, email, secret, digits, question...).
type Enrollment struct {
	Type       string                     `json:"type"`
	Label      string                     `json:"label"`
	Activation string                     `json:"activation"`
	Params     map[string]json.RawMessage `json:"params"`
	// link is the hash of the self-service link a push device is enrolled with, which its
	// registration spends (builtin.Enrollment.Link).
	link string
	// origin is where the enrollment was started (builtin.Enrollment.Origin).
	origin string
	// startedBy tags the self-service session that started it (builtin.Enrollment.StartedBy).
	startedBy string
}

// Enrolled is a new factor and what the person enrolling it needs, shown once: an
// otpauth URI and its QR code, an activation code and registration URI.
type Enrolled struct {
	Factor Factor         `json:"factor"`
	Output map[string]any `json:"enrollment"`
	// Warnings say what the factor still lacks to be of use (no provider offers its type
	// to Verify), so that an automation that pre-provisions it is not left guessing.
	Warnings []string `json:"warnings,omitempty"`
}

// unexposed is the warning for a factor of a type no builtin provider exposes: the API
// and an import may pre-provision it (before the organisation turns the type on), but
// Verify is offered nothing until a provider does. "" when one does.
func (m *Manager) unexposed(typ string) string {
	for _, e := range m.engines {
		if e.Exposes(typ) {
			return ""
		}
	}
	return fmt.Sprintf("no builtin provider exposes %s: Verify is not offered this factor until one does "+
		"(add %s to a builtin provider's capabilities)", typ, typ)
}

// engine is the builtin engine that enrolls typ: the first exposing it, else the first
// (a factor pre-provisioned before its type is turned on; see unexposed).
func (m *Manager) engine(typ string) (*builtin.Engine, error) {
	for _, e := range m.engines {
		if e.Exposes(typ) {
			return e, nil
		}
	}
	if len(m.engines) == 0 {
		return nil, conflict("no_builtin_provider", "type", "no builtin provider is configured")
	}
	return m.engines[0], nil
}

// values reads an enrollment's params as the type's fields declare them.
func values(typ string, params map[string]json.RawMessage) (url.Values, *Error) {
	fields, ok := builtin.FieldsOf(typ)
	if !ok {
		return nil, invalid("unknown_type", "type", "unknown factor type %q (want %s)", typ, strings.Join(builtin.Types(), ", "))
	}
	v := url.Values{}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		i := slices.IndexFunc(fields, func(f builtin.Field) bool { return f.Name == name })
		if i < 0 || name == "name" {
			return nil, invalid("unknown_field", "params."+name, "%s factors take no parameter %q", typ, name)
		}
		raw := params[name]
		switch fields[i].Kind {
		case builtin.FieldList:
			var list []string
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, invalid("invalid_field", "params."+name, "must be an array of strings")
			}
			v[name] = list
		case builtin.FieldInt:
			var n json.Number
			if err := json.Unmarshal(raw, &n); err != nil {
				return nil, invalid("invalid_field", "params."+name, "must be an integer")
			}
			if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				return nil, invalid("invalid_field", "params."+name, "must be an integer")
			}
			v.Set(name, n.String())
		default:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, invalid("invalid_field", "params."+name, "must be a string")
			}
			v.Set(name, s)
		}
	}
	for _, f := range fields {
		if f.Required && len(v[f.Name]) == 0 {
			return nil, invalid("missing_field", "params."+f.Name, "%s factors need %s", typ, f.Name)
		}
	}
	return v, nil
}

// activation is the engine's mode for an API enrollment: passcode by default where the
// type has one, so nothing is offered to Verify before its owner has proved it works.
func activation(typ, requested string) (string, *Error) {
	if builtin.ActivatedByDevice(typ) {
		// Active at once would offer Verify a push factor with no device to push to.
		if requested != "" && requested != ActivationDevice {
			return "", invalid("invalid_activation", "activation", "%s factors become active when their device registers: "+
				"leave activation out (or say %s), not %q", typ, ActivationDevice, requested)
		}
		return "", nil
	}
	modes := builtin.ActivationModes(typ)
	switch requested {
	case "":
		if slices.Contains(modes, ActivationPasscode) {
			return ActivationPasscode, nil
		}
		return "", nil
	case ActivationImmediate:
		return "", nil
	}
	if !slices.Contains(modes, requested) {
		return "", invalid("invalid_activation", "activation", "%s factors take activation %s", typ, strings.Join(append([]string{ActivationImmediate}, modes...), " or "))
	}
	return requested, nil
}

// EnrollFactor enrolls a factor for a user.
func (m *Manager) EnrollFactor(ctx context.Context, actor Actor, name string, in Enrollment) (Enrolled, error) {
	const action = ActionFactorsEnroll
	v, verr := values(in.Type, in.Params)
	if verr == nil {
		verr = checkLabel(in.Label, false)
	}
	// A phone number in the form a directory or a person writes it, stored in E.164.
	if p := v.Get("phone"); verr == nil && p != "" && builtin.Destination(in.Type) == "phone" {
		r, err := m.phoneCountryOf(ctx, name, p)
		if err != nil {
			return Enrolled{}, err
		}
		var n string
		if n, verr = readPhone("params.phone", p, r); verr == nil {
			v.Set("phone", n)
		}
	}
	mode, merr := activation(in.Type, in.Activation)
	if verr == nil {
		verr = merr
	}
	if verr != nil {
		return Enrolled{}, m.refuse(ctx, actor, action, name, "", verr)
	}
	if in.Label != "" {
		v.Set("name", in.Label)
	}
	if _, err := m.user(ctx, name); err != nil {
		return Enrolled{}, err
	}
	e, err := m.engine(in.Type)
	if err != nil {
		return Enrolled{}, m.refuse(ctx, actor, action, name, "", err)
	}
	// The record commits with the enrollment (builtin.Enrollment.Audit).
	enrolled, err := e.Enroll(ctx, builtin.Enrollment{Type: in.Type, User: name, Values: v, Activation: mode, Link: in.link, Origin: in.origin, StartedBy: in.startedBy,
		Audit: func(f store.Factor) store.AuditEvent {
			return m.event(ctx, actor, action, name, f.ID, enrollNote(f))
		}})
	if err != nil {
		return Enrolled{}, m.refuse(ctx, actor, action, name, "", enrollError(err, v.Get(builtin.Destination(in.Type))))
	}
	out := maps.Clone(enrolled.Output)
	if uri, ok := out["otpauthURI"].(string); ok {
		if qr, err := qrDataURI(uri); err == nil {
			out["qrCode"] = qr
		}
	} else if uri, ok := out["registrationURI"].(string); ok {
		if qr, err := qrPNG(uri); err == nil {
			out["qrCode"] = qr
		}
	}
	res := Enrolled{Factor: m.factorOf(enrolled.Factor, time.Time{}), Output: out}
	if w := m.unexposed(in.Type); w != "" {
		res.Warnings = []string{w}
	}
	return res, nil
}

// enrollError maps the engine's refusals; dest is the destination the enrollment names,
// which a refusal may quote back (Error.Quoted).
func enrollError(err error, dest string) error {
	err = engineRefusal(err)
	if le, ok := err.(*Error); ok && dest != "" {
		// A copy: the refusal may be a shared one (ErrLinkSpent).
		c := *le
		return c.quoting(dest)
	}
	return err
}

// engineRefusal maps the engine's refusals.
func engineRefusal(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, builtin.ErrInvalidDestination):
		field := "params.phone"
		if strings.Contains(msg, "e-mail") {
			field = "params.email"
			return invalid("invalid_email", field, "%s", msg)
		}
		return invalid("invalid_phone", field, "%s", msg)
	case errors.Is(err, builtin.ErrDuplicate):
		return conflict("factor_exists", "", "%s", msg)
	case errors.Is(err, builtin.ErrTooManyFactors):
		return conflict("too_many_factors", "", "%s", msg)
	case errors.Is(err, builtin.ErrNotSent):
		le := &Error{Kind: Refused, Code: "activation_not_sent", Msg: msg}
		if ns := (*builtin.NotSentError)(nil); errors.As(err, &ns) && ns.RetryAfter > 0 {
			le.RetryAfter = ns.RetryAfter
			// The reason names what held the code back (a send limit, the factor's
			// lockout): the wait is said of the next code, whichever it was.
			le.Msg += fmt.Sprintf(" (the next code can be sent in %s)", ns.RetryAfter.Round(time.Second))
		}
		return le
	case errors.Is(err, builtin.ErrLinkSpent):
		return ErrLinkSpent
	case errors.Is(err, builtin.ErrQuestionsDisabled):
		return conflict("type_disabled", "type", "%s", msg)
	case errors.Is(err, builtin.ErrInput), errors.Is(err, builtin.ErrUnknownType):
		return invalid("invalid_field", "params", "%s", msg)
	case errors.Is(err, store.ErrNotFound):
		return notFound("not_found", "user", "%s", msg)
	case errors.Is(err, store.ErrExists):
		return conflict("factor_exists", "", "%s", msg)
	}
	// Anything else is a fault, not the request's: the engine marks every input check
	// ErrInput (TestEnrollInputRefusals), and a guess from an error's words would turn a
	// fault such as builtin.ErrUnknownKey ("secret sealed with an unknown encryption key")
	// into a 400 the caller cannot mend.
	return err
}

// qrDataURI is the otpauth URI as a PNG QR code in a data URI, for an enrolment page:
// the key's URL as pquerna/otp writes it.
func qrDataURI(uri string) (string, error) {
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", err
	}
	return qrPNG(key.String())
}

// qrPNG is any text (a push registration URI) as a 256×256 PNG QR code in a data URI,
// at error correction M or higher where the same size allows, the mask chosen as
// ISO/IEC 18004 says (internal/qr), in ~0.15 ms: boombuler/barcode (pquerna/otp's
// Key.Image) took 3.5–5 ms, most of it in its mask penalties, which every TOTP and push
// enrollment through the admin API paid: 55 % of the server's CPU in a bulk provisioning.
func qrPNG(text string) (string, error) {
	code, err := qr.Encode([]byte(text), qr.M)
	if err != nil {
		return "", err
	}
	return pngDataURI(code, 256)
}

// pngDataURI draws code's modules size×size pixels (the largest whole number of pixels
// per module that leaves a quiet zone of four modules, centred on white) as a 1-bit
// greyscale PNG in a data URI. The PNG is written here: image/png asks the image for
// every pixel's colour index, which was 0.7 of the 1.2 ms an enrollment's code took;
// these rows are built a module at a time.
func pngDataURI(code *qr.Code, size int) (string, error) {
	n := code.Size()
	// Four light modules around the code: the quiet zone ISO/IEC 18004 requires, which
	// the page or console showing the image may not give it.
	factor := size / (n + 2*4)
	if factor <= 0 {
		return "", fmt.Errorf("a QR code of %d modules does not fit %d pixels", n, size)
	}
	off := (size - n*factor) / 2
	// Scanlines: a filter byte (0, none), then the pixels, most significant bit first,
	// 1 for white.
	stride := 1 + (size+7)/8
	raw := make([]byte, stride*size)
	for y := range size {
		row := raw[y*stride : (y+1)*stride]
		inside := y >= off && y < off+n*factor
		if inside && (y-off)%factor != 0 {
			copy(row, raw[(y-1)*stride:y*stride]) // the module row's first line again
			continue
		}
		for i := 1; i < stride; i++ {
			row[i] = 0xff
		}
		if !inside {
			continue
		}
		my := (y - off) / factor
		for mx := range n {
			if code.Dark(mx, my) {
				for x := off + mx*factor; x < off+(mx+1)*factor; x++ {
					row[1+x/8] &^= 0x80 >> (x % 8)
				}
			}
		}
	}
	var idat bytes.Buffer
	zw, _ := zlibWriters.Get().(*zlib.Writer)
	if zw == nil {
		zw, _ = zlib.NewWriterLevel(&idat, zlib.BestSpeed) // a valid level: no error
	} else {
		zw.Reset(&idat)
	}
	_, err := zw.Write(raw)
	if err == nil {
		err = zw.Close()
	}
	zlibWriters.Put(zw)
	if err != nil {
		return "", err
	}
	ihdr := make([]byte, 13) // width, height, bit depth 1, greyscale, then zeros
	binary.BigEndian.PutUint32(ihdr[0:], uint32(size))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(size))
	ihdr[8] = 1
	png := []byte("\x89PNG\r\n\x1a\n")
	png = pngChunk(png, "IHDR", ihdr)
	png = pngChunk(png, "IDAT", idat.Bytes())
	png = pngChunk(png, "IEND", nil)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// zlibWriters keep their compressors between images: a new one is ~1.4 MB of allocation.
var zlibWriters sync.Pool

// pngChunk appends a PNG chunk: its length, type, data and the CRC of type and data.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// ActivateFactor checks the first code of a factor pending a passcode and makes it
// active. A wrong code counts toward the factor's lockout.
func (m *Manager) ActivateFactor(ctx context.Context, actor Actor, name, id, passcode string) (Factor, error) {
	return m.activateFactor(ctx, actor, name, id, passcode, nil)
}

// activateFactor is ActivateFactor with also, the caller's writes, in the commit that
// activates the factor (builtin.Engine.ActivateWith); also's error is returned wrapped.
func (m *Manager) activateFactor(ctx context.Context, actor Actor, name, id, passcode string, also func(w store.Writer) error) (Factor, error) {
	const action = ActionFactorsActivate
	if passcode == "" {
		return Factor{}, m.refuse(ctx, actor, action, name, id, invalid("missing_field", "passcode", "is required"))
	}
	if strings.TrimSpace(passcode) != passcode {
		// Bad input, not a wrong code: refused before the engine, which counted it toward
		// the lockout and called the right code, pasted with a line end, wrong.
		return Factor{}, m.refuse(ctx, actor, action, name, id, invalid("invalid_field", "passcode", "must not start or end with spaces"))
	}
	u, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, err
	}
	e, err := m.engine(f.Type)
	if err != nil {
		return Factor{}, err
	}
	if builtin.ActivationOf(&f) != ActivationPasscode {
		return Factor{}, m.refuse(ctx, actor, action, name, id, conflict("not_pending", "", "factor %s waits for no passcode", id))
	}
	if u.Disabled {
		// No factor of a disabled user is activated, and its passcode is not checked (the
		// engine refuses it first): invalid_passcode had an operator look for a wrong code.
		return Factor{}, m.refuse(ctx, actor, action, name, id, conflict("not_active", "",
			"user %s is disabled: enable them first (the passcode was not checked; the code sent stays good)", name))
	}
	// The engine records the outcome with the activation, or with the failure it counts.
	// The reason (wrong code, locked) goes to the audit trail; the code itself nowhere.
	activated, err := e.ActivateWith(ctx, u, id, passcode, func(outcome, reason string) store.AuditEvent {
		return m.record(ctx, actor, action, name, id, outcome, reason)
	}, also)
	if errors.Is(err, builtin.ErrActivation) {
		return Factor{}, &Error{Kind: Refused, Code: "invalid_passcode", Field: "passcode", Msg: "the passcode is wrong, expired or already used, or the factor is locked"}
	}
	if err != nil {
		return Factor{}, errorOf(err, "factor")
	}
	return m.factorOf(activated, time.Time{}), nil
}

// ResendActivation sends a new activation code to a code factor pending a passcode.
func (m *Manager) ResendActivation(ctx context.Context, actor Actor, name, id string) (time.Time, error) {
	const action = ActionFactorsResend
	u, f, err := m.factor(ctx, name, id)
	if err != nil {
		return time.Time{}, err
	}
	if builtin.ActivationOf(&f) != ActivationPasscode || builtin.Destination(f.Type) == "" {
		return time.Time{}, m.refuse(ctx, actor, action, name, id, conflict("not_pending", "", "factor %s is not a code factor waiting for its passcode", id))
	}
	e, err := m.engine(f.Type)
	if err != nil {
		return time.Time{}, err
	}
	// The record commits with the new code's transaction.
	expires, err := e.ResendActivation(ctx, u, id, func(store.Factor) store.AuditEvent { return m.event(ctx, actor, action, name, id, "") })
	if err != nil {
		return time.Time{}, m.refuse(ctx, actor, action, name, id, enrollError(err, f.Params[builtin.Destination(f.Type)]))
	}
	return expires, nil
}

// checkLabel checks a factor's label, shown as deviceName at every sign-in, on the
// self-service page and to administrators: text (checkText) without the bidirectional
// controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), which reorder what is shown so
// that one factor's name reads as another's, as a device's own name is refused them
// (builtin.Devices.Register). Right-to-left scripts are text and stay.
func checkLabel(label string, required bool) *Error {
	if err := checkText("label", label, required, maxText); err != nil {
		return err
	}
	if strings.ContainsFunc(label, func(c rune) bool { return unicode.Is(unicode.Bidi_Control, c) }) {
		return invalid("invalid_field", "label", "must not hold bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)")
	}
	return nil
}

// RenameFactor changes a factor's label (its deviceName in enrollments).
func (m *Manager) RenameFactor(ctx context.Context, actor Actor, name, id, label string) (Factor, error) {
	if err := checkLabel(label, true); err != nil {
		return Factor{}, m.refuse(ctx, actor, ActionFactorsRename, name, id, err)
	}
	_, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, err
	}
	if f.Label == label {
		// Named so already: nothing written, no record of a change that did not happen.
		return m.GetFactor(ctx, name, id)
	}
	// The label alone: the params read here may be gone by the write (an activation, a
	// device registering), and written back they would undo it.
	c := store.UserChange{Name: name, Now: m.now(), UpdateFactors: []store.FactorUpdate{{ID: id, Label: label, LabelOnly: true}},
		Audit: []store.AuditEvent{m.event(ctx, actor, ActionFactorsRename, name, id, "")}}
	if err := m.apply(ctx, c, "factor"); err != nil {
		return Factor{}, err
	}
	f.Label = label
	return m.written(ctx, name, id, f)
}

// written answers a change to the factor id just committed and recorded, f as it wrote
// it: the factor as read now, or f when a change since (a delete, a reset) took it
// (answerWritten).
func (m *Manager) written(ctx context.Context, name, id string, f store.Factor) (Factor, error) {
	return answerWritten(func() (Factor, error) { return m.GetFactor(ctx, name, id) }, m.factorOf(f, time.Time{}))
}

// answerWritten answers a change just committed and recorded: read(), what it changed as
// read now, or was, what it wrote, when read finds it gone (not_found: a delete, a reset
// since, on another replica). Read again alone, the change was answered 404 while its
// SUCCESS stood in the audit trail, and its caller took it for a change never made.
func answerWritten[T any](read func() (T, error), was T) (T, error) {
	out, err := read()
	if le := (*Error)(nil); errors.As(err, &le) && le.Kind == NotFound {
		return was, nil
	}
	return out, err
}

// SetFactorState disables or enables a factor. A pending factor is enabled only by its
// own activation.
func (m *Manager) SetFactorState(ctx context.Context, actor Actor, name, id string, disabled bool) (Factor, error) {
	action, state := ActionFactorsEnable, store.FactorActive
	if disabled {
		action, state = ActionFactorsDisable, store.FactorDisabled
	}
	_, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, err
	}
	if f.State == store.FactorPending || !disabled && builtin.NeverActivated(&f) {
		return Factor{}, m.refuse(ctx, actor, action, name, id, conflict("not_active", "", "factor %s is pending its activation, which alone makes it active (delete it to withdraw it)", id))
	}
	if f.State == state {
		// In that state already: nothing written, no record of a change that did not
		// happen, as for a user's state (setUserState).
		return m.GetFactor(ctx, name, id)
	}
	c := store.UserChange{Name: name, Now: m.now(), StateChanges: []store.FactorStateChange{{ID: id, State: state}},
		Audit: []store.AuditEvent{m.event(ctx, actor, action, name, id, "")}}
	if err := m.apply(ctx, c, "factor"); err != nil {
		return Factor{}, err
	}
	f.State = state
	return m.written(ctx, name, id, f)
}

// UnlockFactor clears a factor's failures and lockout, and the self-service page's
// sign-in limit of the user's name (builtin.SignInLimits): a person locked out, whom a
// help desk unblocks, may then sign in to the page to set up a factor at once.
func (m *Manager) UnlockFactor(ctx context.Context, actor Actor, name, id string) (Factor, error) {
	_, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, err
	}
	// The unlock and its record in one commit.
	if err := m.store.Update(ctx, func(w store.Writer) error {
		if err := w.ResetFailures(ctx, id, m.now()); err != nil {
			return err
		}
		n, err := w.DeleteSends(ctx, builtin.SignInKey(name))
		if err != nil {
			return err
		}
		reason := ""
		if n > 0 {
			reason = "page sign-in limit cleared"
		}
		return w.AppendAudit(ctx, m.event(ctx, actor, ActionFactorsUnlock, name, id, reason))
	}); err != nil {
		return Factor{}, errorOf(err, "factor")
	}
	f.Failures, f.LockedUntil = 0, time.Time{}
	return m.written(ctx, name, id, f)
}

// ResyncFactor finds an HOTP token that has run ahead of the look-ahead window again,
// from two consecutive codes of it, in order (builtin.Engine.ResyncHOTP): the counter
// moves past them, and the factor's failures and lockout are cleared. It returns the
// factor and the token's next counter value. The resynchronisation commits with its
// record; a refusal is recorded FAILED. Neither names a code.
func (m *Manager) ResyncFactor(ctx context.Context, actor Actor, name, id string, codes []string) (Factor, int64, error) {
	const action = ActionFactorsResync
	_, f, err := m.factor(ctx, name, id)
	if err != nil {
		return Factor{}, 0, err
	}
	record := func(outcome, reason string) store.AuditEvent {
		ev := m.record(ctx, actor, action, name, id, outcome, reason)
		ev.Capability = f.Type
		return ev
	}
	refuse := func(le *Error) (Factor, int64, error) {
		m.appendApart(ctx, record("FAILED", le.Reason()))
		return Factor{}, 0, le
	}
	if len(codes) != 2 {
		return refuse(invalid("invalid_field", "codes", "must be two consecutive codes of the token, not %d", len(codes)))
	}
	if f.Type != builtin.TypeHOTP {
		return refuse(conflict("not_hotp", "", "factor %s is %s: only an hotp token is resynchronised", id, f.Type))
	}
	e, err := m.engine(builtin.TypeHOTP)
	if err != nil {
		return Factor{}, 0, err
	}
	next, err := e.ResyncHOTP(ctx, id, codes[0], codes[1], func() store.AuditEvent { return record("SUCCESS", "") })
	switch {
	case errors.Is(err, builtin.ErrNotSynchronised):
		return refuse(&Error{Kind: Refused, Code: "not_synchronised", Field: "codes", Msg: err.Error()})
	case errors.Is(err, builtin.ErrResyncDisabled):
		return refuse(conflict("not_active", "", "%s", err))
	case errors.Is(err, builtin.ErrInput):
		return refuse(invalid("invalid_field", "codes", "%s", strings.TrimPrefix(err.Error(), builtin.ErrInput.Error()+": ")))
	case err != nil:
		return Factor{}, 0, errorOf(err, "factor")
	}
	f.Failures, f.LockedUntil = 0, time.Time{}
	out, err := m.written(ctx, name, id, f)
	return out, next, err
}

// DeleteFactor deletes a factor.
func (m *Manager) DeleteFactor(ctx context.Context, actor Actor, name, id string) error {
	if _, _, err := m.factor(ctx, name, id); err != nil {
		return err
	}
	return m.deleteFactorAt(ctx, actor, name, id, nil)
}

// deleteFactorAt deletes a factor, with its record, on the condition (rev not nil) that
// the user is still at revision rev: CodeChanged when another change came between.
func (m *Manager) deleteFactorAt(ctx context.Context, actor Actor, name, id string, rev *int64) error {
	c := store.UserChange{Name: name, Now: m.now(), DeleteFactors: []string{id}, IfRevision: rev,
		Audit: []store.AuditEvent{m.event(ctx, actor, ActionFactorsDelete, name, id, "")}}
	return m.apply(ctx, c, "factor")
}

// Reset modes.
const (
	ResetDelete  = "delete"
	ResetDisable = "disable"
)

// ResetUser deletes (or disables) every factor of a user in one step, so the next
// sign-in starts enrollment afresh. It returns how many factors it changed.
func (m *Manager) ResetUser(ctx context.Context, actor Actor, name, mode string) (int, error) {
	return m.ResetUserBefore(ctx, actor, name, mode, time.Time{})
}

// ResetUserBefore is ResetUser of the factors enrolled before a reset a directory says
// happened at (the zero time: all of them). A reset delivered late, after the user
// enrolled again, leaves the new factor alone.
func (m *Manager) ResetUserBefore(ctx context.Context, actor Actor, name, mode string, at time.Time) (int, error) {
	if mode == "" {
		mode = ResetDelete
	}
	if mode != ResetDelete && mode != ResetDisable {
		return 0, m.refuse(ctx, actor, ActionUsersReset, name, "", invalid("invalid_parameter", "mode", "must be delete or disable, not %q", mode))
	}
	// The factors are read and reset on the condition that the user did not change
	// between (store.UserChange.IfRevision), and read again when it did: a factor deleted
	// meanwhile is not counted (nor recorded) as this reset's, and one enrolled meanwhile
	// is reset with the others rather than left after a reset of "every factor".
	for try := 1; ; try++ {
		n, err := m.resetOnce(ctx, actor, name, mode, at)
		var le *Error
		if !errors.As(err, &le) || le.Code != CodeChanged {
			return n, err
		}
		if try == editTries {
			return 0, m.refuse(ctx, actor, ActionUsersReset, name, "",
				conflict(CodeChanged, "", "user %q changed while this reset was made; retry", name))
		}
	}
}

// resetOnce is one try of ResetUserBefore: CodeChanged when the user changed between
// its read and its write.
func (m *Manager) resetOnce(ctx context.Context, actor Actor, name, mode string, at time.Time) (int, error) {
	r, err := m.store.GetUserRecord(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return 0, notFound("not_found", "user", "no user %q", name)
	}
	if err != nil {
		return 0, err
	}
	u := r.User
	fs, err := m.store.ListFactors(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	// The factors are no longer trusted: in the reset's commit, the self-service sessions
	// begun before it, or signed in with a factor it resets, end, and the activation link
	// issued before it is revoked with the sessions it opened (store.FactorReset). A late
	// reset leaves what the user did since, as it leaves the factors enrolled since.
	rev := r.Profile.Revision
	c := store.UserChange{Name: name, Now: m.now(), Reset: &store.FactorReset{At: at}, IfRevision: &rev, IfUser: u.ID}
	kept := 0
	for _, f := range fs {
		switch {
		case !at.IsZero() && !f.CreatedAt.Before(at):
			kept++
		case mode == ResetDelete:
			c.DeleteFactors = append(c.DeleteFactors, f.ID)
		case f.State == store.FactorPending:
			// A pending factor is deleted in either mode: it never proved itself, and
			// disabled it could not wait for its activation again. One activated since
			// it was read is disabled, as the other active ones.
			c.StateChanges = append(c.StateChanges, store.FactorStateChange{ID: f.ID, State: store.FactorDisabled, DeletePending: true})
		case f.State != store.FactorDisabled:
			c.StateChanges = append(c.StateChanges, store.FactorStateChange{ID: f.ID, State: store.FactorDisabled})
		}
	}
	n := len(c.DeleteFactors) + len(c.StateChanges)
	note := fmt.Sprintf("%s %d factor(s)", mode, n)
	if kept > 0 {
		note += fmt.Sprintf("; %d enrolled after the reset at %s kept", kept, at.UTC().Format(time.RFC3339))
	}
	c.Audit = []store.AuditEvent{m.event(ctx, actor, ActionUsersReset, name, "", note)}
	// An admin's reset is told to the vendors, under the name as the user has it, whatever
	// it changed in emfa (a vendor may hold devices emfa does not); a directory's is
	// propagated by the queue that applies it (its manager has no propagation).
	if err := m.propagate(ctx, actor, &c, provider.LifecycleEvent{Type: provider.EventUserMFAReset, Username: u.Name}); err != nil {
		return 0, err
	}
	return n, m.apply(ctx, c, "user")
}

// discardAhead is how far ahead of this replica's clock discardPending takes the clock of
// the one that created the factor it discards may run: far more than replicas' clocks
// ever differ, so that a replica behind does not leave the pending factor as it is.
const discardAhead = 24 * time.Hour

// discardPending deletes user's factor id if it is still pending its activation, with its
// record (reason), in one commit; a factor activated meanwhile, or gone, is left as it is.
func (m *Manager) discardPending(ctx context.Context, actor Actor, user, id, reason string) error {
	err := m.store.Update(ctx, func(w store.Writer) error {
		// ExpireFactor deletes only a pending factor created before the bound: any one,
		// here, even one another replica, its clock ahead of this one's, created "later".
		if err := w.ExpireFactor(ctx, id, m.now().Add(discardAhead)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, m.event(ctx, actor, ActionFactorsDelete, user, id, reason))
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// SweepPending deletes factors whose activation has waited longer than the activation
// lifetime (a seed never scanned, a code never typed, a device never registered). Factors
// pre-provisioned for first use wait as long as it takes: they are usable already.
func (m *Manager) SweepPending(ctx context.Context) (int, error) {
	const batch = 500
	before := m.now().Add(-m.lifetime)
	deleted, after := 0, ""
	for {
		fs, err := m.store.ListPendingFactors(ctx, before, after, batch)
		if err != nil {
			return deleted, err
		}
		for _, f := range fs {
			after = f.ID
			if builtin.ActivationOf(&f) == ActivationOnFirstUse {
				continue
			}
			// The record names the factor's user, for the user's trail (?user=), as its
			// enrollment's did; a user deleted since the list took its factors along.
			owner, err := m.store.GetUserByID(ctx, f.UserID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return deleted, err
			}
			// The delete and its record are one commit; a factor activated since it
			// was listed stays (ErrNotFound).
			err = m.store.Update(ctx, func(w store.Writer) error {
				if err := w.ExpireFactor(ctx, f.ID, before); err != nil {
					return err
				}
				return w.AppendAudit(ctx, m.event(ctx, "sweeper", ActionFactorsExpire, owner.Name, f.ID,
					fmt.Sprintf("%s pending since %s", f.Type, f.CreatedAt.UTC().Format(time.RFC3339))))
			})
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return deleted, err
			}
			deleted++
		}
		if len(fs) < batch {
			return deleted, nil
		}
	}
}
