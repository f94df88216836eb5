package builtin

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// TypePush is push approval on a registered device (flow init_then_poll), modelled on
// privacyIDEA's push token: the device holds a private key, emfa its public key; the
// device fetches a challenge and answers it with a signed request (device.go).
const TypePush = "push"

// Store ids and capabilities of the two kinds of push transaction. A challenge's store id
// is pushPrefix + the transactionId Verify sees; an activation code's is activationPrefix
// + the hex SHA-256 of the code, so the store never holds a usable code.
const (
	pushPrefix           = "push:"
	activationPrefix     = "push-activation:"
	activationCapability = "push-activation"
)

// activationData is what a push activation code's transaction keeps beside the factor.
type activationData struct {
	// Link is the hash of the self-service link the device was enrolled with, spent by
	// the registration (Enrollment.Link).
	Link string `json:"link,omitempty"`
}

// pushSettings are the push section.
type pushSettings struct {
	// Lifetime bounds a challenge: unanswered past it, result is TIMEOUT.
	Lifetime time.Duration `mapstructure:"lifetime"`
	// NumberMatching shows Verify a 2-digit number (attributes.number) that the user must
	// type on the device to approve, against push fatigue.
	NumberMatching bool `mapstructure:"numberMatching"`
	// ActivationLifetime bounds an activation code.
	ActivationLifetime time.Duration `mapstructure:"activationLifetime"`
	// ServerURL is emfa's address as devices reach it, put in registration URIs.
	ServerURL string `mapstructure:"serverURL"`
	// Notifier tells a device a challenge waits; without one devices poll.
	Notifier *notifierSettings `mapstructure:"notifier"`
}

