package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Options configure one remote engine (one provider).
type Options struct {
	Webhook *Webhook
	// Provider is the credentialPrefix, for transaction keys and logs.
	Provider string
	// Store keeps the transactions the vendor starts.
	Store store.Store
	// ChallengeLifetime is how long a started challenge may stay PENDING (default 5 min).
	ChallengeLifetime time.Duration
	Log               *slog.Logger
	Now               func() time.Time
}

// Engine serves a provider's factors by calling its vendor through the webhook's
// resources and transforms. It owns the transactions the vendor starts: a transactionId
// is bound to its user, capability and factor, has a deadline, and once terminal is
// answered from the store without asking the vendor again.
type Engine struct {
	w         *Webhook
	prefix    string
	resources map[string]*resource // by lower-cased name
	client    *client
	auth      *authenticator
	urls      *rotation
	host      string // shared host[:port] of every URL, or ""
	store     store.Store
	txs       provider.Transactions
	lifetime  time.Duration
	log       *slog.Logger
	now       func() time.Time
	stats     Stats
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
	resources, err := Compile(w)
	if err != nil {
		return nil, err
	}
	c, err := newClient(w)
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
		w: w, prefix: o.Provider, resources: resources, client: c, auth: auth, urls: urls,
		host: sharedHost(w.URLs), store: o.Store, lifetime: o.ChallengeLifetime, log: o.Log, now: o.Now,
	}
	if e.lifetime <= 0 {
		e.lifetime = 5 * time.Minute
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	// Vendors' transaction ids are kept apart from each other's and from emfa's own.
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
		if r, ok := e.resources[strings.ToLower(fmt.Sprintf("%s_%d", capability, step))]; ok {
			return r
		}
	}
	return e.resources[generic]
}

// Enrollments asks the vendor which factors the user has. Any fault answers [].
func (e *Engine) Enrollments(ctx context.Context, username string) ([]provider.Enrollment, error) {
	r := e.resources[provider.ResourceEnrollments]
	if r == nil {
		e.log.Warn("no enrollments resource", "provider", e.prefix)
		return nil, nil
	}
	answer, ok := e.call(ctx, r, map[string]any{"username": username})
	if !ok {
		return nil, nil
	}
	var list []provider.Enrollment
	if err := remarshal(answer, &list); err != nil {
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

// Initiate starts a challenge at the vendor and records the transaction it returns.
func (e *Engine) Initiate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	r := e.lookup(provider.ResourceInitiate, req.Capability, 1)
	if r == nil {
		return provider.Failed("no initiate resource"), nil
	}
	out := e.outcome(ctx, r, payload(req))
	if out.Status != provider.StatusPending || out.TransactionID == "" {
		return out, nil
	}
	// The transaction and the record of the decision are one unit, after the vendor's
	// answer (never across the call).
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		err := e.txs.In(w).Start(ctx, req, store.Transaction{
			ID: out.TransactionID, Provider: e.prefix, ExpiresAt: e.now().Add(e.lifetime),
		})
		if errors.Is(err, store.ErrExists) {
			// A vendor that reuses a transaction id cannot be told apart from a replay.
			return provider.Failed("vendor returned a transaction id already in use"), nil
		}
		if err != nil {
			return provider.Outcome{}, fmt.Errorf("record transaction: %w", err)
		}
		return out, nil
	})
}

// Validate checks a code: directly (step 1) or within a transaction (step 2).
func (e *Engine) Validate(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	if req.TransactionID == "" {
		r := e.lookup(provider.ResourceValidate, req.Capability, 1)
		if r == nil {
			return provider.Failed("no validate resource"), nil
		}
		return e.outcome(ctx, r, payload(req)), nil
	}
	tx, answer, done, err := e.txs.ForValidate(ctx, req)
	if err != nil || done {
		return answer, err
	}
	r := e.lookup(provider.ResourceValidate, req.Capability, 2)
	if r == nil {
		return provider.Failed("no validate resource"), nil
	}
	out := e.outcome(ctx, r, payload(req))
	if out.Status == provider.StatusSuccess {
		// One success per transaction: of concurrent validations only the first counts.
		// The completion and the record of the decision are one unit.
		return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
			if answer, ok, err := e.txs.In(w).Succeed(ctx, tx.ID); err != nil || !ok {
				return answer, err
			}
			return out, nil
		})
	}
	// A wrong code leaves the transaction open: the user may correct a typo, within the
	// vendor's own attempt limits and the deadline.
	return out, nil
}

// Result polls a transaction: from the store once terminal, TIMEOUT past its deadline,
// otherwise from the vendor.
func (e *Engine) Result(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	tx, answer, answered, err := e.txs.ForResult(ctx, req)
	if err != nil || answered {
		return answer, err
	}
	r := e.lookup(provider.ResourceResult, req.Capability, 2)
	if r == nil {
		return provider.Failed("no result resource"), nil
	}
	out := e.outcome(ctx, r, payload(req))
	switch out.Status {
	case provider.StatusSuccess, provider.StatusCanceled, provider.StatusTimeout:
	case provider.StatusFailed:
		if out.Reason != "" {
			// Our own failure (vendor unreachable, bad answer): the challenge may still
			// complete, so it is not remembered as terminal.
			return out, nil
		}
	default:
		return out, nil
	}
	// The terminal status and the record of the decision are one unit.
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
	answer, ok := e.call(ctx, r, body)
	if !ok {
		return provider.Failed("vendor call failed (see log)")
	}
	m, isMap := answer.(map[string]any)
	status, _ := m["status"].(string)
	switch provider.Status(status) {
	case provider.StatusSuccess, provider.StatusPending, provider.StatusFailed, provider.StatusCanceled, provider.StatusTimeout:
	default:
		e.stats.TransformErrors.Add(1)
		e.log.Warn("answer has no contract status", "provider", e.prefix, "resource", r.name, "is_object", isMap)
		return provider.Failed("answer has no contract status")
	}
	out := provider.Outcome{Status: provider.Status(status)}
	if tx, ok := m["transactionId"]; ok {
		out.TransactionID = fmt.Sprint(tx)
	}
	if attrs, ok := m["attributes"].(map[string]any); ok {
		out.Attributes = attrs
	}
	return out
}

// payload is the body Verify sent, as the outgoing transform's `body` sees it.
func payload(req provider.Request) map[string]any {
	attrs := make(map[string]any, len(req.Attributes)+2)
	for k, v := range req.Attributes {
		attrs[k] = v
	}
	attrs["username"] = req.Username
	if req.Passvalue != "" {
		attrs["passvalue"] = req.Passvalue
	}
	body := map[string]any{"capability": req.Capability, "id": req.ID, "attributes": attrs}
	if req.TransactionID != "" {
		body["transactionId"] = req.TransactionID
	}
	return body
}

// remarshal converts a transform's answer into a typed value through JSON.
func remarshal(v any, dst any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}
