package builtin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// Factor types of one-time codes sent to the user.
const (
	TypeSMSOTP   = "smsotp"
	TypeEmailOTP = "emailotp"
)

// Params keys of the code factors: the destination is not a secret, and it is needed to
// send.
const (
	paramPhone = "phone"
	paramEmail = "email"
)

// CodeOptions configure one code factor (smsotp or emailotp) of a provider.
type CodeOptions struct {
	// Sender delivers the codes; nil leaves the factor unable to send (initiate FAILED).
	Sender delivery.Sender
	// Length is the number of digits, 6 to 10; default 6.
	Length int
	// Lifetime of a code; default 5 minutes.
	Lifetime time.Duration
	// MaxAttempts is the number of codes tried per transaction; default 3.
	MaxAttempts int
	// Subject of the e-mail; SMS ignores it. Default "Your sign-in code".
	Subject string
	// Template is the message, with {{code}}, {{user}} and {{minutes}}; default
	// "Your sign-in code is {{code}}. It expires in {{minutes}} minutes."
	Template string
}

// SendLimits bound the codes sent per user and per destination. A nil list takes the
// default (one per 30 s and ten per hour, Okta's and the OWASP cheat sheet's order of
// magnitude); an empty non-nil list sets no limit.
type SendLimits struct {
	PerUser        []store.SendLimit
	PerDestination []store.SendLimit
}

var defaultSendLimits = []store.SendLimit{{Window: 30 * time.Second, Max: 1}, {Window: time.Hour, Max: 10}}

// codeSettings are CodeOptions checked, defaulted and compiled.
type codeSettings struct {
	sender      delivery.Sender
	length      int
	lifetime    time.Duration
	maxAttempts int
	subject     string
	template    *delivery.Template
}

func newCodeSettings(typ string, channel delivery.Channel, o CodeOptions) (codeSettings, error) {
	s := codeSettings{
		sender: o.Sender, length: o.Length, lifetime: o.Lifetime, maxAttempts: o.MaxAttempts,
		subject: o.Subject,
	}
	if s.length == 0 {
		s.length = 6
	}
	if s.lifetime == 0 {
		s.lifetime = 5 * time.Minute
	}
	if s.maxAttempts == 0 {
		s.maxAttempts = 3
	}
	if s.subject == "" {
		s.subject = "Your sign-in code"
	}
	text := o.Template
	if text == "" {
		text = "Your sign-in code is {{code}}. It expires in {{minutes}} minutes."
	}
	var errs []error
	if s.length < 6 || s.length > 10 {
		errs = append(errs, fmt.Errorf("length must be between 6 and 10 digits, not %d", s.length))
	}
	if s.lifetime < 0 || s.maxAttempts < 0 {
		errs = append(errs, errors.New("lifetime and maxAttempts must be positive"))
	}
	if s.sender != nil && !s.sender.Serves(channel) {
		errs = append(errs, fmt.Errorf("a %s sender cannot deliver %s", s.sender.Kind(), channel))
	}
	t, err := delivery.ParseTemplate(text)
	if err != nil {
		errs = append(errs, err)
	} else if !strings.Contains(t.Render(map[string]string{delivery.VarCode: "\x00"}), "\x00") {
		errs = append(errs, errors.New("template must contain {{code}}"))
	}
	s.template = t
	if len(errs) > 0 {
		return codeSettings{}, fmt.Errorf("%s: %w", typ, errors.Join(errs...))
	}
	return s, nil
}

// minutes is the lifetime as the message states it, rounded up.
func (s codeSettings) minutes() string {
	return strconv.FormatInt(int64((s.lifetime+time.Minute-1)/time.Minute), 10)
}

