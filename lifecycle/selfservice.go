package lifecycle

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math/big"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// SelfServiceActor is the actor of every change made on the self-service page.
const SelfServiceActor Actor = "self-service"

// Session kinds.
const (
	SessionAnon = "anon" // before sign-in
	SessionLink = "link" // opened by an activation link: may enroll, once
	SessionUser = "user" // signed in with an active factor: manages its factors
)

// linkMinInterval is the send limit of activation links: one per user per interval.
const linkMinInterval = time.Minute

// maxSessionLife ends a session however active it is.
const maxSessionLife = 12 * time.Hour

// SelfServiceOptions configure the self-service page's rules.
type SelfServiceOptions struct {
	Capabilities    []string
	LinkLifetime    time.Duration
	SessionIdle     time.Duration
	AllowRemoveLast bool
	// PublicURL is where users reach emfa; links are PublicURL/self-service/link/TOKEN.
	PublicURL string
	Mailer    delivery.Sender
	Subject   string
	Text      string
	HTML      string
	// FormKey signs the sign-in form's anonymous sessions (NewSession), which are not
	// stored: any secret the replicas share, since the form's POST may reach another one.
	// Empty: a random key of this page's, which no other replica (nor a reload) shares.
	FormKey []byte
	// PreviousFormKeys are the secrets FormKey replaced (storage.previousEncryptionKeys): a
	// sign-in under way sealed with one of them still opens, so that a key rotated while
	// a user waits for a code does not send the user back to the start. New ones are
	// sealed with FormKey's.
	PreviousFormKeys [][]byte
	// HelpText is where the page's error pages send a person for help
	// (selfService.helpText); "" for nowhere.
	HelpText string
}

// SelfService is the rules of the self-service page: activation links, sessions,
// enrollment by the user, sign-in with an active factor, and managing one's factors.
type SelfService struct {
	m       *Manager
	st      store.SelfService
	o       SelfServiceOptions
	subject *template.Template
	text    *template.Template
	html    *htmltemplate.Template
	formKey []byte      // the key of anonymous sessions, derived from o.FormKey
	pending cipher.AEAD // seals the state of a sign-in under way (sealPending), keyed from formKey
	// previous open what pending's predecessors sealed (o.PreviousFormKeys), never seal.
	previous []cipher.AEAD
}

// SelfService builds the page's rules, or says why it cannot (the store keeps no links,
// a template is broken).
func (m *Manager) SelfService(o SelfServiceOptions) (*SelfService, error) {
	st, ok := m.store.(store.SelfService)
	if !ok {
		return nil, errors.New("self-service: the store keeps no activation links")
	}
	// A factor type says whether and how the page enrolls it: one that does not is
	// refused here, not when a user chooses it.
	if err := builtin.CheckSelfService(o.Capabilities); err != nil {
		return nil, fmt.Errorf("self-service: %w", err)
	}
	s := &SelfService{m: m, st: st, o: o, formKey: formKey(o.FormKey)}
	var err error
	if s.pending, err = pendingAEAD(s.formKey); err != nil {
		return nil, fmt.Errorf("self-service: %w", err)
	}
	for _, k := range o.PreviousFormKeys {
		if len(k) == 0 {
			continue // formKey would make a random one, which opens nothing
		}
		aead, err := pendingAEAD(formKey(k))
		if err != nil {
			return nil, fmt.Errorf("self-service: %w", err)
		}
		s.previous = append(s.previous, aead)
	}
	if s.subject, err = template.New("subject").Option("missingkey=error").Parse(o.Subject); err != nil {
		return nil, fmt.Errorf("self-service: subject: %w", err)
	}
	if s.text, err = template.New("text").Option("missingkey=error").Parse(o.Text); err != nil {
		return nil, fmt.Errorf("self-service: template: %w", err)
	}
	if o.HTML != "" {
		if s.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(o.HTML); err != nil {
			return nil, fmt.Errorf("self-service: html: %w", err)
		}
	}
	return s, nil
}

// Capabilities are the factor types a user may enroll on the page.
func (s *SelfService) Capabilities() []string { return s.o.Capabilities }

// SignInMethods are the page's sign-in methods, as the factor types say
// (builtin.SignInMethods), that some engine serves a type of: the sign-in form offers
// only those.
func (s *SelfService) SignInMethods() []builtin.SignInMethod {
	var out []builtin.SignInMethod
	for _, m := range builtin.SignInMethods() {
		if slices.ContainsFunc(m.Types, func(typ string) bool {
			return slices.ContainsFunc(s.m.engines, func(e *builtin.Engine) bool { return e.Exposes(typ) })
		}) {
			out = append(out, m)
		}
	}
	return out
}

// SessionIdle is how long an unused session lasts.
func (s *SelfService) SessionIdle() time.Duration { return s.o.SessionIdle }

// HelpText is what the page's error pages say of where to get help.
func (s *SelfService) HelpText() string { return s.o.HelpText }

// secret is a fresh 256-bit token and its stored hash.
func secret() (token, hash string) {
	token = randomText(32)
	return token, HashToken(token)
}

// Link is an activation link just issued. URL is set only when it was not delivered.
type Link struct {
	URL       string    `json:"url,omitempty"`
	Expires   time.Time `json:"expires"`
	Delivered bool      `json:"delivered"`
	To        string    `json:"to,omitempty"` // the masked address it went to
	// hash and userID name the link stored, for WithdrawLink.
	hash, userID string
}

// IssueLink creates a user's activation link, replacing any older one, and e-mails it
// (deliver) or returns it. One link per user per minute.
func (s *SelfService) IssueLink(ctx context.Context, actor Actor, name string, deliver bool) (Link, error) {
	const action = ActionSelfServiceLink
	r, err := s.m.store.GetUserRecord(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Link{}, notFound("not_found", "user", "no user %q", name)
	}
	if err != nil {
		return Link{}, err
	}
	if r.Disabled {
		return Link{}, s.m.refuse(ctx, actor, action, name, "", conflict("user_disabled", "", "user %q is disabled", name))
	}
	if deliver && r.Profile.Email == "" {
		return Link{}, s.m.refuse(ctx, actor, action, name, "", conflict("no_email", "email", "user %q has no e-mail address; set one or ask for deliver: false", name))
	}
	if deliver && s.o.Mailer == nil {
		return Link{}, s.m.refuse(ctx, actor, action, name, "", conflict("no_mailer", "", "selfService.mail.sender is not configured"))
	}
	now := s.m.now()
	// The minute is reserved before the link is made, in one step in the store (for
	// every replica): of links asked for at once, one is sent. A link not sent or not
	// stored gives it back.
	key := store.LinkSendKey(r.ID)
	err = s.m.store.ReserveSend(ctx, []string{key}, []store.SendLimit{{Window: linkMinInterval, Max: 1}}, now)
	if rl := (*store.RateLimitError)(nil); errors.As(err, &rl) {
		// 429 with Retry-After: a script issuing links knows when the next one is allowed.
		return Link{}, s.m.refuse(ctx, actor, action, name, "", &Error{Kind: Refused, Code: "too_many_links",
			Msg:        fmt.Sprintf("a link was issued for %q less than %s ago", name, linkMinInterval),
			RetryAfter: max(rl.RetryAt.Sub(now), time.Second)})
	}
	if err != nil {
		return Link{}, err
	}
	issued := false
	defer func() {
		if !issued {
			// Not sent, or not stored: the next try may come at once. A context ended
			// with the request must not keep the reservation; bounded all the same, or
			// a database that stopped answering would hold the call for good.
			dctx, cancel := provider.Detach(ctx)
			defer cancel()
			if _, err := s.m.store.DeleteSends(dctx, key); err != nil {
				s.m.log.Warn("self-service link: the minute's reservation was not given back", "user", name, "err", err)
			}
		}
	}()
	token, hash := secret()
	l := store.SelfServiceLink{UserID: r.ID, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(s.o.LinkLifetime)}
	// A link is stored with the record of its issue, in one commit: no link without it.
	put := func(ctx context.Context, reason string) error {
		return errorOf(s.st.PutLink(ctx, l, requested(ctx, AdminEvent(now, actor, action, name, "", "SUCCESS", reason))), "user")
	}
	url := strings.TrimSuffix(s.o.PublicURL, "/") + "/self-service/link/" + token
	out := Link{Expires: l.ExpiresAt.Truncate(time.Millisecond), hash: hash, userID: r.ID}
	if !deliver {
		if err := put(ctx, "returned to the caller"); err != nil {
			return Link{}, err
		}
		issued = true
		out.URL = url
		return out, nil
	}
	display := cmpOr(r.Profile.DisplayName, name)
	data := map[string]any{"DisplayName": display, "Link": url, "Expires": l.ExpiresAt.UTC().Format("2 January 2006 15:04 MST")}
	msg := delivery.Message{To: r.Profile.Email, Channel: delivery.Email, User: name}
	var b bytes.Buffer
	if err := s.subject.Execute(&b, data); err != nil {
		return Link{}, err
	}
	msg.Subject = b.String()
	b.Reset()
	if err := s.text.Execute(&b, data); err != nil {
		return Link{}, err
	}
	msg.Text = b.String()
	if s.html != nil {
		b.Reset()
		if err := s.html.Execute(&b, data); err != nil {
			return Link{}, err
		}
		msg.HTML = b.String()
	}
	// Sent, then stored: a link the mail never carried would be a credential no one holds,
	// and a failed send leaves nothing (nor the minute's limit) behind. Should the store
	// fail after the send, the mailed link does not work and the caller is told.
	// Once begun, the send runs to its end whether or not the caller still waits (a
	// script's timeout): cut short, a relay that had the message may deliver a link
	// never stored.
	sctx, stop := provider.RunToEnd(ctx)
	err = s.o.Mailer.Send(sctx, msg)
	stop()
	if err != nil {
		// A relay's refusal may quote the body, the link with it: not into the trail.
		s.m.audit(ctx, actor, action, name, "", "FAILED", "not sent: "+strings.ReplaceAll(err.Error(), token, "…"))
		return Link{}, &Error{Kind: Refused, Code: "link_not_sent", Msg: "the link could not be e-mailed; retry later"}
	}
	// Sent: the minute is spent, even should the store fail now. The mail carries the
	// link: it is stored whether or not the caller still waits (a script's timeout, an
	// import's deadline), lest the user be sent a link that opens nothing.
	issued = true
	out.Delivered, out.To = true, delivery.MaskEmail(r.Profile.Email)
	sent, cancel := provider.Detach(ctx)
	defer cancel()
	if err := put(sent, "e-mailed to "+out.To); err != nil {
		return Link{}, err
	}
	return out, nil
}

// WithdrawLink revokes l, a link IssueLink returned to name's caller (deliver false)
// that the caller could not hand on (the CLI's output failed): no one holds it, so it is
// spent, and the minute's limit given back, with the record of why, in one commit. The
// next invite may come at once; the link l replaced stays replaced. A link opened or
// replaced since is left as it is.
func (s *SelfService) WithdrawLink(ctx context.Context, actor Actor, name string, l Link, why string) error {
	if l.hash == "" {
		return errors.New("lifecycle: WithdrawLink of a link IssueLink did not return")
	}
	ctx, cancel := provider.Detach(ctx)
	defer cancel()
	err := s.m.store.Update(ctx, func(w store.Writer) error {
		if err := w.SpendLink(ctx, l.hash, s.m.now()); err != nil {
			return err
		}
		if _, err := w.DeleteSends(ctx, store.LinkSendKey(l.userID)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, s.m.record(ctx, actor, ActionSelfServiceLink, name, "", "FAILED", "withdrawn: "+why))
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return nil // replaced, opened, expired or gone with its user since: nothing to withdraw
	}
	return err
}

// InviteImported e-mails an activation link to each user the import created who has an
// e-mail address, noting on its row where it went or why it did not. A dry run sends none.
func (s *SelfService) InviteImported(ctx context.Context, actor Actor, rep *ImportReport) {
	if rep.DryRun {
		return
	}
	for i := range rep.Rows {
		row := &rep.Rows[i]
		if row.Action != ActionCreated {
			continue
		}
		r, err := s.m.store.GetUserRecord(ctx, row.Username)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: no one to invite
		}
		if err != nil {
			row.InviteError = s.inviteFault(row.Username, err)
			continue
		}
		if r.Profile.Email == "" {
			continue
		}
		l, err := s.IssueLink(ctx, actor, row.Username, true)
		var le *Error
		switch {
		case err == nil:
			row.Invited = l.To
		case errors.As(err, &le):
			row.InviteError = le
		default:
			row.InviteError = s.inviteFault(row.Username, err)
		}
	}
}

// inviteFault is an imported user's invite a fault stopped (the store's, not the
// request's): logged, and worded on the user's row for the importer, who sends it later.
// The fault's own text (a driver's, with the database's address) is the log's alone.
func (s *SelfService) inviteFault(user string, err error) *Error {
	s.m.log.Warn("import: activation link not sent", "user", user, "err", err)
	return InviteFault()
}

