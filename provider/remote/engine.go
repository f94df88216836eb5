package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transform"
)

// Options configure one remote engine (one provider).
type Options struct {
	Webhook *Webhook
	// Compiled, when set, is CheckCompiled's result for Webhook, unchanged since: New
	// builds on it instead of compiling the transforms again. One for another webhook
	// is ignored.
	Compiled *Compiled
	// Provider is the credentialPrefix, for transaction keys and logs.
	Provider string
	// Store keeps the transactions the vendor starts.
	Store store.Store
	// ChallengeLifetime is how long a started challenge may stay PENDING (default 5 min).
	ChallengeLifetime time.Duration
	Log               *slog.Logger
	Now               func() time.Time
	// Audit, when set, records each lifecycle propagation (store.Store satisfies it).
	Audit provider.Auditor
	// Observer, when set, counts every vendor call by outcome and every failed transform.
	Observer Observer
	// WrapTransport, when set, wraps the vendor client's transport (tracing: a client span
	// per attempt and the W3C traceparent header), so this package needs no instrumentation
	// library. Token requests (OAuth) go around it.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Observer learns what an operator counts about vendor calls. outcome is one of ok,
// status (outside expectedStatus), timeout, refused, transform_error or error; d is the
// HTTP call's latency, zero when no request left. StoreError("audit") counts a lifecycle
// propagation's audit record lost.
type Observer interface {
	VendorCall(provider, resource, outcome string, d time.Duration)
	CELError(provider, resource, direction string)
	StoreError(operation string)
}

type nopObserver struct{}

func (nopObserver) VendorCall(string, string, string, time.Duration) {}
func (nopObserver) CELError(string, string, string)                  {}
func (nopObserver) StoreError(string)                                {}

// Engine serves a provider's factors by calling its vendor through the webhook's
// resources and transforms. It owns the transactions the vendor starts: each gets a
// transactionId emfa mints (the vendor's own id is kept beside it and never reaches
// Verify), is bound to its user, capability and factor, has a deadline, and once terminal
// is answered from the store without asking the vendor again.
type Engine struct {
	w         *Webhook
	prefix    string
	resources map[string]*resource        // by lower-cased name
	lifecycle map[string][]*lifecycleStep // by event type
	audit     provider.Auditor
	client    *client
	auth      *authenticator
	urls      *rotation
	host      string // shared host[:port] of every URL, or ""
	hostValue any    // host boxed once for the transforms' Vars; nil when host is ""
	// paths are the contract resources' paths under the first URL, converted for the
	// transforms once (every call's, for a webhook of one URL). Kept here, not on the
	// resources, which a caller may have compiled once for several engines.
	paths map[*resource]boxedPath
	// header holds the headers every call starts with (JSON content type and accept, the
	// webhook's static headers); headerValue and authValue are that and the header
	// authentication's values converted for the transforms once, transform.Values boxed
	// once: a Value put in a call's Vars (an any) would otherwise be boxed again each call.
	header      http.Header
	headerValue any
	authValue   any
	store       store.Store
	txs         provider.Transactions
	lifetime    time.Duration
	log         *slog.Logger
	now         func() time.Time
	stats       Stats
	observer    Observer
}

var (
	_ provider.Engine = (*Engine)(nil)
	_ provider.Closer = (*Engine)(nil)
)

// Stats count a provider's vendor calls and what went wrong with them.
type Stats struct {
	Calls            atomic.Int64
	VendorErrors     atomic.Int64 // refused, timeout, too large, truncated...
	UnexpectedStatus atomic.Int64 // a status outside expectedStatus
	TransformErrors  atomic.Int64
	TokenRetries     atomic.Int64 // 401/403 answered by refreshing the token once
}

// New validates the webhook, compiles its transforms and builds its client,
// authentication and URL rotation: everything a call needs is ready before the first one.
func New(o Options) (*Engine, error) {
	if o.Webhook == nil || o.Store == nil {
		return nil, errors.New("remote: a webhook and a store are required")
	}
	w := o.Webhook
	if err := w.Validate(); err != nil {
		return nil, err
	}
	var all compiled
	if o.Compiled != nil && o.Compiled.w == w {
		all = o.Compiled.c
	} else {
		var err error
		if all, _, err = compileAll(w); err != nil {
			return nil, err
		}
	}
	c, err := newClient(w, o.WrapTransport)
	if err != nil {
		return nil, fmt.Errorf("remote: client: %w", err)
	}
	auth, err := newAuthenticator(w.Authentication, c.transport, c.timeout)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("remote: authentication: %w", err)
	}
	urls, err := newRotation(w.URLs, w.EjectAfter, time.Duration(w.EjectFor))
	if err != nil {
		auth.Close()
		c.Close()
		return nil, fmt.Errorf("remote: urls: %w", err)
	}
	e := &Engine{
		w: w, prefix: o.Provider, resources: all.resources, lifecycle: all.lifecycle, audit: o.Audit, client: c, auth: auth, urls: urls,
		host: sharedHost(w.URLs), store: o.Store, lifetime: o.ChallengeLifetime, log: o.Log, now: o.Now,
		observer: o.Observer,
	}
	if e.observer == nil {
		e.observer = nopObserver{}
	}
	e.header = http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	for _, h := range w.Headers {
		e.header.Set(h.Key, h.Value)
	}
	if e.host != "" {
		e.hostValue = e.host
	}
	e.paths = make(map[*resource]boxedPath, len(e.resources))
	for _, r := range e.resources {
		p := joinSuffix(urls.urls[0], r.def.Suffix).Path
		e.paths[r] = boxedPath{text: p, value: transform.NewValue(p)}
	}
	e.headerValue = transform.NewHeaderValue(e.header)
	e.authValue = transform.NewValue(auth.headerValues())
	if e.lifetime <= 0 {
		e.lifetime = 5 * time.Minute
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	// A provider's transactions are kept apart from another's and from the built-in engine's.
	e.txs = provider.Transactions{Store: e.store, Prefix: "r:" + e.prefix + ":", Now: e.now}
	return e, nil
}

// Close releases connections and stops token refreshes.
func (e *Engine) Close() error {
	e.auth.Close()
	e.client.Close()
	return nil
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

func sharedHost(raw []string) string {
	host := ""
	for _, s := range raw {
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		if host != "" && !strings.EqualFold(host, u.Host) {
			return ""
		}
		host = u.Host
	}
	return strings.ToLower(host)
}

// lookup finds the resource for a step of a capability: "{capability}_{step}" when the
// webhook has it, else the generic name (verify-contract.md §9).
func (e *Engine) lookup(generic, capability string, step int) *resource {
	if capability != "" {
		var buf [64]byte
		if r, ok := e.resources[string(appendSpecificName(buf[:0], capability, step))]; ok {
			return r
		}
	}
	return e.resources[generic]
}

// appendSpecificName appends "{capability}_{step}" lower-cased, as the resources are
// keyed, to b. lookup builds it on the stack, and a map index by string(bytes) does not
// copy them: no allocation on every initiate, validate and result, where fmt.Sprintf and
// strings.ToLower made one or two. A capability beyond ASCII takes strings.ToLower's
// Unicode rules.
func appendSpecificName(b []byte, capability string, step int) []byte {
	start := len(b)
	for i := 0; i < len(capability); i++ {
		c := capability[i]
		if c >= utf8.RuneSelf {
			return append(b[:start], strings.ToLower(capability+"_"+strconv.Itoa(step))...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, '_')
	return strconv.AppendInt(b, int64(step), 10)
}

// disabled is the refusal of a user emfa knows and has disabled, or nil: such a user has
// no enrollments and signs in through no provider, a vendor's included (contract §4),
// and the vendor is not asked. A user emfa does not know is the vendor's alone. One
// indexed read of one column; a store that does not answer is an error.
func (e *Engine) disabled(ctx context.Context, username string) (*provider.Outcome, error) {
	off, err := e.store.UserDisabled(ctx, username)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read user: %w", err)
	case off:
		refusal := provider.Failed("user disabled")
		return &refusal, nil
	}
	return nil, nil
}

// Enrollments asks the vendor which factors the user has. Any fault of the vendor answers
// []; a disabled user has none.
func (e *Engine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	if refusal, err := e.disabled(ctx, username); err != nil || refusal != nil {
		return nil, err
	}
	r := e.resources[provider.ResourceEnrollments]
	if r == nil {
		e.log.Warn("no enrollments resource", "provider", e.prefix)
		return nil, nil
	}
	answer, failure := e.call(ctx, r, map[string]any{"username": username})
	if failure != "" {
		return nil, nil
	}
	list, err := enrollments(answer)
	if err != nil {
		e.stats.TransformErrors.Add(1)
		e.log.Warn("enrollments answer is not a list of enrollments", "provider", e.prefix, "resource", r.name, "err", err)
		return nil, nil
	}
	out := list[:0]
	for _, en := range list {
		if en.ID == "" || en.Capability == "" {
			e.log.Warn("enrollment without id or capability dropped", "provider", e.prefix)
			continue
		}
		if en.Attributes == nil {
			en.Attributes = map[string]any{}
		}
		out = append(out, en)
	}
	return out, nil
}

// Initiate starts a challenge at the vendor and records the transaction it returns under
// an id emfa mints: the contract's transactionId is fresh and unguessable (§5, emfa's
// rule) whatever the vendor's is, and two challenges whose vendor reused an id are still
// two transactions. The vendor's id is kept in the transaction for the calls that follow.
func (e *Engine) Initiate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	if refusal, err := e.disabled(ctx, req.Username); err != nil || refusal != nil {
		return deref(refusal), err
	}
	r := e.lookup(provider.ResourceInitiate, req.Capability, 1)
	if r == nil {
		return provider.Failed("no initiate resource"), nil
	}
	out := e.outcome(ctx, r, payload(req))
	switch {
	case out.Status == provider.StatusPending && out.TransactionID != "":
	case out.Status == provider.StatusPending:
		// Verify would poll a result it cannot name.
		return provider.Failed("the vendor's answer is PENDING without a transactionId"), nil
	case out.Status == provider.StatusFailed:
		out.TransactionID = "" // nothing was started that a later call could name
		return out, nil
	default:
		// Initiate answers PENDING with a transaction, or FAILED (contract §5, emfa's
		// rule): a transaction id emfa has not recorded would be FAILED at the next step.
		return provider.Failed(fmt.Sprintf("the vendor's answer to initiate is %s; a challenge starts PENDING", out.Status)), nil
	}
	if why := provider.CheckIdentifier("the vendor's transactionId", out.TransactionID, provider.MaxTransactionIDBytes); why != "" {
		// The same rule as an id Verify sends: a vendor's id is kept and sent back as text.
		return provider.Failed(why), nil
	}
	data := encodeTxData(out.TransactionID)
	out.TransactionID = provider.NewID()
	// The transaction and the record of the decision are one unit, after the vendor's
	// answer (never across the call), written even when Verify has gone away meanwhile:
	// the vendor started a challenge, and Verify's retry must find this answer rather
	// than start a second one.
	ctx = context.WithoutCancel(ctx)
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		err := e.txs.In(w).Start(ctx, req, store.Transaction{
			ID: out.TransactionID, Provider: e.prefix, Data: data, ExpiresAt: e.now().Add(e.lifetime),
		})
		if err != nil { // ErrExists included: 128 random bits do not collide
			return provider.Outcome{}, fmt.Errorf("record transaction: %w", err)
		}
		return out, nil
	})
}