// notifierSettings configure an HTTPNotifier.
type notifierSettings struct {
	Type    string        `mapstructure:"type"` // http
	URL     string        `mapstructure:"url"`
	Headers []header      `mapstructure:"headers"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// header is a request header whose value may be secret.
type header struct {
	Name  string        `mapstructure:"name"`
	Value config.Secret `mapstructure:"value"`
}

func newPushSettings() Settings {
	return &pushSettings{Lifetime: 2 * time.Minute, ActivationLifetime: 10 * time.Minute}
}

func (s *pushSettings) Check(c *Checker) {
	s.ServerURL = strings.TrimRight(s.ServerURL, "/")
	if s.Lifetime < 10*time.Second || s.Lifetime > 30*time.Minute {
		c.Errorf("lifetime", "must be between 10s and 30m, not %s", s.Lifetime)
	}
	if s.ActivationLifetime <= 0 {
		c.Errorf("activationLifetime", "must be positive, not %s", s.ActivationLifetime)
	}
	// The pending device is deleted once it has waited lifecycle.activationLifetime: a
	// code promised to last longer would stop registering before its expiresAt.
	if l := c.pendingLifetime; l > 0 && s.ActivationLifetime > l {
		c.Errorf("activationLifetime", "must not exceed lifecycle.activationLifetime (%s): a device not registered by then is deleted, its code with it, not %s", l, s.ActivationLifetime)
	}
	// Registration links are serverURL + /v1/devices/register#code=…: not repeated, as it
	// may hold credentials.
	if s.ServerURL != "" && !config.IsBaseURL(s.ServerURL) {
		c.Errorf("serverURL", "must be emfa's base URL as phones reach it, https://host[:port][/path] (a port 1-65535, no space, no IPv6 zone), without a query, a fragment or credentials")
	}
	if n := s.Notifier; n != nil {
		n.Type = strings.ToLower(cmp.Or(n.Type, "http"))
		n.Timeout = cmp.Or(n.Timeout, 5*time.Second)
		if n.Type != "http" {
			c.Errorf("notifier.type", "unknown notifier (want http)")
		}
		// As the senders': a URL no request can be made to, or a timeout outside their
		// bounds, would fail (or hold) every initiate's notification; the URL is not
		// repeated, as its query may hold a key.
		if u, err := url.Parse(n.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			c.Errorf("notifier.url", "must be an http(s) URL with a host")
		}
		if n.Timeout < 100*time.Millisecond || n.Timeout > 2*time.Minute {
			c.Errorf("notifier.timeout", "must be between 100ms and 2m0s, not %s", n.Timeout)
		}
		// A header no request can carry would fail every notification; the value is not
		// repeated, as it may be a secret.
		for i, h := range n.Headers {
			if !httpguts.ValidHeaderFieldName(h.Name) {
				c.Errorf(fmt.Sprintf("notifier.headers[%d].name", i), "not an HTTP header name")
			}
			if !httpguts.ValidHeaderFieldValue(h.Value.Reveal()) {
				c.Errorf(fmt.Sprintf("notifier.headers[%d].value", i), "must not hold a line break or another control character (a secret read with its trailing newline?)")
			}
		}
	}
}

func (s *pushSettings) Open(e *Engine) Factor {
	k := &pushFactor{e: e, s: s}
	if n := s.Notifier; n != nil {
		h := http.Header{}
		for _, v := range n.Headers {
			h.Add(v.Name, v.Value.Reveal())
		}
		k.notifier = NewHTTPNotifier(n.URL, h, n.Timeout)
	}
	return k
}

// Notifier tells a device that a challenge waits for it. Devices also poll, so a failed
// notification is logged and the challenge stays pending.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Notification is what a Notifier passes on: enough for a push service to wake the
// device, nothing it could approve with.
type Notification struct {
	DeviceID    string    `json:"deviceId"`
	ChallengeID string    `json:"challengeId"`
	User        string    `json:"user"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// challengeData is a push challenge's Data.
type challengeData struct {
	Message string `json:"message"`
	// Number is what the user must type on the device (10-99); 0 without number matching.
	Number int `json:"number,omitempty"`
}

// pushFactor is push approval.
// PushSignIn says how this engine's push challenges behave (their lifetime, whether they
// show a number to type), ok false when it serves no push: a sign-in page that started
// no challenge (no such user or device) behaves the same, so it tells no one who exists.
func (e *Engine) PushSignIn() (lifetime time.Duration, numberMatching, ok bool) {
	k, ok := e.factors[TypePush].(*pushFactor)
	if !ok || !e.Exposes(TypePush) {
		return 0, false, false
	}
	return k.s.Lifetime, k.s.NumberMatching, true
}

type pushFactor struct {
	e        *Engine
	s        *pushSettings
	notifier Notifier // nil: devices poll
}

// activation: a push factor is active only once its device registers.
func (k *pushFactor) activation() Activation { return Activation{ByDevice: true} }

// pageSignIn: an approval on the device, polled by the page.
func (k *pushFactor) pageSignIn() PageSignIn {
	return PageSignIn{Choice: "An approval on my phone (push)", By: SignInByApproval}
}

func (k *pushFactor) pageEnrollment() PageEnrollment {
	return PageEnrollment{Choice: "Approvals on my phone (push)", Label: "Push device", Activation: PageByDevice}
}

func (*pushFactor) Flow() provider.Flow                     { return provider.FlowInitThenPoll }
func (*pushFactor) Attributes(*store.Factor) map[string]any { return nil }
func (*pushFactor) Recorded(*store.Factor) url.Values       { return url.Values{} }

func (*pushFactor) Fields() []Field {
	return []Field{{Name: "name", Meta: "LABEL", Usage: "label of the device until it registers"}}
}

func (*pushFactor) Validate(context.Context, *store.Factor, provider.Request) (provider.Outcome, error) {
	return provider.Failed("push has no validate step (flow init_then_poll)"), nil
}

// Initiate starts a challenge, withdraws the factor's older ones (one login, one
// question on the phone) and wakes the device.
func (k *pushFactor) Initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	if f.Params["publicKey"] == "" {
		// Active without a key: enabled by hand before any device registered.
		return provider.Failed("push device never registered"), nil
	}
	o, txs := k.s, pushTransactions(k.e.store, k.e.now)
	now := k.e.now()
	id := NewID()
	d := challengeData{Message: "Sign-in request for " + req.Username}
	if o.NumberMatching {
		d.Number = twoDigits()
	}
	data, err := json.Marshal(d)
	if err != nil {
		return provider.Outcome{}, err
	}
	// The store keeps milliseconds; the notification says what the device API will.
	tx := store.Transaction{ID: id, Provider: k.e.provider, Data: data, ExpiresAt: now.Add(o.Lifetime).Truncate(time.Millisecond)}
	// The challenge, the withdrawal of older ones and the record of the decision are one
	// unit, committed before the device is woken (never across the notification).
	out, err := provider.Decide(ctx, k.e.store, func(w store.Writer) (provider.Outcome, error) {
		// Two initiates of one factor on two replicas: the later unit withdraws the
		// earlier one's challenge, never both left pending.
		if err := w.LockFactor(ctx, f.ID); err != nil {
			return provider.Outcome{}, err
		}
		if err := txs.In(w).Start(ctx, req, tx); err != nil {
			return provider.Outcome{}, fmt.Errorf("push: start challenge: %w", err)
		}
		canceled, err := w.CancelPending(ctx, f.ID, txs.Key(id), string(provider.StatusCanceled), now)
		if err != nil {
			return provider.Outcome{}, fmt.Errorf("push: cancel older challenges: %w", err)
		}
		out := provider.Outcome{Status: provider.StatusPending, TransactionID: id, Reason: "challenge sent"}
		if canceled > 0 {
			out.Reason += fmt.Sprintf("; %d older challenge(s) canceled", canceled)
		}
		if d.Number != 0 {
			out.Attributes = map[string]any{"number": d.Number}
		}
		return out, nil
	})
	if err != nil {
		return provider.Outcome{}, err
	}
	if k.notifier == nil {
		return out, nil
	}
	notify := func(ctx context.Context) (provider.Outcome, error) {
		n := Notification{DeviceID: f.ID, ChallengeID: id, User: req.Username, ExpiresAt: tx.ExpiresAt.UTC()}
		nctx, cancel := provider.RunToEnd(ctx) // decided and recorded: the device is told
		err := k.notifier.Notify(nctx, n)
		cancel()
		if err != nil {
			k.e.log.Warn("push notification failed; the device may still poll",
				"device", f.ID, "user", req.Username, "challenge", id, "err", err)
		}
		return out, nil
	}
	if deferDelivery(ctx, notify) { // the device is told once the caller has answered (WithLater)
		return out, nil
	}
	return notify(ctx)
}