// InviteFault is the refusal of an invite a fault stopped, for the answer that created
// its user: the user stays created, and the link is sent later.
func InviteFault() *Error {
	return &Error{Kind: Refused, Code: "link_not_sent",
		Msg: "the link could not be sent (a store fault): send it later with POST /admin/v1/users/{user}/activation-link or emfa users invite"}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Session is a browser's session as the page sees it.
type Session struct {
	Cookie string // the token the browser holds
	Kind   string
	User   string // the user's name, "" before sign-in
	CSRF   string
	// State is the step under way: a factor being enrolled, a sign-in challenge.
	State SessionState
	rec   store.SelfServiceSession
	// pending is the one-time id of a sign-in under way carried in its cookie
	// (sealPending), until when it lasts: it signs in once (claimSignIn).
	pending  string
	pendsTil time.Time
}

// SignedInWith is the factor a signed-in session proved itself with ("" for another
// kind): the session ends when that factor is disabled or deleted.
func (s Session) SignedInWith() string { return s.rec.Factor }

// SessionState is what a session remembers between pages.
type SessionState struct {
	User       string `json:"user,omitempty"`
	Enrolling  string `json:"enrolling,omitempty"` // factor ID awaiting its first code
	EnrollType string `json:"enrollType,omitempty"`
	Method     string `json:"method,omitempty"` // sign-in: app, smsotp, emailotp, voicecall
	Factor     string `json:"factor,omitempty"` // sign-in: the factor challenged
	Capability string `json:"capability,omitempty"`
	// ShownKey seals what the enrollment's page shows (SealShown): a fresh AES-256 key
	// for each enrollment, kept here only, never sent to the browser.
	ShownKey string `json:"shownKey,omitempty"`
	Tx       string `json:"tx,omitempty"`
	Number   int    `json:"number,omitempty"` // sign-in by push: the number to type on the device
	// Started is when a push sign-in began: one that started no challenge (no such user
	// or device) times out when a real one would.
	Started time.Time `json:"started,omitzero"`
	// A sign-in by a code sent: the codes mistyped so far (Tries) of the MaxTries its type
	// takes (maxAttempts), and when the code sent expires (CodeUntil). They are the same
	// whether or not a code went out (no such user or factor), so what the page says of a
	// mistyped code tells nothing of who exists; the challenge's own count, in the store,
	// is what bounds the guesses.
	Tries     int       `json:"tries,omitempty"`
	MaxTries  int       `json:"maxTries,omitempty"`
	CodeUntil time.Time `json:"codeUntil,omitzero"`
	// LockedUntil is when the lock ends that FinishSignIn found on the factor challenged
	// (CodeFactorLocked): the page says how long is left from it, not from its link.
	LockedUntil time.Time `json:"lockedUntil,omitzero"`
	// SendAfter is when the send limits allow the next code of the factor being enrolled,
	// as the last "Send a new code" they refused said (zero when that refusal gave no
	// time): the page after its redirect says how long is left from it (SendWait).
	SendAfter time.Time `json:"sendAfter,omitzero"`
	// Done is the factor a link session's enrollment completed (endLink): the same form
	// posted again (a double click, the script and the button at once) answers it, done.
	Done string `json:"done,omitempty"`
}

// TriesLeft is how many more codes a sign-in by a code sent takes before a new code is
// needed; false when the method has no such bound (an authenticator app's code).
func (s Session) TriesLeft() (int, bool) {
	if s.State.MaxTries <= 0 {
		return 0, false
	}
	return max(s.State.MaxTries-s.State.Tries, 0), true
}

// LockedFor is how much longer the lock FinishSignIn found on the sign-in's factor lasts
// (zero once it has ended), from when it found it; false when it found none.
func (s *SelfService) LockedFor(sess Session) (time.Duration, bool) {
	if sess.State.LockedUntil.IsZero() {
		return 0, false
	}
	return max(sess.State.LockedUntil.Sub(s.m.now()), 0), true
}

// FactorLockedFor is how much longer the lock on f (a factor Pending answered) lasts:
// zero when it has none, or once it has ended. The set-up's page says the wait from the
// factor on each reload, never from its address.
func (s *SelfService) FactorLockedFor(f Factor) time.Duration {
	if f.LockedUntil == nil {
		return 0
	}
	return max(f.LockedUntil.Sub(s.m.now()), 0)
}

// SendWait is how much longer the send limits hold the enrollment's next code, as the
// last refused resend said (Resend): 0 once that is over, false when it said no time.
func (s *SelfService) SendWait(sess Session) (time.Duration, bool) {
	if sess.State.SendAfter.IsZero() {
		return 0, false
	}
	return max(sess.State.SendAfter.Sub(s.m.now()), 0), true
}

// ErrNoSession is a missing, expired or refused session: the page starts again.
var ErrNoSession = &Error{Kind: Unauthorized, Code: "session_expired", Msg: "your session has ended; start again"}

// newSession starts a session; until, when not zero, ends it earlier than maxSessionLife
// would (a link session ends with its link). proof, when set, is the factor a sign-in
// proved itself with: the session is created only while it is active, and one with
// linkHash only while that link is there (store.ErrConflict); it ends with either.
func (s *SelfService) newSession(ctx context.Context, kind, userID, linkHash, proof string, until time.Time, st SessionState, audit ...store.AuditEvent) (Session, error) {
	cookie, hash := secret()
	csrf, _ := secret()
	now := s.m.now()
	data, _ := json.Marshal(st)
	rec := store.SelfServiceSession{Hash: hash, UserID: userID, Kind: kind, LinkHash: linkHash, CSRF: csrf, Data: string(data),
		SeenAt: now, ExpiresAt: now.Add(maxSessionLife), CreatedAt: now, Factor: proof}
	if !until.IsZero() && until.Before(rec.ExpiresAt) {
		rec.ExpiresAt = until
	}
	if err := s.st.PutSession(ctx, rec, audit...); err != nil {
		return Session{}, err
	}
	return Session{Cookie: cookie, Kind: kind, User: st.User, CSRF: csrf, State: st, rec: rec}, nil
}

// NewSession starts an anonymous session (the sign-in form's CSRF token) without storing
// it: anyone on the internet may ask for the form, as often as they like. Its cookie is
// signed with the page's key and holds when it was issued; its CSRF token is derived from
// the cookie (a double-submit token that only the page can mint). A sign-in started with
// it is not stored either: its state is sealed into a new cookie (save, sealPending).
func (s *SelfService) NewSession(ctx context.Context) (Session, error) {
	var payload [anonPayload]byte
	binary.BigEndian.PutUint64(payload[:8], uint64(s.m.now().Unix()))
	rand.Read(payload[8:]) // never returns an error (crypto/rand, Go 1.24+)
	p := base64.RawURLEncoding.EncodeToString(payload[:])
	cookie := p + "." + base64.RawURLEncoding.EncodeToString(s.anonMAC("cookie", payload[:])[:anonMACSize])
	return Session{Cookie: cookie, Kind: SessionAnon, CSRF: base64.RawURLEncoding.EncodeToString(s.anonMAC("csrf", payload[:]))}, nil
}

// The anonymous cookie: 8 bytes of its issue time and 16 random ones, then a MAC of them
// cut to 16 bytes; 55 characters in all.
const (
	anonPayload = 24
	anonMACSize = 16
)

// formKey is the key of anonymous sessions: derived from the configured secret (so that
// it is not the secret itself, which may seal other things), or random.
func formKey(secret []byte) []byte {
	if len(secret) == 0 {
		k := make([]byte, 32)
		rand.Read(k)
		return k
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("emfa self-service anonymous session"))
	return mac.Sum(nil)
}

func (s *SelfService) anonMAC(use string, payload []byte) []byte {
	mac := hmac.New(sha256.New, s.formKey)
	mac.Write([]byte(use + "\x00"))
	mac.Write(payload)
	return mac.Sum(nil)
}

// anonSession is the anonymous session of a signed cookie (NewSession): ErrNoSession for
// a cookie not signed with this page's key, or older than maxSessionLife.
func (s *SelfService) anonSession(cookie string) (Session, error) {
	p, sig, ok := strings.Cut(cookie, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil || len(payload) != anonPayload ||
		!hmac.Equal(mac, s.anonMAC("cookie", payload)[:anonMACSize]) {
		return Session{}, ErrNoSession
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0)
	if now := s.m.now(); now.Sub(issued) > maxSessionLife || issued.After(now.Add(time.Minute)) {
		return Session{}, ErrNoSession
	}
	return Session{Cookie: cookie, Kind: SessionAnon, CSRF: base64.RawURLEncoding.EncodeToString(s.anonMAC("csrf", payload))}, nil
}

// A sign-in under way is not stored either: anyone on the internet may start one, as
// often as the page's throttles allow, and a row for each would let them grow the
// sessions table. Its state (the user name typed, the method, the challenge sent) travels
// in the browser's cookie instead, sealed (AES-256-GCM, with a key derived from the
// page's key, so that every replica opens it and nobody else reads or alters it), with a
// CSRF token of its own, a one-time id and an end. A row is written only once a factor is
// proven: the signed-in session's, and the id used up (claimSignIn), so that the sealed
// state of a sign-in that succeeded does not sign in a second time.
const (
	pendingPrefix = "p." // no stored cookie has a dot, an anonymous one has no "p." prefix
	// maxPendingCookie bounds the cookie read: the longest state (a user name of maxName
	// bytes, each escaped) seals to less.
	maxPendingCookie = 3072
	// pendingScope is the nonce scope of the sign-ins that succeeded.
	pendingScope = ActionSelfServiceSignIn
)

// pendingSignIn is what a sign-in's cookie seals.
type pendingSignIn struct {
	ID      string       `json:"id"`
	CSRF    string       `json:"csrf"`
	Issued  int64        `json:"iat"`
	Expires int64        `json:"exp"`
	State   SessionState `json:"st"`
}

// pendingAD binds a sealed sign-in to its use.
var pendingAD = []byte("emfa self-service sign-in under way")

// pendingAEAD is the cipher of sign-ins under way, keyed from the page's key.
func pendingAEAD(formKey []byte) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, formKey)
	mac.Write([]byte("pending sign-in\x00"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal is data sealed under aead with ad, behind a fresh random nonce: how the page keeps
// what it seals (a sign-in under way, a once-record's answer, a shown key).
func seal(aead cipher.AEAD, data, ad []byte) []byte {
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce) // never returns an error (crypto/rand, Go 1.24+)
	return aead.Seal(nonce, nonce, data, ad)
}

// errUnsealed: what unseal was given is not something seal made with this key and ad.
var errUnsealed = errors.New("self-service: not sealed with this key")

// unseal opens what seal made with the same aead and ad.
func unseal(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < n {
		return nil, errUnsealed
	}
	return aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// pendingLife is how long a sign-in under way lasts from its start: the session idle
// time, or a push challenge's lifetime when longer, so that an unanswered push times out
// on the page rather than ending its session first.
func (s *SelfService) pendingLife() time.Duration {
	l, _ := s.pushSignIn()
	return max(s.o.SessionIdle, l)
}

// sealPending puts an anonymous session's state in a new cookie: a new CSRF token, a new
// one-time id, and an end pendingLife from now, or the sign-in's own end when it has one
// (a mistyped code sealed again does not make the sign-in last longer).
func (s *SelfService) sealPending(sess *Session) error {
	now := s.m.now()
	end := now.Add(s.pendingLife())
	if !sess.pendsTil.IsZero() && sess.pendsTil.Before(end) {
		end = sess.pendsTil
	}
	p := pendingSignIn{ID: randomText(16), CSRF: randomText(32), Issued: now.Unix(),
		Expires: end.Unix(), State: sess.State}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	data = padChallenge(data, p)
	cookie := pendingPrefix + base64.RawURLEncoding.EncodeToString(seal(s.pending, data, pendingAD))
	if len(cookie) > maxPendingCookie {
		return invalid("invalid_field", "username", "is too long")
	}
	*sess = Session{Cookie: cookie, Kind: SessionAnon, User: p.State.User, CSRF: p.CSRF, State: p.State,
		pending: p.ID, pendsTil: time.Unix(p.Expires, 0)}
	return nil
}

// challengeRoom is the room a sealed sign-in keeps for its challenge (the factor, its
// type and the transaction: two ids and a type's name take about 90 bytes).
const challengeRoom = 256

// padChallenge pads data, p as sealPending marshalled it, with spaces (which JSON reads
// past) to the length it has without its challenge plus challengeRoom: a sign-in that
// started a challenge (a user with such a factor) and one that started none (a name no
// one has) seal to cookies of one length. Sealed as they were, the first was about 120
// bytes longer, and anyone could tell who exists from the length of the cookie.
func padChallenge(data []byte, p pendingSignIn) []byte {
	p.State.Factor, p.State.Capability, p.State.Tx = "", "", ""
	bare, err := json.Marshal(p)
	if n := len(bare) + challengeRoom - len(data); err == nil && n > 0 {
		data = append(data, bytes.Repeat([]byte{' '}, n)...)
	}
	return data
}

// openPending is the sign-in under way of a sealed cookie (sealPending): ErrNoSession for
// one not sealed with this page's key or a previous one, altered, or past its end.
func (s *SelfService) openPending(cookie string) (Session, error) {
	if len(cookie) > maxPendingCookie {
		return Session{}, ErrNoSession
	}
	sealed, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cookie, pendingPrefix))
	if err != nil {
		return Session{}, ErrNoSession
	}
	// The cookie does not say which key sealed it: the current one, then those it
	// replaced (GCM's tag tells a wrong key from the right one).
	data, err := unseal(s.pending, sealed, pendingAD)
	for _, aead := range s.previous {
		if err == nil {
			break
		}
		data, err = unseal(aead, sealed, pendingAD)
	}
	var p pendingSignIn
	if err != nil || json.Unmarshal(data, &p) != nil || p.ID == "" || p.CSRF == "" {
		return Session{}, ErrNoSession
	}
	now := s.m.now()
	if issued, end := time.Unix(p.Issued, 0), time.Unix(p.Expires, 0); !now.Before(end) || issued.After(now.Add(time.Minute)) {
		return Session{}, ErrNoSession
	}
	return Session{Cookie: cookie, Kind: SessionAnon, User: p.State.User, CSRF: p.CSRF, State: p.State,
		pending: p.ID, pendsTil: time.Unix(p.Expires, 0)}, nil
}

// claimSignIn uses up the one-time id of a sign-in under way that proved its factor, in
// the store (for every replica): the same sealed state, sent again, signs no one in.
// A session stored before sign-ins were sealed has no id: its row is ended instead.
func (s *SelfService) claimSignIn(ctx context.Context, sess Session) error {
	if sess.pending == "" {
		return nil
	}
	err := s.m.store.UseNonce(ctx, pendingScope, sess.pending, sess.pendsTil, s.m.now())
	if errors.Is(err, store.ErrReplay) {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, sess.State.User, sess.State.Factor, "FAILED", "sign-in already completed")
		return ErrSignIn
	}
	return err
}