// Validate checks a code: directly (step 1) or within a transaction (step 2).
func (e *Engine) Validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	if refusal, err := e.disabled(ctx, req.Username); err != nil || refusal != nil {
		return deref(refusal), err
	}
	if req.TransactionID == "" {
		r := e.lookup(provider.ResourceValidate, req.Capability, 1)
		if r == nil {
			return provider.Failed("no validate resource"), nil
		}
		return validated(e.outcome(ctx, r, payload(req))), nil
	}
	tx, answer, done, err := e.txs.ForValidate(ctx, req)
	if err != nil || done {
		return answer, err
	}
	r := e.lookup(provider.ResourceValidate, req.Capability, 2)
	if r == nil {
		return provider.Failed("no validate resource"), nil
	}
	vendorReq, refusal := forVendor(req, tx)
	if refusal != nil {
		return *refusal, nil
	}
	out := validated(e.outcome(ctx, r, payload(vendorReq)))
	if out.Status == provider.StatusSuccess {
		// One success per transaction: of concurrent validations only the first counts.
		// The completion and the record of the decision are one unit, written even when
		// Verify has gone away meanwhile (the vendor has used the code up).
		ctx := context.WithoutCancel(ctx)
		return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
			if answer, ok, err := e.txs.In(w).Succeed(ctx, tx); err != nil || !ok {
				return answer, err
			}
			return out, nil
		})
	}
	if out.Status == provider.StatusTimeout {
		// The vendor ended the challenge: remembered, so that a later validate or poll of
		// it answers TIMEOUT too, not what the vendor says by then.
		ctx := context.WithoutCancel(ctx)
		return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
			txs := e.txs.In(w)
			done, err := txs.Finish(ctx, tx.ID, provider.StatusTimeout)
			if err != nil {
				return provider.Outcome{}, err
			}
			if done.Status != string(provider.StatusTimeout) { // another request ended it first
				return txs.Reread(ctx, tx.ID)
			}
			return out, nil
		})
	}
	// A wrong code leaves the transaction open: the user may correct a typo, within the
	// vendor's own attempt limits and the deadline.
	return out, nil
}