// codeKind sends a one-time code to the factor's phone or mailbox at initiate, and checks
// it at validate.
//
// The code is never stored, even encrypted: the transaction keeps HMAC-SHA256(k, code)
// under a random 256-bit k of its own, and k sealed with the keyring (AES-GCM, the
// transaction's id as associated data). Why a key per transaction rather than one derived
// for the engine: it needs no key material beyond the keyring, so a key rotation and
// several replicas just work (the sealed k names its keyring key, and old keys still
// open); a copy of the database alone is no guessing oracle (six digits are guessed
// offline in no time from an unkeyed or known-key hash); and the seal is bound to its
// transaction, so a secret copied onto another transaction does not open.
type codeKind struct {
	e       *Engine
	typ     string
	channel delivery.Channel
	param   string // Params key of the destination
	s       *codeSettings
}

func (k codeKind) flow() provider.Flow { return provider.FlowInitThenValidate }

func (k codeKind) attributes(f *store.Factor) map[string]any {
	return map[string]any{"deliveryAddress": k.mask(f.Params[k.param])}
}

func (k codeKind) mask(to string) string {
	if k.channel == delivery.Email {
		return delivery.MaskEmail(to)
	}
	return delivery.MaskPhone(to)
}

// codeData is what a code transaction keeps in Data.
type codeData struct {
	KeyID string `json:"keyId"` // keyring key that sealed the HMAC key
}

func (k codeKind) initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	e := k.e
	to := f.Params[k.param]
	masked := k.mask(to)
	if to == "" {
		return provider.Outcome{}, fmt.Errorf("factor %s: no %s", f.ID, k.param)
	}
	if k.s.sender == nil {
		return provider.Failed("no sender configured for " + k.typ), nil
	}
	now := e.now()
	// Limits are reserved before anything is sent or stored: a refusal leaves nothing.
	if reason, err := e.reserveSend(ctx, req.Username, strings.ToLower(to), masked, now); err != nil || reason != "" {
		return provider.Failed(reason), err
	}

	code := randomDigits(k.s.length)
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
		ExpiresAt: now.Add(k.s.lifetime),
	}
	if err := txs.Start(ctx, req, tx); err != nil {
		return provider.Outcome{}, err
	}
	// The transaction exists before the code leaves, so the code works the moment it
	// arrives.
	msg := delivery.Message{
		To: to, Text: k.s.template.Render(map[string]string{
			delivery.VarCode: code, delivery.VarUser: req.Username, delivery.VarMinutes: k.s.minutes(),
		}),
		Code: code, User: req.Username,
	}
	if k.channel == delivery.Email {
		msg.Subject = k.s.subject
	}
	if err := k.s.sender.Send(ctx, msg); err != nil {
		// Nothing usable may remain; the request may have been cancelled, the store not.
		if _, ferr := txs.Finish(context.WithoutCancel(ctx), key, provider.StatusFailed); ferr != nil {
			return provider.Outcome{}, ferr
		}
		return provider.Failed(fmt.Sprintf("send by %s to %s: %v", k.s.sender.Kind(), masked, err)), nil
	}
	// Only a code that went out replaces the earlier ones: a failed resend leaves the
	// code the user may already hold working.
	canceled, err := e.store.CancelPending(ctx, f.ID, key, string(provider.StatusCanceled), e.now())
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
}