// Link refusals.
var (
	ErrLinkInvalid = &Error{Kind: NotFound, Code: "link_invalid", Msg: "this link is not valid: it may have been mistyped, replaced by a newer one, or already used"}
	ErrLinkExpired = &Error{Kind: Conflict, Code: "link_expired", Msg: "this link has expired; ask for a new one"}
	ErrLinkSpent   = &Error{Kind: Conflict, Code: "link_spent", Msg: "this link has been used already; sign in instead, or ask for a new one"}
)

// OpenLink checks an activation link and starts the session that may enroll with it.
// Opening changes nothing: only a completed enrollment spends the link.
func (s *SelfService) OpenLink(ctx context.Context, token string) (Session, error) {
	l, u, err := s.checkLink(ctx, token)
	if err != nil {
		return Session{}, err
	}
	// The session ends when its link does: it cannot enroll with a link that expired
	// (Session refuses it from then on). Its record is kept a session's idle time longer,
	// so that the sweeper, which deletes sessions past their end, leaves a page still open
	// the link's end to say so, not that its session ended (which leads back to the link).
	sess, err := s.opened(ctx, ActionSelfServiceOpen, "", SessionLink, u, l.Hash, l.ExpiresAt.Add(s.o.SessionIdle), "")
	if errors.Is(err, store.ErrConflict) {
		// Revoked (a reset) or replaced since it was read: as a link never issued.
		s.refusedLink(ctx, u.Name, "link revoked or replaced while opened")
		return Session{}, ErrLinkInvalid
	}
	return sess, err
}

// LinkUser is the name of the user an activation link is for, checked as OpenLink checks
// it (a refusal recorded alike), without opening it: the page asks before a link
// replaces a browser's session of another user.
func (s *SelfService) LinkUser(ctx context.Context, token string) (string, error) {
	_, u, err := s.checkLink(ctx, token)
	return u.Name, err
}

// checkLink finds the link of token and its user, refusing (and recording) a link
// unknown, spent, expired, or of a disabled user.
func (s *SelfService) checkLink(ctx context.Context, token string) (store.SelfServiceLink, store.User, error) {
	if len(token) < 40 || len(token) > 64 {
		return store.SelfServiceLink{}, store.User{}, ErrLinkInvalid
	}
	l, err := s.st.GetLink(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		if !sourceOf(ctx).Unrecorded {
			s.refusedLink(ctx, "", "unknown link")
		}
		return l, store.User{}, ErrLinkInvalid
	}
	if err != nil {
		return l, store.User{}, err
	}
	u, err := s.userByID(ctx, l)
	if err != nil {
		return l, u, err
	}
	var refusal *Error
	var reason string
	switch {
	case !l.SpentAt.IsZero():
		refusal, reason = ErrLinkSpent, "link spent"
	case !s.m.now().Before(l.ExpiresAt):
		refusal, reason = ErrLinkExpired, "link expired"
	case u.Disabled:
		refusal, reason = ErrLinkInvalid, "user disabled"
	default:
		return l, u, nil
	}
	// A link that opens nothing may be opened as often as its holder likes: past the
	// caller's few, it counts instead of a record, as an unknown one does.
	if !sourceOf(ctx).Unrecorded {
		s.refusedLink(ctx, u.Name, reason)
	}
	return l, u, refusal
}

// Source is where a request of the page came from (WithSource): the records of links
// refused, which anyone on the internet may try, name its address (and, as every record
// does, the request id ctx carries).
type Source struct {
	Addr string
	// Unrecorded: a refused link (unknown, spent, expired, its user disabled) is refused
	// without a record, the caller counting it instead: past a few from one address, a
	// flood of guesses, or of openings of an old link, must not fill the audit table.
	Unrecorded bool
}

type sourceKey struct{}

// WithSource is ctx for a request of the page from src.
func WithSource(ctx context.Context, src Source) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

func sourceOf(ctx context.Context) Source {
	src, _ := ctx.Value(sourceKey{}).(Source)
	return src
}

// refusedLink records a link refused (user: its user, "" for an unknown link), with the
// request's source.
func (s *SelfService) refusedLink(ctx context.Context, user, reason string) {
	src := sourceOf(ctx)
	if src.Addr != "" {
		reason += " (from " + src.Addr + ")"
	}
	ev := AdminEvent(s.m.now(), SelfServiceActor, ActionSelfServiceOpen, user, "", "FAILED", reason)
	ev.RequestID = RequestID(ctx)
	s.m.appendApart(ctx, ev)
}

// opened starts the session a link or a sign-in opened for u, with its record (action,
// factor) in the same commit: a session that could not be stored is no SUCCESS, and a
// session exists only with its record. until, when not zero, is its latest end.
func (s *SelfService) opened(ctx context.Context, action, factor, kind string, u store.User, linkHash string, until time.Time, reason string) (Session, error) {
	return s.newSession(ctx, kind, u.ID, linkHash, "", until, SessionState{User: u.Name},
		s.m.record(ctx, SelfServiceActor, action, u.Name, factor, "SUCCESS", reason))
}

// signedIn starts the session of u's sign-in with factor, only while that factor is still
// active: a reset of the user's factors between the check of the proof (a code, a push
// approved) and this, which ended the user's sessions, leaves it none to open
// (errProofReset, recorded), rather than one its end of sessions came too early for.
func (s *SelfService) signedIn(ctx context.Context, factor string, u store.User, reason string) (Session, error) {
	if u.Disabled {
		// Disabled after its proof (a push approved, then the user disabled): the
		// challenge still answers as it ended, but no one is signed in, nor recorded so.
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, u.Name, factor, "FAILED", "user disabled during the sign-in")
		return Session{}, errProofReset
	}
	// Its record (store.ResourceSelfServiceSignIn, SUCCESS, the factor) is the factor's
	// use: the store sets its lastUsed in the same commit, as for Verify's validate.
	next, err := s.newSession(ctx, SessionUser, u.ID, "", factor, time.Time{}, SessionState{User: u.Name},
		s.m.record(ctx, SelfServiceActor, ActionSelfServiceSignIn, u.Name, factor, "SUCCESS", reason))
	if errors.Is(err, store.ErrConflict) {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, u.Name, factor, "FAILED", "factor reset or disabled during the sign-in")
		return Session{}, errProofReset
	}
	return next, err
}

// errProofReset: the factor of a sign-in was reset (or disabled), or its user disabled,
// before its session was stored.
var errProofReset = errors.New("self-service: sign-in factor reset meanwhile")

// userByID finds the link's user by the name the store joined, checking it is the same.
func (s *SelfService) userByID(ctx context.Context, l store.SelfServiceLink) (store.User, error) {
	u, err := s.m.store.GetUser(ctx, l.UserName)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.ID != l.UserID) {
		return store.User{}, ErrLinkInvalid
	}
	return u, err
}

// Session finds the session of a cookie, refusing one idle too long, past its end, or
// whose user was disabled or deleted meanwhile; each use extends its idle timeout.
func (s *SelfService) Session(ctx context.Context, cookie string) (Session, error) {
	if strings.HasPrefix(cookie, pendingPrefix) {
		return s.openPending(cookie)
	}
	if cookie == "" || len(cookie) > 64 {
		return Session{}, ErrNoSession
	}
	if strings.Contains(cookie, ".") {
		return s.anonSession(cookie) // a stored session's cookie is base64url, with no dot
	}
	rec, err := s.st.GetSession(ctx, HashToken(cookie))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	now := s.m.now()
	if now.Sub(rec.SeenAt) > s.o.SessionIdle || !now.Before(rec.ExpiresAt) {
		s.st.DeleteSession(ctx, rec.Hash)
		if rec.Kind == SessionLink {
			// A link session ends with its link: say the link expired (ask for a new
			// one), not "start again", which would lead back to the same dead link.
			if l, err := s.st.GetLink(ctx, rec.LinkHash); err == nil && !now.Before(l.ExpiresAt) {
				return Session{}, ErrLinkExpired
			}
		}
		return Session{}, ErrNoSession
	}
	var st SessionState
	json.Unmarshal([]byte(rec.Data), &st)
	if rec.UserID != "" {
		u, err := s.m.store.GetUser(ctx, st.User)
		if err != nil || u.ID != rec.UserID || u.Disabled {
			s.st.DeleteSession(ctx, rec.Hash)
			s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSession, st.User, "", "FAILED", "user disabled or deleted during the session")
			return Session{}, ErrNoSession
		}
	}
	if rec.Kind == SessionLink {
		// Its link replaced by a newer one (or gone with its user): the session goes with
		// it. A link spent stays, for the page to see the enrollment that spent it.
		l, err := s.st.GetLink(ctx, rec.LinkHash)
		if errors.Is(err, store.ErrNotFound) {
			s.st.DeleteSession(ctx, rec.Hash)
			s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSession, st.User, "", "FAILED", "link replaced during the session")
			return Session{}, ErrNoSession
		} else if err != nil {
			return Session{}, err
		}
		if !now.Before(l.ExpiresAt) {
			s.st.DeleteSession(ctx, rec.Hash)
			return Session{}, ErrLinkExpired // the session ends with its link
		}
	}
	rec.SeenAt = now
	if err := s.st.TouchSession(ctx, rec.Hash, now); errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession // signed out or ended meanwhile: it stays so
	} else if err != nil {
		return Session{}, err
	}
	return Session{Cookie: cookie, Kind: rec.Kind, User: st.User, CSRF: rec.CSRF, State: st, rec: rec}, nil
}

// CheckCSRF compares a form's token with the session's in constant time.
func (s *SelfService) CheckCSRF(sess Session, token string) error {
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
		return &Error{Kind: Forbidden, Code: "csrf", Msg: "this form is stale or was not sent by the page; reload it and try again"}
	}
	return nil
}

// save writes a session's state; ErrNoSession when the session ended meanwhile (signed
// out in another tab, ended by an admin), which a save never undoes. An anonymous session
// (NewSession) is not stored: its state (a sign-in under way) is sealed into a new cookie
// and CSRF token instead (sealPending).
func (s *SelfService) save(ctx context.Context, sess *Session) error {
	if sess.rec.Hash == "" {
		return s.sealPending(sess)
	}
	data, _ := json.Marshal(sess.State)
	sess.rec.Data = string(data)
	err := s.st.UpdateSession(ctx, sess.rec)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoSession
	}
	return err
}

