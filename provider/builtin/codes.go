package builtin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	phonenum "github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// codeSettings are what every factor that sends a one-time code shares (smsotp.go,
// emailotp.go, voicecall.go embed them).
type codeSettings struct {
	// Sender is a name under delivery; its sender delivers the codes.
	Sender string `mapstructure:"sender"`
	// Length is the number of digits, 6 to 10.
	Length int `mapstructure:"length"`
	// Lifetime of a code: past it validate answers TIMEOUT.
	Lifetime time.Duration `mapstructure:"lifetime"`
	// MaxAttempts is the number of codes tried per transaction.
	MaxAttempts int `mapstructure:"maxAttempts"`
	// Template is the message, with {{code}}, {{user}} and {{minutes}}.
	Template string `mapstructure:"template"`

	sender   delivery.Sender
	template *delivery.Template
}

func defaultCodeSettings(template string) codeSettings {
	return codeSettings{Length: 6, Lifetime: 5 * time.Minute, MaxAttempts: 3, Template: template}
}

// check finds the sender and compiles the template.
func (s *codeSettings) check(c *Checker, channel delivery.Channel, typ string) {
	s.sender = c.Sender("sender", s.Sender, channel, typ)
	if s.Length < 6 || s.Length > 10 {
		c.Errorf("length", "must be between 6 and 10 digits, not %d", s.Length)
	}
	if s.Lifetime < 30*time.Second || s.Lifetime > time.Hour {
		c.Errorf("lifetime", "must be between 30s and 1h, not %s", s.Lifetime)
	}
	if s.MaxAttempts < 1 || s.MaxAttempts > 10 {
		c.Errorf("maxAttempts", "must be between 1 and 10, not %d", s.MaxAttempts)
	}
	t, err := delivery.ParseTemplate(s.Template)
	switch {
	case err != nil:
		c.Errorf("template", "%v", err)
	case !strings.Contains(t.Render(map[string]string{delivery.VarCode: "\x00"}), "\x00"):
		c.Errorf("template", "must contain {{code}}")
	}
	s.template = t
}

// minutes is the lifetime as the message states it, rounded up.
func (s *codeSettings) minutes() string {
	return strconv.FormatInt(int64((s.Lifetime+time.Minute-1)/time.Minute), 10)
}

// destination is where a code factor sends: a phone number or a mailbox.
type destination struct {
	param string // Params key and enrollment field: the destination is not a secret, and it is needed to send
	meta  string // E164, ADDRESS
	usage string
	label string // default label
	// normalize checks an enrolled destination and returns the one form stored.
	normalize func(string) (string, error)
	mask      func(string) string
	// key is the form in which two stored destinations that reach the same phone or
	// mailbox are equal: the send limits count under it, and a user has one factor of a
	// type per key.
	key func(string) string
}

// destinationOf is the destination of code factor type typ; false for other types.
func destinationOf(typ string) (destination, bool) {
	settings, ok := registry[typ]
	if !ok {
		return destination{}, false
	}
	k, ok := settings().Open(&Engine{}).(*codeFactor)
	if !ok {
		return destination{}, false
	}
	return k.to, true
}

// NormalizeDestination checks dest as an enrollment of code factor type typ checks its
// phone number or mailbox, and returns the form stored: what an import that re-points a
// pre-provisioned factor writes. An error wraps ErrInvalidDestination, or ErrInput for a
// type that sends no code.
func NormalizeDestination(typ, dest string) (string, error) {
	to, ok := destinationOf(typ)
	if !ok {
		return "", fmt.Errorf("%w: %q sends no code", ErrInput, typ)
	}
	return to.normalize(dest)
}

// SameDestination reports whether two stored destinations of code factor type typ reach
// the one phone or mailbox (a domain's spellings, letter case): a user has one factor of
// the type for it. False for a type that sends no code.
func SameDestination(typ, a, b string) bool {
	to, ok := destinationOf(typ)
	return ok && to.key(a) == to.key(b)
}

// phone is the destination of SMS and voice-call codes.
func phone(label string) destination {
	return destination{
		param: "phone", meta: "E164", usage: "the phone number, E.164 (+15551230123)", label: label, mask: delivery.MaskPhone,
		// E.164 is one form already.
		key: func(s string) string { return s },
		normalize: func(s string) (string, error) {
			if !delivery.ValidE164(s) {
				return "", fmt.Errorf("%w: phone %q is not an E.164 number (+ and 7 to 15 digits, e.g. +15551230123)", ErrInvalidDestination, s)
			}
			// Of a country: an assigned calling code and a length its numbers have.
			n, err := phonenum.Parse(s, "")
			if err != nil {
				return "", fmt.Errorf("%w: phone %q %v", ErrInvalidDestination, s, err)
			}
			return n, nil
		},
	}
}