func (k codeKind) validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.answerChallenge(ctx, f, req, k.s.maxAttempts, "code", func(tx store.Transaction) (bool, error) {
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

func (k codeKind) result(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
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

// reserveSend records one send for the user and the destination if the limits allow it.
// A refusal is a reason to answer FAILED with. When both lists are the same (the
// default) one atomic reservation covers both keys, so a refusal records nothing;
// otherwise the user's limits are reserved first, and a refusal by the destination's
// leaves the user's reservation counted, which errs toward sending less.
func (e *Engine) reserveSend(ctx context.Context, username, to, masked string, now time.Time) (string, error) {
	userKey, toKey := "user:"+username, "to:"+to
	type reservation struct {
		keys   []string
		limits []store.SendLimit
		who    string
	}
	var steps []reservation
	if slices.Equal(e.sendLimits.PerUser, e.sendLimits.PerDestination) {
		steps = []reservation{{[]string{userKey, toKey}, e.sendLimits.PerUser, "user " + username + " or destination " + masked}}
	} else {
		steps = []reservation{
			{[]string{userKey}, e.sendLimits.PerUser, "user " + username},
			{[]string{toKey}, e.sendLimits.PerDestination, "destination " + masked},
		}
	}
	for _, r := range steps {
		if len(r.limits) == 0 {
			continue
		}
		err := e.store.ReserveSend(ctx, r.keys, r.limits, now)
		if errors.Is(err, store.ErrRateLimited) {
			return "send limit reached for " + r.who + "; nothing sent", nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}

// challenges are the transactions of the engine's init_then_validate factors (codes,
// questions). Their ids are random, so one prefix serves them all; the binding to user,
// capability and factor keeps one factor's transaction from answering for another.
func (e *Engine) challenges() provider.Transactions {
	return provider.Transactions{Store: e.store, Prefix: "b:", Now: e.now}
}

// answerChallenge is validate for an init_then_validate factor: the transaction must be
// the request's, pending and in time; each answer consumes one of maxAttempts before it
// is checked, so parallel guesses cannot exceed the bound, and the transaction completes
// once. what names the answer in reasons ("code", "answer"); check says whether the
// request's passvalue is right, without leaking it.
func (e *Engine) answerChallenge(ctx context.Context, f *store.Factor, req provider.Request, maxAttempts int, what string,
	check func(tx store.Transaction) (bool, error)) (provider.Outcome, error) {
	if req.TransactionID == "" {
		return provider.Failed(fmt.Sprintf("%s needs the transactionId of its initiate (flow init_then_validate)", f.Type)), nil
	}
	txs := e.challenges()
	tx, answer, done, err := txs.ForValidate(ctx, req)
	if err != nil || done {
		return answer, err
	}
	n, err := e.store.AddAttempt(ctx, tx.ID, e.now())
	if errors.Is(err, store.ErrConflict) { // completed since it was loaded
		return txs.Reread(ctx, tx.ID)
	}
	if err != nil {
		return provider.Outcome{}, err
	}
	if n > maxAttempts {
		// Not checked, and not completed here: the request holding the last allowed
		// attempt decides the transaction, so a burst of duplicates of the right answer
		// cannot fail it under the user.
		return provider.Failed(fmt.Sprintf("attempt %d beyond the %d allowed; %s not checked", n, maxAttempts, what)), nil
	}
	right, err := check(tx)
	if err != nil {
		return provider.Outcome{}, err
	}
	if !right {
		reason := fmt.Sprintf("wrong %s (attempt %d of %d)", what, n, maxAttempts)
		if n == maxAttempts {
			if _, err := txs.Finish(ctx, tx.ID, provider.StatusFailed); err != nil {
				return provider.Outcome{}, err
			}
			reason += "; transaction failed"
		}
		return e.fail(ctx, f, reason)
	}
	if answer, ok, err := txs.Succeed(ctx, tx.ID); err != nil || !ok {
		return answer, err
	}
	if f.Failures > 0 || !f.LockedUntil.IsZero() {
		// Failures count consecutive ones, as AdvanceCounter resets them for TOTP/HOTP.
		if err := e.store.ResetFailures(ctx, f.ID, e.now()); err != nil {
			return provider.Outcome{}, err
		}
	}
	return provider.Outcome{Status: provider.StatusSuccess, Reason: fmt.Sprintf("right %s (attempt %d of %d)", what, n, maxAttempts)}, nil
}

// challengeResult is result for an init_then_validate factor: PENDING until validated,
// then the remembered terminal status. It changes nothing but an expiry.
func (e *Engine) challengeResult(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	_, answer, done, err := e.challenges().ForResult(ctx, req)
	if err != nil || done {
		return answer, err
	}
	return provider.Outcome{Status: provider.StatusPending, Reason: "waiting for validate"}, nil
}

// ErrInvalidDestination is a phone number or e-mail address a code factor cannot use.
var ErrInvalidDestination = errors.New("invalid destination")

// ErrDuplicate is a factor the user already has.
var ErrDuplicate = errors.New("the user already has this factor")

// EnrollSMSOTP creates an active smsotp factor sending to phone, an E.164 number.
func (e *Engine) EnrollSMSOTP(ctx context.Context, username, phone, label string) (store.Factor, error) {
	if !delivery.ValidE164(phone) {
		return store.Factor{}, fmt.Errorf("%w: phone %q is not an E.164 number (+ and 8 to 15 digits, e.g. +15551230123)", ErrInvalidDestination, phone)
	}
	if label == "" {
		label = "Mobile"
	}
	return e.enrollCode(ctx, username, TypeSMSOTP, paramPhone, phone, label)
}

// EnrollEmailOTP creates an active emailotp factor sending to address.
func (e *Engine) EnrollEmailOTP(ctx context.Context, username, address, label string) (store.Factor, error) {
	normalized, ok := delivery.ValidEmail(address)
	if !ok {
		return store.Factor{}, fmt.Errorf("%w: %q is not one bare e-mail address", ErrInvalidDestination, address)
	}
	if label == "" {
		label = "E-mail"
	}
	return e.enrollCode(ctx, username, TypeEmailOTP, paramEmail, normalized, label)
}

func (e *Engine) enrollCode(ctx context.Context, username, typ, param, to, label string) (store.Factor, error) {
	u, err := e.store.GetUser(ctx, username)
	if err != nil {
		return store.Factor{}, fmt.Errorf("user %q: %w", username, err)
	}
	existing, err := e.store.ListFactors(ctx, u.ID)
	if err != nil {
		return store.Factor{}, err
	}
	for _, f := range existing {
		// Mailbox names are case-insensitive in practice, whatever RFC 5321 allows.
		if f.Type == typ && strings.EqualFold(f.Params[param], to) {
			return store.Factor{}, fmt.Errorf("%w: %s already has %s factor %s for %s", ErrDuplicate, username, typ, f.ID, to)
		}
	}
	now := e.now()
	f := store.Factor{
		ID: NewID(), UserID: u.ID, Type: typ, Label: label, State: store.FactorActive,
		Params: map[string]string{param: to}, Counter: -1, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.store.CreateFactor(ctx, f); err != nil {
		return store.Factor{}, err
	}
	return f, nil
}

// codeKind is the kind of TypeSMSOTP or TypeEmailOTP.
func (e *Engine) codeKind(typ string) codeKind {
	if typ == TypeEmailOTP {
		return codeKind{e: e, typ: typ, channel: delivery.Email, param: paramEmail, s: &e.email}
	}
	return codeKind{e: e, typ: TypeSMSOTP, channel: delivery.SMS, param: paramPhone, s: &e.sms}
}

// configureCodes checks and keeps the options of the factors in hotp.go, codes.go and
// question.go (called by New).
func (e *Engine) configureCodes(o Options) error {
	var err1, err2 error
	e.hotp = o.HOTP.withDefaults()
	if _, err := ParseAlgorithm(string(e.hotp.Algorithm)); err != nil {
		return fmt.Errorf("builtin: hotp: %w", err)
	}
	e.sms, err1 = newCodeSettings(TypeSMSOTP, delivery.SMS, o.SMSOTP)
	e.email, err2 = newCodeSettings(TypeEmailOTP, delivery.Email, o.EmailOTP)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("builtin: %w", err)
	}
	e.question = o.Question.withDefaults()
	e.sendLimits = o.SendLimits
	if e.sendLimits.PerUser == nil {
		e.sendLimits.PerUser = defaultSendLimits
	}
	if e.sendLimits.PerDestination == nil {
		e.sendLimits.PerDestination = defaultSendLimits
	}
	for _, l := range append(slices.Clone(e.sendLimits.PerUser), e.sendLimits.PerDestination...) {
		if l.Window <= 0 || l.Max < 0 {
			return fmt.Errorf("builtin: send limit %d per %s: want a positive window and a max of 0 or more", l.Max, l.Window)
		}
	}
	return nil
}