// linkUsable says whether a link session's link may still enroll (action, for the
// record of a refusal): ErrLinkInvalid once a newer link replaced it, ErrLinkSpent once
// an enrollment spent it, ErrLinkExpired past its end. Nothing is enrolled, nor a code
// sent, with a link that could not complete the enrollment.
func (s *SelfService) linkUsable(ctx context.Context, sess Session, action string) error {
	st, err := s.linkStateOf(ctx, sess.rec.LinkHash)
	var refusal *Error
	var reason string
	switch {
	case err != nil:
		return err
	case st == linkGone:
		// Replaced: the session can do nothing more, and ends.
		s.End(ctx, sess)
		refusal, reason = ErrLinkInvalid, "link replaced"
	case st == linkUsed:
		refusal, reason = ErrLinkSpent, "link spent"
	case st == linkExpired:
		refusal, reason = ErrLinkExpired, "link expired"
	default:
		return nil
	}
	if st != linkGone {
		// Spent or expired, the link enrolls nothing more: its session ends as a replaced
		// one's does (the page clears its cookie), lest a copy of the cookie be refused, and
		// recorded, for as long as it is used. (Its set-up done, a session waits for its
		// form posted twice in linkDone, which comes before this.)
		s.End(ctx, sess)
	}
	s.m.audit(ctx, SelfServiceActor, action, sess.User, "", "FAILED", reason)
	return refusal
}

// linkState is what became of a session's link.
type linkState int

const (
	linkOK      linkState = iota
	linkGone              // replaced by a newer one, revoked by a reset, or gone with its user
	linkUsed              // spent: an enrollment completed with it
	linkExpired           // past its end
)

// linkStateOf is the state of the link of hash now; a store error as itself.
func (s *SelfService) linkStateOf(ctx context.Context, hash string) (linkState, error) {
	l, err := s.st.GetLink(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return linkGone, nil
	case err != nil:
		return 0, err
	case !l.SpentAt.IsZero():
		return linkUsed, nil
	case !s.m.now().Before(l.ExpiresAt):
		return linkExpired, nil
	}
	return linkOK, nil
}

// LinkUsable is linkUsable for the page's choice of a factor: nil for a session a
// person signed in to, whose enrollments need no link.
func (s *SelfService) LinkUsable(ctx context.Context, sess Session) error {
	if sess.Kind != SessionLink {
		return nil
	}
	return s.linkUsable(ctx, sess, ActionSelfServiceChoose)
}

// End ends a session; one never stored (NewSession) has nothing to end.
func (s *SelfService) End(ctx context.Context, sess Session) error {
	if sess.rec.Hash == "" {
		return nil
	}
	return s.st.DeleteSession(ctx, sess.rec.Hash)
}

// PhoneCountry is the country a phone number typed on the page without its calling code
// is read as: Name "Germany" ("the United States": for a sentence) and CallingCode 49.
type PhoneCountry struct {
	Name        string
	CallingCode int
}

// PhoneCountry is the country whose national numbers the session's user may type for a
// factor that sends codes (the user's own, else lifecycle.defaultCountry), as Enroll reads
// them; ok is false where there is none (only a number with + and its country code is
// taken) or the user could not be read, which Enroll then says itself.
func (s *SelfService) PhoneCountry(ctx context.Context, sess Session) (c PhoneCountry, ok bool) {
	r, err := s.m.phoneCountryOf(ctx, sess.User, "")
	if err != nil || r.code == "" {
		return PhoneCountry{}, false
	}
	name, cc, ok := phone.Called(r.code)
	return PhoneCountry{Name: name, CallingCode: cc}, ok
}

// Enroll starts the enrollment of a factor of type typ (dest: a phone number or an
// e-mail address for code factors) by the session's user.
func (s *SelfService) Enroll(ctx context.Context, sess *Session, typ, dest string) (Enrolled, error) {
	out, err := s.enroll(ctx, sess, typ, dest)
	return out, s.userOff(ctx, *sess, err)
}

// ErrUserOff refuses a step of a session whose user was disabled (or deleted) while the
// step ran: the code it would send could activate nothing. A step a moment later finds
// no session (Session), as any ended one; this one says what it could not do, and that
// trying again will not do it, in words that name no more than the session's holder,
// who held it a moment ago, may know: the page cannot be used for this account now.
var ErrUserOff = &Error{Kind: Conflict, Code: "user_off",
	Msg: "no code was sent, and none can be: this account cannot set up sign-in methods here any more; ask your help desk"}

// userOff is err, or ErrUserOff when err is the refusal (a code not sent, the session
// ended) of a session whose user is now disabled or gone.
func (s *SelfService) userOff(ctx context.Context, sess Session, err error) error {
	le := (*Error)(nil)
	if !errors.Is(err, ErrNoSession) && !(errors.As(err, &le) && le.Code == "activation_not_sent" && le.RetryAfter == 0) {
		return err
	}
	if sess.rec.UserID == "" {
		return err
	}
	u, gerr := s.m.store.GetUser(ctx, sess.User)
	if errors.Is(gerr, store.ErrNotFound) || (gerr == nil && (u.Disabled || u.ID != sess.rec.UserID)) {
		return ErrUserOff
	}
	return err
}

func (s *SelfService) enroll(ctx context.Context, sess *Session, typ, dest string) (Enrolled, error) {
	if sess.Kind != SessionLink && sess.Kind != SessionUser {
		return Enrolled{}, ErrNoSession
	}
	if !slices.Contains(s.o.Capabilities, typ) {
		return Enrolled{}, invalid("invalid_type", "type", "%q cannot be enrolled here", typ)
	}
	if sess.Kind == SessionLink {
		if err := s.linkUsable(ctx, *sess, ActionSelfServiceEnroll); err != nil {
			return Enrolled{}, err
		}
	}
	if err := s.refuseSwitchedOff(ctx, *sess, ActionSelfServiceEnroll, typ); err != nil {
		return Enrolled{}, err
	}
	// The type says how the page enrolls it (checked when the page was built).
	page, _ := builtin.PageEnrollmentOf(typ)
	in := Enrollment{Type: typ, Label: page.Label, Activation: ActivationPasscode, Params: map[string]json.RawMessage{}}
	if page.Destination != "" {
		dest = strings.TrimSpace(dest)
		if page.Destination == "phone" {
			r, err := s.m.phoneCountryOf(ctx, sess.User, dest)
			if err != nil {
				return Enrolled{}, err
			}
			var refused *Error
			if dest, refused = typedPhone(dest, r.code); refused != nil {
				return Enrolled{}, refused
			}
		}
		v, _ := json.Marshal(dest)
		in.Params[page.Destination] = v
	}
	switch page.Activation {
	case builtin.PageByDevice:
		in.Activation = "" // a push device activates by registering, not with a code
		if sess.Kind == SessionLink {
			// The registration completes the enrollment, whether or not this page is still
			// open to see it: it spends the link, in its commit.
			in.link = sess.rec.LinkHash
		}
	case builtin.PageAtOnce:
		in.Activation = ActivationImmediate
		if sess.Kind == SessionLink {
			// Active at once, the enrollment completes with its commit, which spends the
			// link (builtin.Enrollment.Link).
			in.link = sess.rec.LinkHash
		}
	}
	tag := startedTag(*sess)
	if page.Destination != "" {
		if f, ok, err := s.startedElsewhere(ctx, sess.User, tag, typ, page.Destination, dest); err != nil {
			return Enrolled{}, err
		} else if ok {
			// The same form, posted again to another replica while the first still waits
			// on its sender (its session not saved yet): its code is on its way, so this
			// shows that set-up rather than replace it and send another.
			sess.State.Enrolling, sess.State.EnrollType, sess.State.ShownKey = f.ID, typ, randomText(32)
			return Enrolled{Factor: s.m.factorOf(f, time.Time{}), Output: map[string]any{}}, s.save(ctx, sess)
		}
	}
	if page.Activation != builtin.PageAtOnce && sess.rec.Hash != "" {
		if page.Destination == "" {
			dest = "" // none, whatever the form sent
		}
		// The same form posted again to another replica shows the first's set-up, never
		// a second key, nor a second code (enrollOnce).
		return s.enrollOnce(ctx, sess, typ, dest, func() (Enrolled, error) { return s.enrollNew(ctx, sess, typ, page, in, tag) })
	}
	return s.enrollNew(ctx, sess, typ, page, in, tag)
}

// enrollNew starts the enrollment in of typ by the session's user, replacing the one it
// had under way and the ones of typ the page started elsewhere (Enroll).
func (s *SelfService) enrollNew(ctx context.Context, sess *Session, typ string, page builtin.PageEnrollment, in Enrollment, tag string) (Enrolled, error) {
	if sess.State.Enrolling != "" {
		// A previous attempt this page never saw confirmed: it goes while still pending,
		// so abandoned seeds do not pile up; a push device that registered meanwhile (its
		// registration completes it, whether or not the page saw it) stays.
		if err := s.m.discardPending(ctx, SelfServiceActor, sess.User, sess.State.Enrolling, "enrollment abandoned before its activation"); err != nil {
			return Enrolled{}, err
		}
	}
	if err := s.replaceStarted(ctx, sess.User, typ); err != nil {
		return Enrolled{}, err
	}
	in.origin, in.startedBy = builtin.OriginSelfService, tag
	out, err := s.m.EnrollFactor(ctx, SelfServiceActor, sess.User, in)
	if le := (*Error)(nil); errors.As(err, &le) && page.Destination != "" && le.Field == "params."+page.Destination {
		// The page asked for it as its destination field.
		cp := *le
		cp.Field = "destination"
		return Enrolled{}, &cp
	}
	if err != nil {
		return Enrolled{}, err
	}
	if page.Activation == builtin.PageAtOnce {
		// Nothing left to confirm: the page shows the factor once, and a link session
		// ends with its link (no sign-in after an activation link, OWASP).
		sess.State.Enrolling, sess.State.EnrollType, sess.State.ShownKey = "", "", ""
		if sess.Kind == SessionLink {
			return out, s.End(ctx, *sess)
		}
		return out, s.save(ctx, sess)
	}
	sess.State.Enrolling, sess.State.EnrollType, sess.State.ShownKey = out.Factor.ID, typ, randomText(32)
	return out, s.save(ctx, sess)
}

// enrollOnceProvider keeps enrollOnce's records apart from Verify's, the admin API's and
// StartSignInOnce's.
const enrollOnceProvider = "selfservice:enroll"

// enrollOnce runs enroll, which starts an enrollment of typ (to dest, for a type that
// sends codes) in the stored session sess, once per session, type, destination and the
// enrollment the session had under way when it was loaded, within SignInAgain, across
// replicas. The set-up form posted twice (a double click) that a load balancer sends to
// two replicas would otherwise make two: the second replica, which loaded the session
// before the first saved it, replaced the first's factor under it (or, both reading
// before either stored, left two pending), and the key the browser showed need not be
// the one the session waits for; of a code set-up whose posts both read the factors
// before either stored its own (startedElsewhere's race), one answered that the number
// is taken, by the set-up it started itself. The second post
// waits for the first's answer while it runs, then answers the same factor and key, with
// the session as the first saved it. A post that loaded the session after the first
// saved it has another record: it starts again, as on one replica. So has a set-up the
// session starts after the one a record answers was confirmed or replaced: the record
// of the same form then names that one too, and the next in the chain is the new one's.
//
// The record (an idempotency record, kept SignInAgain past the set-up's deadline:
// onceTTL; swept as Verify's are) is keyed by a hash of the session's cookie, and what it
// answers, the key itself, is sealed with a key derived from the cookie too: the store,
// which holds only the cookie's hash, can open neither.
func (s *SelfService) enrollOnce(ctx context.Context, sess *Session, typ, dest string, enroll func() (Enrolled, error)) (Enrolled, error) {
	cookie, loaded, after := sess.Cookie, sess.State.Enrolling, ""
	aead := onceAEAD(cookie)
	// A running set-up renews its claim every RenewInterval (a slow sender, a slow store):
	// one whose replica died is taken over once its short lease passes, within seconds,
	// rather than once SignInAgain has; its record outlives it (onceTTL).
	idem := provider.Idempotency{Store: s.m.store, TTL: onceTTL(ctx), Lease: provider.RenewedLease,
		Renew: provider.RenewInterval, Now: s.m.now}
	for range enrollOnceChain {
		// after: the set-up a record answered that the session has since moved on from
		// (confirmed, replaced): the set-up started after it has a record of its own.
		id := sha256.Sum256([]byte("emfa enroll once\x00" + cookie + "\x00" + typ + "\x00" + dest + "\x00" + loaded + "\x00" + after))
		key := store.IdempotencyKey{Provider: enrollOnceProvider, WebhookID: hex.EncodeToString(id[:]), Fingerprint: typ}
		ad := []byte(key.WebhookID)
		var out Enrolled
		ans, served, _, err := idem.Do(ctx, key, func(context.Context) (provider.Answer, error) {
			// The request's own context: the enrollment's writes are made durable as they
			// are without this record.
			var err error
			if out, err = enroll(); err != nil {
				return provider.Answer{}, err
			}
			data, err := json.Marshal(enrolledOnce{Factor: out.Factor.ID, Output: out.Output})
			if err != nil {
				return provider.Answer{}, err
			}
			return provider.Answer{Status: 303, Body: seal(aead, data, ad)}, nil
		})
		if err != nil || served != provider.Replayed {
			return out, err
		}
		var first enrolledOnce
		data, err := unseal(aead, ans.Body, ad)
		if err != nil || json.Unmarshal(data, &first) != nil {
			return Enrolled{}, errors.New("self-service: enrollment record unreadable")
		}
		// The session as the first saved it: the page after this answer shows its set-up.
		again, err := s.Session(ctx, cookie)
		if err != nil {
			return Enrolled{}, err
		}
		*sess = again
		if sess.State.Enrolling == first.Factor {
			f, err := s.Pending(ctx, *sess)
			if err == nil {
				return Enrolled{Factor: f, Output: first.Output}, nil
			}
			if le := (*Error)(nil); !errors.As(err, &le) || le.Code != "enrollment_ended" {
				return Enrolled{}, err
			}
		}
		after = first.Factor // the session moved on from it: this is another set-up
	}
	return enroll() // set up again and again: without a record
}