// validated is a vendor's answer to validate as the contract has it (§6): SUCCESS, FAILED,
// or TIMEOUT; a PENDING or CANCELED there is FAILED, and no answer names a transaction.
func validated(out provider.Outcome) provider.Outcome {
	out.TransactionID = ""
	switch out.Status {
	case provider.StatusSuccess, provider.StatusFailed, provider.StatusTimeout:
		return out
	}
	return provider.Failed(fmt.Sprintf("the vendor's answer to validate is %s", out.Status))
}

var _ provider.Ender = (*Engine)(nil)

// Ended answers a result on req's transaction as it ended, when it has (provider.Ender).
func (e *Engine) Ended(ctx context.Context, req provider.Request) (provider.Outcome, bool, error) {
	return e.txs.Ended(ctx, req)
}

var _ provider.ResultRefuser = (*Engine)(nil)

// RefuseResult answers a result the Provider refuses (provider.ResultRefuser): as its
// transaction ended, when it has; a challenge still pending ends FAILED with the refusal
// (refusePending). Before, it was left pending, and once the refusal was lifted the next
// poll asked the vendor and answered SUCCESS after a FAILED (contract §7).
func (e *Engine) RefuseResult(ctx context.Context, req provider.Request, refusal provider.Outcome) (provider.Outcome, error) {
	if ended, ok, err := e.Ended(ctx, req); err != nil || ok {
		return ended, err
	}
	return e.refusePending(ctx, req, refusal)
}