// Result reports where the challenge stands; Load has already turned a missed deadline
// into TIMEOUT and refused another user's, factor's or capability's transaction.
func (k *pushFactor) Result(ctx context.Context, _ *store.Factor, req provider.Request) (provider.Outcome, error) {
	tx, refusal, err := pushTransactions(k.e.store, k.e.now).Load(ctx, req)
	if err != nil {
		return provider.Outcome{}, err
	}
	if refusal != nil {
		return *refusal, nil
	}
	return provider.Outcome{Status: provider.Status(tx.Status), Reason: pushReasons[provider.Status(tx.Status)]}, nil
}

var pushReasons = map[provider.Status]string{
	provider.StatusPending:  "waiting for the device",
	provider.StatusSuccess:  "approved on the device",
	provider.StatusFailed:   "denied on the device",
	provider.StatusCanceled: "canceled (device, admin or a newer challenge)",
	provider.StatusTimeout:  "not answered before the deadline",
}

func pushTransactions(st store.Store, now func() time.Time) provider.Transactions {
	return provider.Transactions{Store: st, Prefix: pushPrefix, Now: now}
}

// twoDigits is a uniformly random number from 10 to 99.
func twoDigits() int {
	n, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil { // crypto/rand does not fail (Go 1.24+)
		panic(err)
	}
	return 10 + int(n.Int64())
}

// Enroll creates a pending push factor and its single-use activation code, shown once
// with the registration URI (emfa://register?server=…&code=…, server omitted without a
// serverURL) and, with a serverURL, the same as a link on emfa's own address, the code in
// the fragment so it reaches no server log. The factor is offered to Verify only once a
// device has registered.
func (k *pushFactor) Enroll(ctx context.Context, u store.User, _ []store.Factor, in Enrollment) (Enrolled, error) {
	f := k.e.newFactor(u, TypePush, cmp.Or(in.Values.Get("name"), "Push device"), in)
	f.State = store.FactorPending
	code := NewID()
	tx := store.Transaction{
		ID: activationKey(code), Username: u.Name, Capability: activationCapability, FactorID: f.ID,
		Status: string(provider.StatusPending), ExpiresAt: f.CreatedAt.Add(k.s.ActivationLifetime),
		CreatedAt: f.CreatedAt, UpdatedAt: f.CreatedAt,
	}
	if in.Link != "" {
		tx.Data, _ = json.Marshal(activationData{Link: in.Link}) // a struct of a string: no error
	}
	// The factor and its activation code in one commit: never a factor nobody can register.
	if err := k.e.createFactor(ctx, in, f, func(w store.Writer) error {
		if err := w.CreateTransaction(ctx, tx); err != nil {
			return fmt.Errorf("push: activation code: %w", err)
		}
		return nil
	}); err != nil {
		return Enrolled{}, err
	}
	q := url.Values{"code": {code}}
	out := map[string]any{"activationCode": code, "expiresAt": tx.ExpiresAt.UTC().Format(time.RFC3339)}
	if k.s.ServerURL != "" {
		q.Set("server", k.s.ServerURL)
		out["registrationURL"] = k.s.ServerURL + "/v1/devices/register#code=" + code
	}
	out["registrationURI"] = "emfa://register?" + q.Encode()
	return Enrolled{Factor: f, Output: out}, nil
}

func activationKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return activationPrefix + hex.EncodeToString(sum[:])
}

// HTTPNotifier posts a Notification as JSON to a webhook (a push gateway that wakes the
// app through APNs/FCM, say).
type HTTPNotifier struct {
	url    string
	header http.Header
	client *http.Client
}

// NewHTTPNotifier posts to url with header (may hold credentials), each call bounded by
// timeout (default 5s).
func NewHTTPNotifier(url string, header http.Header, timeout time.Duration) *HTTPNotifier {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxResponseHeaderBytes = delivery.MaxResponseHeaderBytes
	return &HTTPNotifier{url: url, header: header.Clone(), client: &http.Client{Timeout: timeout, Transport: tr,
		// A redirect is answered as the failure it is, not followed: following it would
		// send the headers (credentials) and the notification somewhere the configuration
		// does not name, as the code senders and the vendors' clients refuse to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// LogValue keeps the headers (credentials), and the URL's query and user info, out of logs.
func (n *HTTPNotifier) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "http"), slog.String("url", provider.SafeURL(n.url)))
}

// Notify posts the notification; any status outside 2xx is an error.
func (n *HTTPNotifier) Notify(ctx context.Context, msg Notification) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	for k, v := range n.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		// Logged by the caller: not with a key the URL's query may hold.
		return fmt.Errorf("notifier: %w", provider.LogSafe(err))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notifier: status %d", resp.StatusCode)
	}
	return nil
}