// enrollOnceChain bounds the records enrollOnce reads for one form: the set-ups one
// session starts within SignInAgain.
const enrollOnceChain = 8

// enrolledOnce is what enrollOnce's record answers, sealed (onceAEAD).
type enrolledOnce struct {
	Factor string         `json:"factor"`
	Output map[string]any `json:"output"`
}

// onceAEAD seals enrollOnce's answers with a key derived from the session's cookie,
// which only the browser holds.
func onceAEAD(cookie string) cipher.AEAD {
	k := sha256.Sum256([]byte("emfa enroll once key\x00" + cookie))
	block, _ := aes.NewCipher(k[:]) // a 32-byte key: never an error
	aead, _ := cipher.NewGCM(block)
	return aead
}

// refuseSwitchedOff refuses, and records as action FAILED, an enrollment step of type typ
// on the page while typ is switched off org-wide: the page is open to anyone holding a
// link, who types the number a code goes to, and a switch thrown to stop an SMS fraud
// wave must stop those codes too, as it stops the sign-in's.
func (s *SelfService) refuseSwitchedOff(ctx context.Context, sess Session, action, typ string) error {
	off, err := s.m.switchedOff(ctx)
	if err != nil || !off[strings.ToLower(typ)] {
		return err
	}
	s.m.audit(ctx, SelfServiceActor, action, sess.User, "", "FAILED", "capability "+typ+" switched off org-wide")
	return &Error{Kind: Refused, Code: CodeSwitchedOff, Field: "type",
		Msg: "this sign-in method is switched off for now: choose another, or try again later"}
}

// CodeSwitchedOff is the code of a page's step refused for its type switched off org-wide.
const CodeSwitchedOff = "switched_off"

// Pending is the factor the session is enrolling, while it is still pending: the page
// shows it again (the same key, QR code or "code sent to") for as long as it waits,
// rather than start another. errEnrollmentGone once it is gone or no longer pending
// (replaced elsewhere, swept, or activated); not_enrolling when the session enrolls none.
func (s *SelfService) Pending(ctx context.Context, sess Session) (Factor, error) {
	if sess.Kind != SessionLink && sess.Kind != SessionUser {
		return Factor{}, ErrNoSession
	}
	if sess.State.Enrolling == "" {
		return Factor{}, conflict("not_enrolling", "", "no factor is waiting for its first code")
	}
	_, f, err := s.m.factor(ctx, sess.User, sess.State.Enrolling)
	if le := (*Error)(nil); errors.As(err, &le) && le.Kind == NotFound {
		return Factor{}, errEnrollmentGone(sess.Kind)
	}
	if err != nil {
		return Factor{}, err
	}
	if f.State != store.FactorPending {
		return Factor{}, errEnrollmentGone(sess.Kind)
	}
	return s.m.factorOf(f, time.Time{}), nil
}

// SamePending says whether starting an enrollment of typ to dest would start again the
// one the session is enrolling and that still waits: a second identical start (a form
// posted twice, Back then Continue) shows that one rather than discard it, which would
// throw away the key already scanned or the code already sent.
func (s *SelfService) SamePending(ctx context.Context, sess Session, typ, dest string) bool {
	if sess.State.Enrolling == "" || sess.State.EnrollType != typ {
		return false
	}
	_, f, err := s.m.factor(ctx, sess.User, sess.State.Enrolling)
	if err != nil || f.State != store.FactorPending {
		return false
	}
	if param := builtin.Destination(typ); param != "" {
		if param == "phone" {
			if r, err := s.m.phoneCountryOf(ctx, sess.User, dest); err == nil {
				if n, refused := typedPhone(dest, r.code); refused == nil {
					dest = n
				}
			}
		}
		return sameDestination(f.Params[param], dest)
	}
	return true
}

// sameDestination compares a stored destination with one typed, as typed by a person:
// a phone number by its digits alone, whatever it is grouped with or wrapped in (spaces,
// dots, dashes of any kind, slashes, parentheses, a tel: URI's scheme: the forms
// phone.Parse takes); an address by the mailbox it reaches (delivery.MailboxKey: letter
// case aside, its domain in either IDNA form), as the enrollment's check of a duplicate
// compares it, and nothing else: a hyphen or a parenthesis makes another mailbox.
func sameDestination(stored, typed string) bool {
	if stored != "" && !strings.Contains(stored, "@") {
		digits := func(v string) string {
			return strings.Map(func(r rune) rune {
				if r == '+' || '0' <= r && r <= '9' {
					return r
				}
				return -1
			}, v)
		}
		return digits(stored) == digits(typed)
	}
	return stored != "" && delivery.MailboxKey(strings.TrimSpace(stored)) == delivery.MailboxKey(strings.TrimSpace(typed))
}

// startedTag is the tag of sess its enrollments keep (builtin.Enrollment.StartedBy): a
// hash of its cookie's hash, which names it in the store and is never shown.
func startedTag(sess Session) string {
	sum := sha256.Sum256([]byte("emfa started by\x00" + sess.rec.Hash))
	return hex.EncodeToString(sum[:12])
}

// startedElsewhere finds the factor of typ to dest that the session tagged tag started and
// that is still pending, though the session does not know it yet: the same set-up posted
// again, to another replica, while the first waits on its sender (forms of one session
// take turns only within a process, formLocks).
func (s *SelfService) startedElsewhere(ctx context.Context, user, tag, typ, param, dest string) (store.Factor, bool, error) {
	u, err := s.m.user(ctx, user)
	if err != nil {
		return store.Factor{}, false, err
	}
	fs, err := s.m.store.ListFactors(ctx, u.ID)
	if err != nil {
		return store.Factor{}, false, err
	}
	for _, f := range fs {
		if f.Type == typ && f.State == store.FactorPending && builtin.OriginOf(&f) == builtin.OriginSelfService &&
			builtin.StartedBy(&f) == tag && sameDestination(f.Params[param], dest) {
			return f, true, nil
		}
	}
	return store.Factor{}, false, nil
}

// replaceStarted deletes user's factors of typ that the page started (in another
// session: the link opened again in another browser, the page in another tab) and that
// are still pending: a new enrollment of the type replaces them, as a newer link
// replaces an older one, rather than leave them pending until the sweep, where a code
// factor's would also refuse the same destination again. A factor that became active,
// and one an admin enrolled (or an import pre-provisioned), stay.
func (s *SelfService) replaceStarted(ctx context.Context, user, typ string) error {
	u, err := s.m.user(ctx, user)
	if err != nil {
		return err
	}
	fs, err := s.m.store.ListFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Type == typ && f.State == store.FactorPending && builtin.OriginOf(&f) == builtin.OriginSelfService {
			if err := s.m.discardPending(ctx, SelfServiceActor, user, f.ID, "replaced by a newer enrollment on the self-service page"); err != nil {
				return err
			}
		}
	}
	return nil
}

// errEnrollmentGone is Confirm's answer once the factor being enrolled is gone: replaced
// by an enrollment of its type started elsewhere on the page, or swept.
func errEnrollmentGone(kind string) *Error {
	msg := "this set-up was started again elsewhere, or waited too long; start again"
	if kind == SessionLink {
		msg = "this set-up was started again elsewhere, or waited too long; open your link again"
	}
	return &Error{Kind: Conflict, Code: "enrollment_ended", Msg: msg}
}

// errLinkSpent: the link of a Confirm was spent or replaced while its code was checked.
var errLinkSpent = errors.New("self-service: link spent or replaced")

// Confirm checks the first code of the factor being enrolled and makes it active. On a
// link session the link is spent in the commit that activates the factor: of two
// browsers racing, one wins, and the other's code is not used up; a crash leaves both or
// neither.
func (s *SelfService) Confirm(ctx context.Context, sess *Session, code string) (Factor, error) {
	if sess.Kind != SessionLink && sess.Kind != SessionUser {
		return Factor{}, ErrNoSession
	}
	id := sess.State.Enrolling
	if id == "" {
		return Factor{}, conflict("not_enrolling", "", "no factor is waiting for its first code")
	}
	if len(code) > 16 {
		return Factor{}, invalid("invalid_field", "code", "is too long")
	}
	linkSpent := func() (Factor, error) {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceConfirm, sess.User, id, "FAILED", "link spent or replaced")
		return Factor{}, ErrLinkSpent
	}
	var spend func(w store.Writer) error
	if sess.Kind == SessionLink {
		// A link spent already is said so before any code is checked.
		st, err := s.linkStateOf(ctx, sess.rec.LinkHash)
		if err != nil {
			return Factor{}, err
		}
		if st == linkUsed {
			// Spent by this very enrollment, the same form posted at once (loaded before
			// the first one's endLink): done, as the first says.
			if f, err := s.m.GetFactor(ctx, sess.User, id); err == nil && f.State == FactorActive {
				return f, nil
			}
		}
		if st == linkGone || st == linkUsed {
			return linkSpent()
		}
		// Expired while its session lasted (one opened before its session's end was the
		// link's): the store refuses to spend it as well.
		if st == linkExpired {
			s.m.audit(ctx, SelfServiceActor, ActionSelfServiceConfirm, sess.User, id, "FAILED", "link expired")
			return Factor{}, ErrLinkExpired
		}
		spend = func(w store.Writer) error {
			err := w.SpendLink(ctx, sess.rec.LinkHash, s.m.now())
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				return errLinkSpent
			}
			return err
		}
	}
	f, err := s.m.activateFactor(ctx, SelfServiceActor, sess.User, id, strings.TrimSpace(code), spend)
	if errors.Is(err, errLinkSpent) {
		return linkSpent()
	}
	if le := (*Error)(nil); errors.As(err, &le) && le.Kind == NotFound && le.Field == "factor" {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceConfirm, sess.User, id, "FAILED", "factor gone: replaced or swept")
		return Factor{}, errEnrollmentGone(sess.Kind)
	}
	if le := (*Error)(nil); errors.As(err, &le) && le.Code == "invalid_passcode" {
		return Factor{}, s.whyRefused(ctx, id, le)
	}
	if err != nil {
		return Factor{}, err
	}
	if sess.Kind == SessionLink {
		// No automatic sign-in after an activation link (OWASP): the session ends.
		err = s.endLink(ctx, sess, f.ID)
	} else {
		sess.State.Enrolling, sess.State.EnrollType, sess.State.ShownKey = "", "", ""
		err = s.save(ctx, sess)
	}
	if errors.Is(err, ErrNoSession) || errors.Is(err, store.ErrNotFound) {
		// Ended meanwhile (signed out in another tab): it stays so, and the factor its
		// code proved is active all the same; the page says so, not "session ended".
		err = nil
	}
	return f, err
}

// linkDoneGrace is how long a link session outlives the enrollment that completed it
// (endLink): long enough for a form posted twice, too short to be of use otherwise.
const linkDoneGrace = time.Minute

// endLink ends a link session whose enrollment completed factor: it can do nothing more
// (its link is spent), but for a short while (linkDoneGrace) it remembers factor, so
// that the same form posted again (a double click: its request carries the cookie the
// first answer clears) answers the set-up done (linkDone), not "your session has ended".
func (s *SelfService) endLink(ctx context.Context, sess *Session, factor string) error {
	sess.State = SessionState{User: sess.State.User, Done: factor}
	if until := s.m.now().Add(linkDoneGrace); until.Before(sess.rec.ExpiresAt) {
		sess.rec.ExpiresAt = until
	}
	return s.save(ctx, sess)
}

// linkDone is the factor a link session's enrollment completed (endLink), active.
func (s *SelfService) linkDone(ctx context.Context, sess Session) (Factor, bool) {
	if sess.Kind != SessionLink || sess.State.Done == "" {
		return Factor{}, false
	}
	f, err := s.m.GetFactor(ctx, sess.User, sess.State.Done)
	return f, err == nil && f.State == FactorActive
}