// codeFactor sends a one-time code to the factor's destination at initiate, and checks it
// at validate.
//
// The code is never stored, even encrypted: the transaction keeps HMAC-SHA256(k, code)
// under a random 256-bit k of its own, and k sealed with the keyring (AES-GCM, the
// transaction's id as associated data). Why a key per transaction rather than one derived
// for the engine: it needs no key material beyond the keyring, so a key rotation and
// several replicas just work (the sealed k names its keyring key, and old keys still
// open); a copy of the database alone is no guessing oracle (six digits are guessed
// offline in no time from an unkeyed or known-key hash); and the seal is bound to its
// transaction, so a secret copied onto another transaction does not open.
type codeFactor struct {
	e       *Engine
	typ     string
	channel delivery.Channel
	s       *codeSettings
	to      destination
	// subject of an e-mail; "" for other channels.
	subject string
	// say is how the message gives the code; nil: as it is.
	say func(code string) string
	// choice and label are the self-service page's words for the type (PageEnrollment).
	choice, label string
}

func (k *codeFactor) pageEnrollment() PageEnrollment {
	return PageEnrollment{Choice: k.choice, Label: k.label, Destination: k.to.param, Activation: PageByCode}
}

// replayInput is the code replay's sender delivered to the factor's destination.
func (k *codeFactor) replayInput(f *store.Factor) string {
	return "${sent(" + f.Params[k.to.param] + ")}"
}

func (k *codeFactor) Flow() provider.Flow { return provider.FlowInitThenValidate }

func (k *codeFactor) Attributes(f *store.Factor) map[string]any {
	return map[string]any{"deliveryAddress": k.to.mask(f.Params[k.to.param])}
}

func (k *codeFactor) Fields() []Field {
	return []Field{
		{Name: k.to.param, Meta: k.to.meta, Usage: k.to.usage, Required: true},
		{Name: "name", Meta: "LABEL", Usage: "label shown to the user (default " + k.to.label + ")"},
	}
}

func (k *codeFactor) Recorded(f *store.Factor) url.Values {
	return url.Values{k.to.param: {f.Params[k.to.param]}}
}

// Enroll creates a factor sending to the destination given, once per user.
func (k *codeFactor) Enroll(ctx context.Context, u store.User, existing []store.Factor, in Enrollment) (Enrolled, error) {
	f, out, err := k.build(u, existing, in)
	if err != nil {
		return Enrolled{}, err
	}
	if err := k.e.createFactor(ctx, in, f, nil); err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Factor: f, Output: out}, nil
}

// alike: a user has one factor of a type per destination.
func (k *codeFactor) alike() store.Alike { return store.Alike{Type: true, Param: k.to.param} }

// build checks an enrollment and makes its factor, without storing it.
func (k *codeFactor) build(u store.User, existing []store.Factor, in Enrollment) (store.Factor, map[string]any, error) {
	to, err := k.to.normalize(in.Values.Get(k.to.param))
	if err != nil {
		return store.Factor{}, nil, err
	}
	for _, f := range existing {
		if f.Type == k.typ && k.to.key(f.Params[k.to.param]) == k.to.key(to) {
			return store.Factor{}, nil, fmt.Errorf("%w: %s already has %s factor %s for %s", ErrDuplicate, u.Name, k.typ, f.ID, k.to.mask(to))
		}
	}
	f := k.e.newFactor(u, k.typ, in.Values.Get("name"), in)
	if f.Label == "" {
		f.Label = k.to.label
	}
	f.Params[k.to.param] = to
	return f, map[string]any{k.to.param: to, "deliveryAddress": k.to.mask(to)}, nil
}

// codeData is what a code transaction keeps in Data.
type codeData struct {
	KeyID string `json:"keyId"` // keyring key that sealed the HMAC key
}

func (k *codeFactor) Initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	e := k.e
	to := f.Params[k.to.param]
	masked := k.to.mask(to)
	if to == "" {
		return provider.Outcome{}, fmt.Errorf("factor %s: no %s", f.ID, k.to.param)
	}
	if k.s.sender == nil {
		return provider.Failed("no sender configured for " + k.typ), nil
	}
	now := e.now()
	code := randomDigits(k.s.Length)
	id := NewID()
	txs := e.challenges()
	key := txs.Key(id)
	macKey := make([]byte, 32)
	rand.Read(macKey)
	sealed, keyID, err := e.keys.Seal(macKey, []byte(key))
	if err != nil {
		return provider.Outcome{}, err
	}
	data, _ := json.Marshal(codeData{KeyID: keyID})
	tx := store.Transaction{
		ID: id, Secret: append(codeMAC(macKey, code), sealed...), Data: data,
		ExpiresAt: now.Add(k.s.Lifetime),
	}
	// Limits are reserved before anything is sent, and the transaction exists before the
	// code leaves, so the code works the moment it arrives: one unit, committed before the
	// send (never across it). A refusal is the decision, recorded with it; it stores
	// nothing else.
	out, err := provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		if refused, err := e.reserveSend(ctx, w, req.Username, k.to.key(to), masked, now); err != nil || refused.Status != "" {
			return refused, err
		}
		return provider.Outcome{}, txs.In(w).Start(ctx, req, tx)
	})
	if err != nil || out.Status != "" {
		if err == nil && out.Status == provider.StatusFailed {
			e.observer.SendRefused(k.s.Sender) // a send limit refused the code
		}
		return out, err
	}
	deliver := func(ctx context.Context) (provider.Outcome, error) {
		return k.deliver(ctx, f, req, code, to, masked, id, key)
	}
	if deferDelivery(ctx, deliver) {
		// Started, and sent once the caller has answered (WithLater): the outcome recorded
		// is the send's (Later.Run).
		return provider.Outcome{Status: provider.StatusPending, TransactionID: id,
			Attributes: map[string]any{"deliveryAddress": masked}, Reason: "code to be sent to " + masked}, nil
	}
	return deliver(ctx)
}