// refusePending answers refusal to a result on req's challenge, still pending, and ends
// the challenge FAILED in the same unit as the record of that answer: a poll answered
// FAILED is terminal to Verify, and every later one must answer it, whatever the vendor
// says by then (contract §7). A transaction that is not req's, or none, is refused and
// left alone.
func (e *Engine) refusePending(ctx context.Context, req provider.Request, refusal provider.Outcome) (provider.Outcome, error) {
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		return e.txs.In(w).Refuse(ctx, req, refusal)
	})
}

// Result polls a transaction: from the store once terminal, TIMEOUT past its deadline,
// otherwise from the vendor.
func (e *Engine) Result(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	tx, answer, answered, err := e.txs.ForResult(ctx, req)
	if err != nil || answered {
		return answer, err
	}
	// A terminal status is answered again, as with the built-in engine; a challenge still
	// pending when its user was disabled does not sign them in, and ends with the refusal.
	if refusal, err := e.disabled(ctx, req.Username); err != nil || refusal != nil {
		if err != nil {
			return provider.Outcome{}, err
		}
		return e.refusePending(ctx, req, *refusal)
	}
	// A refusal is FAILED, terminal to Verify: it ends the challenge (refusePending), or
	// a later poll would answer TIMEOUT once the deadline passed (contract §7).
	r := e.lookup(provider.ResourceResult, req.Capability, 2)
	if r == nil {
		return e.refusePending(ctx, req, provider.Failed("no result resource"))
	}
	vendorReq, refusal := forVendor(req, tx)
	if refusal != nil {
		return e.refusePending(ctx, req, *refusal)
	}
	out := e.outcome(ctx, r, payload(vendorReq))
	out.TransactionID = "" // a result names none (§7), and the vendor's id is not Verify's
	if !e.now().Before(tx.ExpiresAt) {
		// The deadline passed while the vendor answered: the deadline is emfa's own
		// (contract §7), so an approval that came after it, or a vendor still pending,
		// is TIMEOUT.
		out = provider.Outcome{Status: provider.StatusTimeout, Reason: "the deadline passed while the vendor answered " + string(out.Status)}
	}
	switch out.Status {
	case provider.StatusSuccess, provider.StatusCanceled, provider.StatusTimeout:
	case provider.StatusFailed:
		if out.Reason == reasonVendor {
			// The vendor did not answer this poll (unreachable, an error status, a body
			// that is no answer): the push is undecided, not failed. FAILED would be
			// terminal to Verify, and a later poll could not take it back (contract
			// §7); PENDING lets Verify poll again, so an approval made meanwhile still
			// signs the user in, and the deadline (emfa's own) still ends it as TIMEOUT.
			// The fault is logged and counted where the call failed.
			return provider.Outcome{Status: provider.StatusPending, Reason: reasonVendor}, nil
		}
		// Any other FAILED (the vendor's denial, a transform that fails) is terminal
		// and remembered.
	default:
		return out, nil
	}
	// The terminal status and the record of the decision are one unit, written even when
	// Verify has gone away meanwhile.
	ctx = context.WithoutCancel(ctx)
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		done, err := e.txs.In(w).Finish(ctx, tx.ID, out.Status)
		if err != nil {
			return provider.Outcome{}, err
		}
		if done.Status != string(out.Status) { // another poll finished it first
			return provider.Remembered(done), nil
		}
		return out, nil
	})
}