// Refusals of a first code that no code typed now would change (whyRefused).
const (
	// CodeFactorLocked: too many wrong codes locked the factor; RetryAfter says how long.
	CodeFactorLocked = "factor_locked"
	// CodeCodeSpent: the code sent can no longer activate (its tries used up, or expired):
	// only a new code can.
	CodeCodeSpent = "code_spent"
)

// whyRefused tells a refused first code apart from a wrong one: a factor locked by too
// many wrong codes, or a sent code whose tries are used up (or that expired), refuses
// even the right code, and the page must say so and what to do, not "wrong code". The
// engine's refusal carries no cause a caller may branch on; the factor and its
// activation transaction say it.
func (s *SelfService) whyRefused(ctx context.Context, id string, wrong *Error) *Error {
	f, err := s.m.store.GetFactor(ctx, id)
	if err != nil {
		return wrong
	}
	now := s.m.now()
	if f.LockedUntil.After(now) {
		return &Error{Kind: Refused, Code: CodeFactorLocked, Field: "passcode", RetryAfter: f.LockedUntil.Sub(now),
			Msg: "too many wrong codes: this factor is locked for a while"}
	}
	key := builtin.ActivationTransaction(&f)
	if key == "" {
		return wrong
	}
	// A transaction the sweeper deleted (an hour past the code's expiry) is a code that
	// can no longer activate, as one expired: only a new code can.
	tx, err := s.m.store.GetTransaction(ctx, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) || err == nil && tx.Status == string(provider.StatusPending) && now.Before(tx.ExpiresAt) {
		return wrong
	}
	return &Error{Kind: Refused, Code: CodeCodeSpent, Field: "passcode",
		Msg: "the code sent can no longer be used (tried too many times, or expired): send a new code"}
}

// ConfirmFor is Confirm for a form of the enrollment of factor id: a form of an older
// one (another tab of this browser started a new set-up in the same session since) is
// refused as the set-up ended, as a second browser is, rather than check its code
// against the newer factor. id "" is a form that does not say (Confirm).
//
// A form of a set-up that its first code has already completed (posted twice: a double
// click, a reload that posts again) answers that factor, active, as the first did: the
// person sees the set-up done, not an error about it.
func (s *SelfService) ConfirmFor(ctx context.Context, sess *Session, id, code string) (Factor, error) {
	if sess.Kind != SessionLink && sess.Kind != SessionUser {
		// The sign-in form's session, which anyone has for the asking, enrolls nothing:
		// refused before any record, lest a script write rows of its choosing (a factor id,
		// under the user name of a sign-in it started) into the trail, unbounded.
		return Factor{}, ErrNoSession
	}
	if f, ok := s.linkDone(ctx, *sess); ok && (id == "" || id == f.ID) {
		return f, nil
	}
	if id != "" && id != sess.State.Enrolling && sess.Kind == SessionUser {
		if f, err := s.m.GetFactor(ctx, sess.User, id); err == nil && f.State == FactorActive {
			return f, nil
		}
	}
	if id != "" && id != sess.State.Enrolling {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceConfirm, sess.User, id, "FAILED", "a newer set-up replaced it in this session")
		return Factor{}, errEnrollmentGone(sess.Kind)
	}
	return s.Confirm(ctx, sess, code)
}

// Push enrollment states.
const (
	PushPending = "pending"
	PushActive  = "active"
	// PushEnded: the device can no longer register for this session (its link spent by
	// another enrollment, replaced or expired; the pending factor gone or past its
	// activation lifetime). The page stops waiting and says so.
	PushEnded = "ended"
)

// PushStatus says whether the push device being enrolled has registered, or can no
// longer. It changes nothing: the page polls it.
func (s *SelfService) PushStatus(ctx context.Context, sess Session) (string, error) {
	if sess.Kind != SessionLink && sess.Kind != SessionUser {
		return "", ErrNoSession
	}
	if sess.State.EnrollType != builtin.TypePush || sess.State.Enrolling == "" {
		return "", conflict("not_enrolling", "", "no push device is waiting to register")
	}
	f, err := s.m.GetFactor(ctx, sess.User, sess.State.Enrolling)
	var le *Error
	if errors.As(err, &le) && le.Kind == NotFound {
		return PushEnded, nil // deleted, or swept
	}
	if err != nil {
		return "", err
	}
	if f.State == FactorActive {
		return PushActive, nil // its registration spent the link, if any, in its commit
	}
	if !s.m.now().Before(f.Created.Add(s.m.lifetime)) {
		return PushEnded, nil // the sweep deletes it; the code no longer registers
	}
	// Its activation code, the one transaction of a device not registered yet, lasts
	// push.activationLifetime (10 minutes by default), far less: past it no device
	// registers with it. (Spent instead: the device registered since f was read.)
	if txs, err := s.m.store.ListPendingTransactions(ctx, f.ID, s.m.now()); err != nil {
		return "", err
	} else if len(txs) == 0 {
		if f, err := s.m.GetFactor(ctx, sess.User, f.ID); err == nil && f.State == FactorActive {
			return PushActive, nil
		}
		return PushEnded, nil
	}
	if sess.Kind == SessionLink {
		// A device enrolled with a link registers only while the link is usable.
		st, err := s.linkStateOf(ctx, sess.rec.LinkHash)
		if err != nil {
			return "", err
		}
		if st != linkOK {
			return PushEnded, nil
		}
	}
	return PushPending, nil
}

// errPushEnded is FinishPush's answer once the device can no longer register.
func errPushEnded(kind string) *Error {
	msg := "this enrollment can no longer complete; add the device again"
	if kind == SessionLink {
		msg = "this enrollment can no longer complete; open a new link"
	}
	return &Error{Kind: Conflict, Code: "enrollment_ended", Msg: msg}
}

// FinishPush ends a push enrollment once the device has registered: a link session spends
// its link and ends (no sign-in after a link), a signed-in one goes on. Before the device
// registers it answers PushPending and changes nothing.
func (s *SelfService) FinishPush(ctx context.Context, sess *Session) (string, Factor, error) {
	if f, ok := s.linkDone(ctx, *sess); ok && f.Type == builtin.TypePush {
		return PushActive, f, nil
	}
	state, err := s.PushStatus(ctx, *sess)
	if err == nil && state == PushEnded {
		// The device that can no longer register goes now rather than with the sweep.
		if err := s.m.discardPending(ctx, SelfServiceActor, sess.User, sess.State.Enrolling, "enrollment abandoned before its activation"); err != nil {
			return "", Factor{}, err
		}
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceConfirm, sess.User, sess.State.Enrolling, "FAILED", "push enrollment can no longer complete")
		return state, Factor{}, errPushEnded(sess.Kind)
	}
	if err != nil || state != PushActive {
		return state, Factor{}, err
	}
	f, err := s.m.GetFactor(ctx, sess.User, sess.State.Enrolling)
	if err != nil {
		return "", Factor{}, err
	}
	if sess.Kind == SessionLink {
		if err := s.st.SpendLink(ctx, sess.rec.LinkHash, s.m.now()); err != nil &&
			!errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return "", Factor{}, err
		}
		// The registration spent the link in its commit; this spends one it could not (a
		// device enrolled before it did so). Spent already or replaced: the device is
		// registered all the same.
		s.pushRegistered(ctx, sess.User, f.ID)
		if err := s.endLink(ctx, sess, f.ID); err != nil && !errors.Is(err, ErrNoSession) {
			return "", Factor{}, err
		}
		return PushActive, f, nil
	}
	s.pushRegistered(ctx, sess.User, f.ID)
	sess.State.Enrolling, sess.State.EnrollType, sess.State.ShownKey = "", "", ""
	return PushActive, f, s.save(ctx, sess)
}

// pushRegisteredProvider keeps pushRegistered's records apart from the other
// idempotency records.
const pushRegisteredProvider = "selfservice:push"

// pushRegistered records that user's push device factor registered, once: "continue"
// posted twice (the script's and the button's, a double click) to two replicas that
// both loaded the session before either saved it both find the device active, and the
// trail would say twice that it registered. The record and a mark kept SignInAgain under
// the factor's id are one commit; the continue that finds the mark written records
// nothing. As appendApart, a loss is logged.
func (s *SelfService) pushRegistered(ctx context.Context, user, factor string) {
	now := s.m.now()
	ev := s.m.record(ctx, SelfServiceActor, ActionSelfServiceConfirm, user, factor, "SUCCESS", "push device registered")
	key := store.IdempotencyKey{Provider: pushRegisteredProvider, WebhookID: factor, Fingerprint: builtin.TypePush}
	ctx, cancel := provider.Detach(ctx)
	defer cancel()
	err := s.m.store.Update(ctx, func(w store.Writer) error {
		claim, err := w.RecordIdempotency(ctx, key, randomText(16), 200, nil, now, now.Add(SignInAgain), now)
		if err != nil || !claim.Claimed {
			return err
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		if s.m.observer != nil {
			s.m.observer.StoreError("audit")
		}
		s.m.log.Error("audit write", "action", ev.Resource, "err", err)
	}
}

// Resend sends the factor being enrolled a new code.
func (s *SelfService) Resend(ctx context.Context, sess *Session) error {
	if sess.State.Enrolling == "" {
		return conflict("not_enrolling", "", "no factor is waiting for its first code")
	}
	if sess.Kind == SessionLink {
		if err := s.linkUsable(ctx, *sess, ActionSelfServiceResend); err != nil {
			return err
		}
	}
	if err := s.refuseSwitchedOff(ctx, *sess, ActionSelfServiceResend, sess.State.EnrollType); err != nil {
		return err
	}
	_, err := s.m.ResendActivation(ctx, SelfServiceActor, sess.User, sess.State.Enrolling)
	if off := s.userOff(ctx, *sess, err); off == ErrUserOff {
		return off
	}
	if le := (*Error)(nil); errors.As(err, &le) && le.Code == "activation_not_sent" {
		// Kept for the page after the refusal's redirect, which says how long is left on
		// each reload without posting again.
		sess.State.SendAfter = time.Time{}
		if le.RetryAfter > 0 {
			sess.State.SendAfter = s.m.now().Add(le.RetryAfter)
		}
		if serr := s.save(ctx, sess); serr != nil {
			return serr
		}
	}
	return err
}

// Sign-in methods of the built-in types (builtin.SignInMethods has them all).
const (
	MethodApp  = "app"  // a TOTP or HOTP code
	MethodPush = "push" // an approval on a registered push device
)

// StartSignIn begins a sign-in: for a method whose code is sent (SMS, e-mail, a call) it
// sends one to the user's factor of its types, and for an approval it asks the user's
// device. Whether the user or factor exists never shows: the answer is the same, and the
// code typed next fails. Under WithLaters (the page's), the challenge is started here and
// its delivery and record are left to the Laters, so that neither the send's time nor its
// record's write is in the answer's.
func (s *SelfService) StartSignIn(ctx context.Context, sess *Session, username, method string) error {
	m, ok := builtin.SignInMethodOf(method)
	if !ok {
		return invalid("invalid_field", "method", "unknown sign-in method")
	}
	// As typed, or pasted from a directory, with a space before or after: no name has one.
	username = strings.TrimSpace(username)
	if CheckName(username) != nil {
		username = ""
	}
	sess.State = SessionState{User: username, Method: method}
	// A new sign-in is a sign-in of its own, however the cookie it came with ended.
	sess.pending, sess.pendsTil = "", time.Time{}
	if m.By == builtin.SignInBySentCode {
		// The same for every user name, whether or not a code goes out.
		if tries, life, ok := s.codeLimits(m); ok {
			sess.State.MaxTries, sess.State.CodeUntil = tries, s.m.now().Add(life)
		}
	}
	approval := m.By == builtin.SignInByApproval
	if approval && username != "" {
		// An approval asks the user's phone: each counts, lest the page become a way to
		// pester (or tire into approving) any user whose name is known.
		if err := s.reserveSignIn(ctx, username); err != nil {
			sess.State = SessionState{}
			return err
		}
	}
	off, err := s.m.switchedOff(ctx)
	if err != nil {
		return err
	}
	starts := m.By != builtin.SignInByCode
	later := latersOf(ctx)
	if starts && username != "" && !slices.ContainsFunc(m.Types, func(typ string) bool { return !off[typ] }) {
		// Switched off org-wide (an SMS fraud wave, a vendor outage): nothing is sent, and
		// the answer is the same as ever; the code typed next fails.
		later.run(ctx, func(ctx context.Context) {
			s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignInStart, username, "", "FAILED", "capability "+strings.Join(m.Types, ", ")+" switched off org-wide")
		})
	} else if starts && username != "" {
		for _, e := range s.m.engines {
			list, err := e.Enrollments(ctx, username)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(list, func(en provider.Enrollment) bool {
				return slices.Contains(m.Types, en.Capability) && !off[en.Capability]
			})
			if i < 0 {
				continue
			}
			capability := list[i].Capability
			ictx, held := ctx, &builtin.Later{}
			if later != nil {
				ictx = builtin.WithLater(ctx, held) // the code or the push goes out after the answer
			}
			out, err := e.Initiate(ictx, provider.Request{Capability: capability, ID: list[i].ID, Username: username,
				Attributes: map[string]any{"username": username}})
			if err != nil {
				return err
			}
			if out.Status == provider.StatusPending {
				sess.State.Factor, sess.State.Capability, sess.State.Tx = list[i].ID, capability, out.TransactionID
				if n, ok := out.Attributes["number"].(int); ok {
					sess.State.Number = n
				}
			}
			factor := list[i].ID
			later.run(ctx, func(ctx context.Context) {
				// What the delivery decided (a code sent, or FAILED by a send that failed) is
				// what is recorded; the page's answer was the same either way.
				if sent, ok, err := held.Run(ctx); ok && err != nil {
					s.m.log.Error("self-service: sign-in delivery", "factor", factor, "err", err)
					out = provider.Failed("delivery not recorded: " + err.Error())
				} else if ok {
					out = sent
					if out.Status == provider.StatusFailed { // the page said what it says of a code sent
						s.m.log.Warn("self-service: sign-in code not sent", "factor", factor, "reason", out.Reason)
					}
				}
				s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignInStart, username, factor, string(out.Status), out.Reason)
			})
			break
		}
	}
	if approval {
		sess.State.Started = s.m.now()
		if _, nm := s.pushSignIn(); sess.State.Tx == "" && nm {
			// No challenge (no such user or device): the page shows a number all the same.
			sess.State.Number = decoyNumber()
		}
	}
	return s.save(ctx, sess)
}