// deliver sends code to to, and decides the challenge id (its key, key) by the send: its
// older codes withdrawn once it went out, the challenge FAILED when it did not.
func (k *codeFactor) deliver(ctx context.Context, f *store.Factor, req provider.Request, code, to, masked, id, key string) (provider.Outcome, error) {
	e, txs := k.e, k.e.challenges()
	said := code
	if k.say != nil {
		said = k.say(code)
	}
	msg := delivery.Message{
		To: to, Channel: k.channel, Subject: k.subject, Code: code, User: req.Username,
		Text: k.s.template.Render(map[string]string{
			delivery.VarCode: said, delivery.VarUser: req.Username, delivery.VarMinutes: k.s.minutes(),
		}),
	}
	sctx, cancel := provider.RunToEnd(ctx)
	err := k.s.sender.Send(sctx, msg)
	cancel()
	if err != nil {
		e.observer.SendFailed(k.s.Sender)
		// Nothing usable may remain; the request may have been cancelled, the store not.
		ctx := context.WithoutCancel(ctx)
		return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
			if _, err := txs.In(w).Finish(ctx, key, provider.StatusFailed); err != nil {
				return provider.Outcome{}, err
			}
			return provider.Failed(fmt.Sprintf("send by %s to %s: %v", k.s.sender.Kind(), masked, err)), nil
		})
	}
	e.observer.CodeSent(k.s.Sender)
	// Only a code that went out replaces the earlier ones: a failed resend leaves the
	// code the user may already hold working. The cancellation and the decision's record
	// are the second unit, written even when Verify has gone away meanwhile: its retry
	// must find this answer, not send a second code.
	ctx = context.WithoutCancel(ctx)
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		canceled, err := e.cancelOlder(ctx, w, f.ID, id)
		if err != nil {
			return provider.Outcome{}, err
		}
		reason := fmt.Sprintf("code sent by %s to %s", k.s.sender.Kind(), masked)
		if canceled > 0 {
			reason += fmt.Sprintf("; %d earlier code(s) canceled", canceled)
		}
		return provider.Outcome{
			Status: provider.StatusPending, TransactionID: id,
			Attributes: map[string]any{"deliveryAddress": masked}, Reason: reason,
		}, nil
	})
}

func (k *codeFactor) Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.validate(ctx, f, req, nil)
}

// validate is Validate on the transaction read with f (Engine.validate), or, when read
// is nil, on the one answerChallenge reads.
func (k *codeFactor) validate(ctx context.Context, f *store.Factor, req provider.Request, read *store.Transaction) (provider.Outcome, error) {
	return k.e.answerChallenge(ctx, f, req, read, k.s.MaxAttempts, "code", func(tx store.Transaction) (bool, error) {
		var d codeData
		if len(tx.Secret) < sha256.Size || json.Unmarshal(tx.Data, &d) != nil {
			return false, fmt.Errorf("transaction %s: corrupt code", tx.ID)
		}
		macKey, err := k.e.keys.Open(tx.Secret[sha256.Size:], d.KeyID, []byte(tx.ID))
		if err != nil {
			return false, fmt.Errorf("transaction %s: %w", tx.ID, err)
		}
		// A malformed code is simply a wrong one; the MAC is computed either way, so the
		// answer's timing says nothing about the code.
		return hmac.Equal(codeMAC(macKey, req.Passvalue), tx.Secret[:sha256.Size]), nil
	})
}

// CodeLimits are how many answers a code of type typ takes (maxAttempts) and how long it
// lasts (lifetime), as this engine serves the type: the self-service page counts a
// sign-in's mistyped codes against them, and says how many tries are left. False for a
// type that sends no code, or that the engine does not serve.
func (e *Engine) CodeLimits(typ string) (tries int, lifetime time.Duration, ok bool) {
	k, ok := e.served[typ].(*codeFactor)
	if !ok {
		return 0, 0, false
	}
	return k.s.MaxAttempts, k.s.Lifetime, true
}

func (k *codeFactor) Result(ctx context.Context, _ *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.challengeResult(ctx, req)
}

func codeMAC(key []byte, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// randomDigits returns n uniformly random decimal digits from crypto/rand: bytes of 250
// and above are drawn again, so every digit is equally likely.
func randomDigits(n int) string {
	out := make([]byte, 0, n)
	var buf [16]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			if b < 250 && len(out) < n {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out)
}

// ErrInvalidDestination is a phone number or e-mail address a code factor cannot use.
var ErrInvalidDestination = errors.New("invalid destination")

// ErrDuplicate is a factor the user already has.
var ErrDuplicate = errors.New("the user already has this factor")