// Test calls the vendor's test resource.
func (e *Engine) Test(ctx context.Context) (provider.Outcome, error) {
	r := e.resources[provider.ResourceTest]
	if r == nil {
		return provider.Outcome{Status: provider.StatusFailed, Attributes: map[string]any{"reason": "no test resource configured"}}, nil
	}
	out := e.outcome(ctx, r, map[string]any{})
	if out.Status == provider.StatusFailed && out.Reason != "" && out.Attributes == nil {
		out.Attributes = map[string]any{"reason": out.Reason}
	}
	return out, nil
}

// outcome calls a resource and reads the contract answer from the incoming transform's
// body. Every fault is a FAILED outcome whose Reason says what went wrong.
func (e *Engine) outcome(ctx context.Context, r *resource, body map[string]any) provider.Outcome {
	answer, failure := e.call(ctx, r, body)
	if failure != "" {
		return provider.Failed(failure)
	}
	isMap := answer.IsMap()
	sv, _ := answer.Field("status")
	status, _ := sv.Text()
	switch provider.Status(status) {
	case provider.StatusSuccess, provider.StatusPending, provider.StatusFailed, provider.StatusCanceled, provider.StatusTimeout:
	default:
		e.stats.TransformErrors.Add(1)
		e.log.Warn("answer has no contract status", "provider", e.prefix, "resource", r.name, "is_object", isMap)
		return provider.Failed("answer has no contract status")
	}
	out := provider.Outcome{Status: provider.Status(status)}
	if tx, ok := answer.Field("transactionId"); ok {
		if s, isText := tx.Text(); isText {
			out.TransactionID = s
		} else if x, err := tx.Interface(); err == nil {
			out.TransactionID = fmt.Sprint(x)
		}
	}
	if a, ok := answer.Field("attributes"); ok && a.IsMap() {
		if attrs, err := a.Interface(); err == nil {
			out.Attributes = attrs.(map[string]any)
		}
	}
	return out
}

// txData is what a remote transaction keeps beside emfa's id (store.Transaction.Data).
type txData struct {
	// Vendor is the vendor's own transaction id, which its transforms are given.
	Vendor string `json:"vendorTransactionId"`
}

// txDataPrefix is json.Marshal's text of a txData up to its Vendor's value.
const txDataPrefix = `{"vendorTransactionId":`

// encodeTxData is json.Marshal(txData{Vendor: vendor}), written directly when vendor
// needs no escape in JSON (as a vendor's id does): one allocation every initiate, where
// Marshal made two.
func encodeTxData(vendor string) []byte {
	for i := 0; i < len(vendor); i++ {
		// What encoding/json writes as it is: printable ASCII but for the quote, the
		// backslash and the HTML characters it escapes.
		if c := vendor[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			data, _ := json.Marshal(txData{Vendor: vendor}) // a struct of a string: no error
			return data
		}
	}
	data := make([]byte, 0, len(txDataPrefix)+len(vendor)+3)
	data = append(data, txDataPrefix...)
	data = append(data, '"')
	data = append(data, vendor...)
	return append(data, '"', '}')
}