// Laters runs a sign-in's delivery (a code's message, a push's notification) and its
// record after the page has answered (WithLaters), so that the time of the answer is the
// same whether a user with such a factor exists or not: a mail server's or an SMS
// gateway's round trip otherwise told them apart. Run runs job, to its end, with a context
// of its own; it is the caller's to bound how many run at once.
type Laters interface {
	Run(job func(context.Context))
}

type latersKey struct{}

// WithLaters marks ctx, a sign-in start's (StartSignIn): its delivery and record are
// left to l.
func WithLaters(ctx context.Context, l Laters) context.Context {
	return context.WithValue(ctx, latersKey{}, l)
}

// laters is the Laters of a context, nil for none: then each job runs at once.
type laters struct{ l Laters }

func latersOf(ctx context.Context) *laters {
	if l, ok := ctx.Value(latersKey{}).(Laters); ok && l != nil {
		return &laters{l}
	}
	return nil
}

// run runs job by the Laters, or at once, with ctx, when there is none.
func (l *laters) run(ctx context.Context, job func(context.Context)) {
	if l == nil {
		job(ctx)
		return
	}
	l.l.Run(job)
}

// SignInAgain is how long the sign-in form posted again (a double click on Continue)
// answers the first's sign-in rather than start another.
const SignInAgain = 30 * time.Second

// onceTTL is how long StartSignInOnce's and enrollOnce's record is kept: SignInAgain
// past the latest its call can answer, its deadline (the request's; without one, as long
// as a request's can be: maxOnceCall) and the writes' WriteGrace. A renewal moves a
// running record's lease, not its expiry, and a record past its expiry is claimed anew
// though its owner still runs: kept SignInAgain from its claim, a start slower than that
// (a gateway's 45 s under a requestTimeout of a minute) was started again by the second
// post while it ran, and the first then could not record its answer.
func onceTTL(ctx context.Context) time.Duration {
	left := maxOnceCall
	if dl, ok := ctx.Deadline(); ok {
		left = max(time.Until(dl), 0)
	}
	return SignInAgain + left + provider.WriteGrace
}

// maxOnceCall is the most a request can run (server.requestTimeout's bound).
const maxOnceCall = 5 * time.Minute

// signInOnceProvider keeps StartSignInOnce's records apart from Verify's and the admin
// API's (a credentialPrefix has no colon; the admin API's are "admin:…").
const signInOnceProvider = "selfservice:signin"

// StartSignInOnce runs start, which starts the sign-in of the form of anonymous cookie
// form for username by method (the page's budgets, then StartSignIn) and returns the
// sealed cookie of the sign-in started, once per form, user name (folded) and method
// within SignInAgain, across replicas: the form posted twice (a double click on Continue)
// that a load balancer sends to two replicas would otherwise send two codes (or pushes),
// count twice against the budgets, and leave the first code, which arrives first, not
// right. The second post waits for the first's answer while it runs, then answers its
// cookie (again): the same page, nothing sent, nothing counted. A start that failed is
// not remembered: the next post starts afresh.
//
// The record (an idempotency record, kept SignInAgain past the start's deadline:
// onceTTL; swept as Verify's are) is keyed by a MAC of the form's cookie, so one
// browser's never answers another's, and is written for a name no one has as for a user:
// the answer, the budgets and the store's writes are the same, whoever exists. A method
// that sends nothing (an app's code) does not need it, and starts without one, storing
// nothing.
func (s *SelfService) StartSignInOnce(ctx context.Context, form, username, method string,
	start func(context.Context) (cookie string, err error)) (cookie string, again bool, err error) {
	if m, ok := builtin.SignInMethodOf(method); !ok || m.By == builtin.SignInByCode || form == "" {
		cookie, err = start(ctx)
		return cookie, false, err
	}
	tag := s.anonMAC("signin-start", []byte(form+"\x00"+store.FoldName(strings.TrimSpace(username))+"\x00"+method))
	key := store.IdempotencyKey{Provider: signInOnceProvider, WebhookID: hex.EncodeToString(tag), Fingerprint: method}
	// A running start renews its claim every RenewInterval (a slow gateway): one whose
	// replica died is taken over once its short lease passes, within seconds, and started
	// again, rather than once SignInAgain has; its record outlives it (onceTTL).
	idem := provider.Idempotency{Store: s.m.store, TTL: onceTTL(ctx), Lease: provider.RenewedLease,
		Renew: provider.RenewInterval, Now: s.m.now}
	// The answer is the sign-in's sealed cookie, which is the sign-in: whoever holds it
	// reads its CSRF token off the step's page and, once the phone approves, may post
	// "continue" first. The store, which keeps sessions and links by their hash only, keeps
	// it sealed under a key of the form's cookie and the page's key, neither of which it
	// holds.
	aead := s.signInOnceAEAD(form)
	ad := []byte(key.WebhookID)
	ans, served, _, err := idem.Do(ctx, key, func(context.Context) (provider.Answer, error) {
		// The request's own context: the start's writes are the sign-in's, made durable
		// as they are without this record, and no unit of it records an answer here.
		c, err := start(ctx)
		if err != nil {
			return provider.Answer{}, err
		}
		return provider.Answer{Status: 303, Body: seal(aead, []byte(c), ad)}, nil
	})
	if err != nil {
		return "", false, err
	}
	if c, err := unseal(aead, ans.Body, ad); err == nil {
		return string(c), served == provider.Replayed, nil
	}
	if served != provider.Replayed {
		return "", false, errors.New("self-service: sign-in record unreadable") // sealed just now: never
	}
	// A record this replica cannot open: an older emfa's, which kept the cookie as it is
	// (a rolling upgrade), or one sealed under another page key. Refused, every post of
	// the form failed until the record's end (onceTTL, minutes); the sign-in starts
	// again instead, as a form without a record does.
	s.m.log.Warn("self-service: sign-in form's record unreadable; the sign-in starts again")
	cookie, err = start(ctx)
	return cookie, false, err
}

// signInOnceAEAD seals StartSignInOnce's answers for the form of anonymous cookie form,
// with a key derived from the page's key and that cookie.
func (s *SelfService) signInOnceAEAD(form string) cipher.AEAD {
	block, _ := aes.NewCipher(s.anonMAC("signin-start-seal", []byte(form))) // a 32-byte key: never an error
	aead, _ := cipher.NewGCM(block)
	return aead
}

// codeLimits are the tries and lifetime of the codes a sign-in method sends, as the first
// engine serving one of its types says (builtin.Engine.CodeLimits).
func (s *SelfService) codeLimits(m builtin.SignInMethod) (tries int, lifetime time.Duration, ok bool) {
	for _, typ := range m.Types {
		for _, e := range s.m.engines {
			if tries, lifetime, ok = e.CodeLimits(typ); ok {
				return tries, lifetime, true
			}
		}
	}
	return 0, 0, false
}

// pushSignIn is how the engine serving push behaves: its challenges' lifetime, and
// whether they show a number to type (zero values when no engine serves push).
func (s *SelfService) pushSignIn() (lifetime time.Duration, numberMatching bool) {
	for _, e := range s.m.engines {
		if l, nm, ok := e.PushSignIn(); ok {
			return l, nm
		}
	}
	return 0, false
}

// decoyNumber is a number from 10 to 99, as a real challenge's.
func decoyNumber() int {
	n, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil {
		return 42
	}
	return int(n.Int64()) + 10
}

// ErrSignIn is every failed sign-in, whatever the reason.
var ErrSignIn = &Error{Kind: Refused, Code: "signin_failed", Msg: "that did not work: check the user name and the code, or wait and try again"}

// signInLimited refuses a page sign-in whose user name's attempts reached
// builtin.SignInLimits, saying when to try again.
func signInLimited(retry time.Duration) *Error {
	retry = max(retry, time.Second)
	wait := fmt.Sprintf("%d minutes", int(retry.Minutes())+1)
	if retry >= 2*time.Hour {
		wait = fmt.Sprintf("%d hours", int(retry.Hours())+1)
	}
	return &Error{Kind: Refused, Code: "signin_limited", RetryAfter: retry,
		Msg: "too many sign-in attempts for this user name: try again in " + wait + " (signing in elsewhere is not affected)"}
}

// reserveSignIn counts one sign-in attempt on the page for username (a code checked, a
// push sent) against builtin.SignInLimits, before it is made: the store counts for every
// replica, and of parallel attempts none passes the limit. A name no one has counts the
// same, so the refusal tells nothing of who exists.
func (s *SelfService) reserveSignIn(ctx context.Context, username string) error {
	now := s.m.now()
	err := s.m.store.ReserveSend(ctx, []string{builtin.SignInKey(username)}, builtin.SignInLimits, now)
	var rl *store.RateLimitError
	if errors.As(err, &rl) {
		s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, username, "", "FAILED", "page sign-in limit reached; not checked")
		return signInLimited(rl.RetryAt.Sub(now))
	}
	return err
}

// Refusals of a sign-in's code that keep the sign-in (the page asks again, sends
// nothing), or say why no code typed now would do.
var (
	// ErrWrongCode: not right; the same code sent (or the app's next one) may be typed
	// again, Session.TriesLeft times more for a code sent.
	ErrWrongCode = &Error{Kind: Refused, Code: CodeWrongCode, Field: "code", Msg: "that code is not right; try again"}
	// ErrSignInCodeSpent: the code sent was mistyped too often, or expired: only a new one
	// can sign in.
	ErrSignInCodeSpent = &Error{Kind: Refused, Code: CodeCodeSpent, Field: "code",
		Msg: "that code can no longer be used (mistyped too many times, or expired): request a new code"}
)

// CodeWrongCode is the code of ErrWrongCode.
const CodeWrongCode = "wrong_code"