// forVendor is req as the vendor's transforms see it: with the vendor's own transaction id
// in place of emfa's. A transaction recorded before emfa minted its own ids has no Data:
// its id is the vendor's. Data that does not read is refused (FAILED) without asking the
// vendor about a transaction it cannot name.
func forVendor(req provider.Request, tx store.Transaction) (provider.Request, *provider.Outcome) {
	if len(tx.Data) == 0 {
		return req, nil
	}
	var d txData
	if err := json.Unmarshal(tx.Data, &d); err != nil || d.Vendor == "" {
		refusal := provider.Failed("the transaction does not name the vendor's transaction")
		return req, &refusal
	}
	req.TransactionID = d.Vendor
	return req, nil
}

// deref is the outcome o points to, or the zero Outcome.
func deref(o *provider.Outcome) provider.Outcome {
	if o == nil {
		return provider.Outcome{}
	}
	return *o
}

// payload is the body Verify sent, as the outgoing transform's `body` sees it.
func payload(req provider.Request) map[string]any {
	attrs := req.Attributes
	if !holdsCredentials(attrs, req.Username, req.Passvalue) {
		attrs = make(map[string]any, len(req.Attributes)+2)
		for k, v := range req.Attributes {
			attrs[k] = v
		}
		attrs["username"] = req.Username
		if req.Passvalue != "" {
			attrs["passvalue"] = req.Passvalue
		}
	}
	body := map[string]any{"capability": req.Capability, "id": req.ID, "attributes": attrs}
	if req.TransactionID != "" {
		body["transactionId"] = req.TransactionID
	}
	return body
}

// holdsCredentials reports whether attrs already holds username and passvalue (when not
// "") as payload would put them: then the copy with them put in would equal attrs, and
// attrs itself is the payload's (read, never written). The adapter's initiate is such a
// request (Verify's attributes name the user; there is no passvalue): a map copied and
// a string boxed, about three allocations a call, saved.
func holdsCredentials(attrs map[string]any, username, passvalue string) bool {
	if u, ok := attrs["username"].(string); !ok || u != username {
		return false
	}
	if passvalue == "" {
		return true
	}
	p, ok := attrs["passvalue"].(string)
	return ok && p == passvalue
}

// enrollmentFields are provider.Enrollment's JSON field names.
var enrollmentFields = [...]string{"id", "capability", "attributes"}

// enrollments reads the enrollments answer as encoding/json would decode it into
// []provider.Enrollment (field names matched without regard to case, unknown fields
// ignored, null for an absent field), straight from the transform's result. One
// difference: of two keys differing only in case, the field's own name wins where JSON
// takes the later one, since a CEL map has no order.
func enrollments(answer transform.Value) ([]provider.Enrollment, error) {
	if answer.IsNull() {
		return nil, nil
	}
	// Sized once: grown by append, a DUO user's four enrollments were three allocations.
	n, _ := answer.Len()
	list := make([]provider.Enrollment, 0, n)
	err := answer.Elems(func(v transform.Value) error {
		var en provider.Enrollment
		if v.IsNull() {
			list = append(list, en)
			return nil
		}
		if !v.IsMap() {
			return errors.New("an enrollment is not an object")
		}
		var exact [len(enrollmentFields)]bool // a field's own name beats a case-folded one
		err := v.Entries(func(key string, f transform.Value) error {
			var field string
			for i, name := range enrollmentFields {
				if key == name || (!exact[i] && strings.EqualFold(key, name)) {
					field = name
					exact[i] = exact[i] || key == name
					break
				}
			}
			if field == "" || f.IsNull() {
				return nil
			}
			switch field {
			case "attributes":
				if !f.IsMap() {
					return errors.New("attributes is not an object")
				}
				x, err := f.Interface()
				if err != nil {
					return err
				}
				en.Attributes = x.(map[string]any)
			default:
				s, ok := f.Text()
				if !ok {
					return fmt.Errorf("%s is not a string", field)
				}
				if field == "id" {
					en.ID = s
				} else {
					en.Capability = s
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		list = append(list, en)
		return nil
	})
	return list, err
}