// FinishSignIn checks the code through the engine's path for the page (ValidateSignIn):
// a wrong code does not count toward the factor's lockout, for anyone who knows a user
// name could then lock its owner out of Verify; the user name's page attempts are
// limited instead (reserveSignIn), and a factor locked by Verify's failures is refused.
// On success the session is replaced by a signed-in one under a new cookie.
//
// A wrong code keeps the sign-in: ErrWrongCode, and the same code sent may be typed
// again, with nothing sent, until its type's maxAttempts are used up or it expires
// (ErrSignInCodeSpent: request a new one). The count travels in the sealed sign-in
// (sess is sealed again, under a new cookie): the same for a user name no one has, so
// the answers tell nothing of who exists; the challenge's own count in the store is what
// bounds the guesses, whatever cookie is sent. The one answer that does tell is a factor
// locked since its code was sent (CodeFactorLocked): the page's codes lock nothing, so
// only Verify's failures, which come after the user's password, can have locked it.
func (s *SelfService) FinishSignIn(ctx context.Context, sess *Session, code string) (Session, error) {
	st := sess.State
	if st.Method == "" || st.User == "" || code == "" || len(code) > 16 {
		return Session{}, ErrSignIn
	}
	code = strings.TrimSpace(code)
	m, _ := builtin.SignInMethodOf(st.Method)
	if st.MaxTries > 0 && st.Tries >= st.MaxTries || !st.CodeUntil.IsZero() && !s.m.now().Before(st.CodeUntil) {
		return Session{}, ErrSignInCodeSpent // not checked: no code typed now would do
	}
	if err := s.reserveSignIn(ctx, st.User); err != nil {
		return Session{}, err
	}
	off, err := s.m.switchedOff(ctx)
	if err != nil {
		return Session{}, err
	}
	for _, e := range s.m.engines {
		list, err := e.Enrollments(ctx, st.User)
		if err != nil {
			return Session{}, err
		}
		for _, en := range list {
			if !slices.Contains(m.Types, en.Capability) || off[en.Capability] {
				continue
			}
			if st.Tx != "" && en.ID != st.Factor {
				continue
			}
			out, err := e.ValidateSignIn(ctx, provider.Request{Capability: en.Capability, ID: en.ID, TransactionID: st.Tx,
				Username: st.User, Passvalue: code, Attributes: map[string]any{"username": st.User, "passvalue": code}})
			if err != nil {
				return Session{}, err
			}
			if out.Status == provider.StatusSuccess {
				u, err := s.m.store.GetUser(ctx, st.User)
				if err != nil {
					return Session{}, err
				}
				if err := s.claimSignIn(ctx, *sess); err != nil {
					return Session{}, err
				}
				s.End(ctx, *sess)
				// From here on, the name as created, whatever the case it was typed in.
				next, err := s.signedIn(ctx, en.ID, u, "")
				if errors.Is(err, errProofReset) {
					return Session{}, ErrSignIn
				}
				return next, err
			}
			s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, st.User, en.ID, "FAILED", out.Reason)
		}
	}
	if m.By == builtin.SignInByApproval {
		return Session{}, ErrSignIn // a push's sign-in takes no code
	}
	if st.Tx != "" && st.MaxTries > 0 {
		if f, err := s.m.store.GetFactor(ctx, st.Factor); err == nil && f.LockedUntil.After(s.m.now()) {
			// Refused, right or wrong, until the lock ends; the code sent expires meanwhile:
			// a new one then.
			sess.State.Tries, sess.State.LockedUntil = st.MaxTries, f.LockedUntil
			if err := s.save(ctx, sess); err != nil {
				return Session{}, err
			}
			wait := f.LockedUntil.Sub(s.m.now())
			return Session{}, &Error{Kind: Refused, Code: CodeFactorLocked, Field: "code", RetryAfter: wait,
				Msg: "too many wrong codes were typed for this factor elsewhere: it is locked for a while"}
		}
	}
	if st.MaxTries == 0 {
		return Session{}, ErrWrongCode // an app's code: the next one it shows may be typed
	}
	sess.State.Tries++
	if err := s.save(ctx, sess); err != nil {
		return Session{}, err
	}
	if sess.State.Tries >= sess.State.MaxTries {
		return Session{}, ErrSignInCodeSpent // that was the last try: it says so at once
	}
	return Session{}, ErrWrongCode
}

// Push sign-in results, as the page's status endpoint says them.
const (
	SignInPending = "pending"
	SignInSuccess = "success"
	SignInDenied  = "denied"
	SignInTimeout = "timeout"
)

// PushSignInStatus polls the push challenge of a sign-in through the engine's Result
// (Verify's path). A sign-in with no challenge (no such user or device) is pending, then
// times out when a real challenge would, so the page does not tell who exists.
func (s *SelfService) PushSignInStatus(ctx context.Context, sess Session) (string, error) {
	st := sess.State
	if m, _ := builtin.SignInMethodOf(st.Method); sess.Kind != SessionAnon || m.By != builtin.SignInByApproval {
		return "", ErrNoSession
	}
	if st.Tx == "" {
		// No challenge was started: it ends as a real one would, unanswered, after the
		// reads a real one's poll makes, on nothing. Without them it answered a store's
		// round trips sooner, and the poll, which anyone may send as often as they like
		// (the page's budgets count sign-ins, not polls), timed, told who exists.
		if err := s.pollNothing(ctx, st.User); err != nil {
			return "", err
		}
		if l, _ := s.pushSignIn(); l > 0 && !st.Started.IsZero() && !s.m.now().Before(st.Started.Add(l)) {
			return SignInTimeout, nil
		}
		return SignInPending, nil
	}
	off, err := s.m.switchedOff(ctx)
	if err != nil {
		return "", err
	}
	req := provider.Request{Capability: st.Capability, ID: st.Factor, TransactionID: st.Tx,
		Username: st.User, Attributes: map[string]any{"username": st.User}}
	if off[st.Capability] {
		// Switched off org-wide since the push was sent (a push-fatigue attack stopped): a
		// challenge still pending ends FAILED, as Verify's poll ends it, so that an
		// approval once push is on again signs in no one holding this session.
		for _, e := range s.m.engines {
			if e.Exposes(st.Capability) {
				if _, err := e.RefuseResult(ctx, req, provider.Failed("capability "+st.Capability+" switched off org-wide")); err != nil {
					return "", err
				}
				break
			}
		}
		return SignInDenied, nil
	}
	for _, e := range s.m.engines {
		if !e.Exposes(st.Capability) {
			continue
		}
		out, err := e.Result(ctx, req)
		if err != nil {
			return "", err
		}
		switch out.Status {
		case provider.StatusPending:
			return SignInPending, nil
		case provider.StatusSuccess:
			return SignInSuccess, nil
		case provider.StatusTimeout:
			return SignInTimeout, nil
		}
		return SignInDenied, nil
	}
	return SignInPending, nil
}

// pollNothing makes the reads of a push sign-in's poll (PushSignInStatus: the switches,
// the factor with its user, the challenge) for a sign-in that started no challenge, on
// ids no one has; what they find (nothing) is not used, but a fault of any of them is
// answered, as a real poll answers it: ignored, a store in trouble answered a real
// sign-in's poll with an error and this one "pending", and told who exists.
func (s *SelfService) pollNothing(ctx context.Context, user string) error {
	if _, err := s.m.switchedOff(ctx); err != nil {
		return err
	}
	if _, _, err := s.m.store.GetFactorAndUser(ctx, provider.NewID(), user); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.m.store.GetTransaction(ctx, "push:"+provider.NewID()); err != nil && !errors.Is(err, store.ErrNotFound) { // as a push challenge's key
		return err
	}
	return nil
}

// Push sign-in refusals.
var (
	ErrPushDenied  = &Error{Kind: Refused, Code: "push_denied", Msg: "the sign-in was denied or canceled on the device; start again"}
	ErrPushTimeout = &Error{Kind: Refused, Code: "push_timeout", Msg: "the sign-in was not approved in time; start again"}
)

// FinishPushSignIn signs the user in once the device approved: the session is replaced by
// a signed-in one. Pending answers SignInPending and a zero session.
func (s *SelfService) FinishPushSignIn(ctx context.Context, sess *Session) (string, Session, error) {
	state, err := s.PushSignInStatus(ctx, *sess)
	if err != nil {
		return "", Session{}, err
	}
	st := sess.State
	switch state {
	case SignInPending:
		return state, Session{}, nil
	case SignInSuccess:
		u, err := s.m.store.GetUser(ctx, st.User)
		if err != nil {
			return "", Session{}, err
		}
		if err := s.claimSignIn(ctx, *sess); errors.Is(err, ErrSignIn) {
			return SignInDenied, Session{}, ErrPushDenied
		} else if err != nil {
			return "", Session{}, err
		}
		s.End(ctx, *sess)
		next, err := s.signedIn(ctx, st.Factor, u, "push approved")
		if errors.Is(err, errProofReset) {
			return SignInDenied, Session{}, ErrPushDenied
		}
		return state, next, err
	}
	// The challenge is over: this session cannot sign in with it again.
	sess.State = SessionState{}
	s.save(ctx, sess)
	s.m.audit(ctx, SelfServiceActor, ActionSelfServiceSignIn, st.User, st.Factor, "FAILED", "push "+state)
	if state == SignInTimeout {
		return state, Session{}, ErrPushTimeout
	}
	return state, Session{}, ErrPushDenied
}

// Factors lists the signed-in user's factors.
func (s *SelfService) Factors(ctx context.Context, sess Session) ([]Factor, error) {
	if sess.Kind != SessionUser {
		return nil, ErrNoSession
	}
	return s.m.ListFactors(ctx, sess.User)
}

// Rename changes the label of one of the user's factors.
func (s *SelfService) Rename(ctx context.Context, sess Session, id, label string) (Factor, error) {
	if sess.Kind != SessionUser {
		return Factor{}, ErrNoSession
	}
	label = strings.TrimSpace(label)
	f, err := s.m.RenameFactor(ctx, SelfServiceActor, sess.User, id, label)
	if le := (*Error)(nil); errors.As(err, &le) && le.Field == "label" && len(label) > maxText {
		// The page's field lets through 256 characters as a browser counts them, which
		// in other letters than A to Z take more than the 256 bytes a label keeps: it
		// says why a name it let through is refused (the record keeps the API's words).
		return f, invalid("invalid_field", "label", "is too long: a name takes at most %d bytes, where a letter A to Z takes one, "+
			"most other letters two or three and an emoji four, and this one takes %d. Shorten it, and rename again", maxText, len(label))
	}
	return f, err
}

// Remove deletes one of the user's factors, never the last active one unless the
// operator allows it.
func (s *SelfService) Remove(ctx context.Context, sess Session, id string) error {
	if sess.Kind != SessionUser {
		return ErrNoSession
	}
	// The count of active factors and the delete hold together: the delete is made on
	// the user's revision the count was taken at, so of two removals at once (two tabs)
	// the second counts again rather than remove the last factor.
	for try := 1; ; try++ {
		u, err := s.m.GetUser(ctx, sess.User)
		if err != nil {
			return err
		}
		fs, err := s.m.ListFactors(ctx, sess.User)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(fs, func(f Factor) bool { return f.ID == id })
		if i < 0 {
			return notFound("not_found", "factor", "you have no such factor")
		}
		active := 0
		for _, f := range fs {
			if f.State == FactorActive {
				active++
			}
		}
		if fs[i].State == FactorActive && active == 1 && !s.o.AllowRemoveLast {
			return s.m.refuse(ctx, SelfServiceActor, ActionFactorsDelete, sess.User, id,
				conflict("last_factor", "", "this is your only active factor: add another one before removing it"))
		}
		err = s.m.deleteFactorAt(ctx, SelfServiceActor, sess.User, id, &u.Revision)
		var le *Error
		if errors.As(err, &le) && le.Code == CodeChanged && try < editTries {
			continue // another change came between: count again
		}
		return err
	}
}

// Shown is what the page shows of a factor being enrolled, to show it again after a
// wrong first code or before a phone registered: an authenticator app's key and its QR
// code, a push device's activation code and its QR code.
type Shown struct {
	Secret, URI, Code string
}

// SealShown makes a token of what the enrollment's page showed, for its form to carry:
// the page shows it again from the token after a wrong first code or before a phone
// registered. The token is sealed (AES-GCM) with the session's key for this enrollment
// (SessionState.ShownKey), which only the server holds: the form carries no key in the
// clear, and the store, which holds the key, never holds the token. It opens only in
// this session, for the factor enrolling now; "" when there is nothing to seal with.
func (s *SelfService) SealShown(sess Session, out map[string]any) string {
	var sh Shown
	sh.Secret, _ = out["secret"].(string)
	sh.URI, _ = out["otpauthURI"].(string)
	if sh.URI == "" {
		sh.URI, _ = out["registrationURI"].(string)
	}
	sh.Code, _ = out["activationCode"].(string)
	aead, ok := shownAEAD(sess)
	if !ok {
		return ""
	}
	data, _ := json.Marshal(sh)
	return base64.RawURLEncoding.EncodeToString(seal(aead, data, shownAD(sess)))
}

// OpenShown opens a token SealShown made in this session for the factor enrolling now,
// with its QR code (a data: URI) made again; false for any other.
func (s *SelfService) OpenShown(sess Session, token string) (sh Shown, qr string, ok bool) {
	aead, ok := shownAEAD(sess)
	if !ok {
		return Shown{}, "", false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Shown{}, "", false
	}
	data, err := unseal(aead, sealed, shownAD(sess))
	if err != nil || json.Unmarshal(data, &sh) != nil || sh.URI == "" {
		return Shown{}, "", false
	}
	if sh.Code != "" {
		qr, err = qrPNG(sh.URI)
	} else {
		qr, err = qrDataURI(sh.URI)
	}
	return sh, qr, err == nil
}

// shownAEAD is the cipher of the session's enrollment under way; false when none is.
func shownAEAD(sess Session) (cipher.AEAD, bool) {
	key, err := base64.RawURLEncoding.DecodeString(sess.State.ShownKey)
	if err != nil || len(key) != 32 || sess.State.Enrolling == "" {
		return nil, false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	aead, err := cipher.NewGCM(block)
	return aead, err == nil
}

// shownAD binds a shown token to the factor enrolling.
func shownAD(sess Session) []byte { return []byte("emfa shown\x00" + sess.State.Enrolling) }
