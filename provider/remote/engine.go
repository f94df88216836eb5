package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transform"
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

// resource is a webhook resource with its transforms compiled.
type resource struct {
	name     string
	def      Resource
	outgoing *transform.Program // nil: the Verify payload is sent as JSON
	incoming *transform.Program // nil: the vendor's body is the answer
}

// Stats count a provider's vendor calls and what went wrong with them.
type Stats struct {
	Calls            atomic.Int64
	VendorErrors     atomic.Int64 // refused, timeout, too large, truncated...
	UnexpectedStatus atomic.Int64 // a status outside expectedStatus
	TransformErrors  atomic.Int64
	TokenRetries     atomic.Int64 // 401/403 answered by refreshing the token once
}

var (
	outgoingEnv = mustEnv(transform.Outgoing)
	incomingEnv = mustEnv(transform.Incoming)
)

func mustEnv(d transform.Direction) *transform.Env {
	env, err := transform.NewEnv(d)
	if err != nil {
		panic(fmt.Sprintf("remote: %s environment: %v", d, err)) // a bug in the library, caught by any test
	}
	return env
}

// Check validates w and compiles its transforms: what New would refuse, as config.Errors
// naming each resource and direction, and advisory warnings (a transform whose worst-case
// cost is high or cannot be bounded).
func Check(w *Webhook) (warnings []string, err error) {
	var errs config.Errors
	if err := w.Validate(); err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	_, warnings, err = compile(w)
	if err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	if len(errs) > 0 {
		return warnings, errs
	}
	return warnings, nil
}

// Compile compiles every transform of w and returns config.Errors naming each failing
// resource and direction (with the CEL position in the message), or nil.
func Compile(w *Webhook) (map[string]*resource, error) {
	resources, _, err := compile(w)
	return resources, err
}

func compile(w *Webhook) (map[string]*resource, []string, error) {
	var errs config.Errors
	var warnings []string
	out := map[string]*resource{}
	names := make([]string, 0, len(w.Resources))
	for name := range w.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := w.Resources[name]
		r := &resource{name: name, def: def}
		for _, d := range []struct {
			dir transform.Direction
			src string
			env *transform.Env
			dst **transform.Program
		}{
			{transform.Outgoing, def.Transform.Outgoing, outgoingEnv, &r.outgoing},
			{transform.Incoming, def.Transform.Incoming, incomingEnv, &r.incoming},
		} {
			if strings.TrimSpace(d.src) == "" {
				continue
			}
			prg, err := transform.Compile(d.env, d.src)
			if err != nil {
				errs = append(errs, &config.FieldError{
					Path: fmt.Sprintf("resources.%s.transform.%s", name, d.dir),
					Msg:  celMessage(err),
				})
				continue
			}
			*d.dst = prg
			if w := prg.CostWarning(); w != "" {
				warnings = append(warnings, fmt.Sprintf("resources.%s.transform.%s: %s", name, d.dir, w))
			}
		}
		out[strings.ToLower(name)] = r
	}
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	return out, warnings, nil
}

// celMessage drops the prefixes a compile error carries ("transform: compile: ",
// "ERROR: <input>:"): the path before it already says which transform it is, and what is
// left starts with the line:column.
func celMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "transform: compile: ")
	return strings.NewReplacer("ERROR: <input>:", "", "<input>:", "").Replace(msg)
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
	err := e.txs.Start(ctx, req, store.Transaction{
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
	tx, refusal, err := e.txs.Load(ctx, req)
	if err != nil || refusal != nil {
		return deref(refusal), err
	}
	if tx.Status == string(provider.StatusTimeout) {
		return provider.Remembered(tx), nil
	}
	if tx.Status != string(provider.StatusPending) {
		return provider.Failed("transaction already " + tx.Status), nil
	}
	r := e.lookup(provider.ResourceValidate, req.Capability, 2)
	if r == nil {
		return provider.Failed("no validate resource"), nil
	}
	out := e.outcome(ctx, r, payload(req))
	if out.Status == provider.StatusSuccess {
		// One success per transaction: of concurrent validations only the first counts.
		if err := e.store.CompleteTransaction(ctx, tx.ID, string(provider.StatusSuccess), e.now()); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return provider.Failed("transaction completed concurrently"), nil
			}
			return provider.Outcome{}, err
		}
	}
	// A wrong code leaves the transaction open: the user may correct a typo, within the
	// vendor's own attempt limits and the deadline.
	return out, nil
}

// Result polls a transaction: from the store once terminal, TIMEOUT past its deadline,
// otherwise from the vendor.
func (e *Engine) Result(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	tx, refusal, err := e.txs.Load(ctx, req)
	if err != nil || refusal != nil {
		return deref(refusal), err
	}
	if tx.Status != string(provider.StatusPending) {
		return provider.Remembered(tx), nil
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
	done, err := e.txs.Finish(ctx, tx.ID, out.Status)
	if err != nil {
		return provider.Outcome{}, err
	}
	if done.Status != string(out.Status) { // another poll finished it first
		return provider.Remembered(done), nil
	}
	return out, nil
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

// call runs one resource: outgoing transform, the HTTP call (retried once with a fresh
// token after a 401/403 when the authentication is token-based), the expectedStatus
// check, and the incoming transform. ok is false on any fault, which it logs and counts.
func (e *Engine) call(ctx context.Context, r *resource, verifyBody map[string]any) (answer any, ok bool) {
	e.stats.Calls.Add(1)
	log := e.log.With("provider", e.prefix, "resource", r.name)
	// Through JSON, so the transform sees exactly what a JSON body would give it
	// (integers as int, nested objects as maps) whatever Go types the caller used.
	body, err := toJSONValue(verifyBody)
	if err != nil {
		log.Error("verify payload", "err", err)
		return nil, false
	}
	base := e.urls.next()
	target := base.JoinPath() // a copy
	target.Path = base.Path + r.def.Suffix
	target.RawPath = ""
	if base.RawPath != "" || strings.Contains(r.def.Suffix, "%") {
		target.RawPath = base.EscapedPath() + r.def.Suffix
	}
	host := e.host
	if host == "" {
		host = strings.ToLower(target.Host)
	}
	headers := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	for _, h := range e.w.Headers {
		headers.Set(h.Key, h.Value)
	}
	out := outgoing{method: r.def.method(), path: target.Path, header: headers}
	if r.outgoing != nil {
		res, err := r.outgoing.Eval(ctx, transform.Vars{
			transform.VarBody: body, transform.VarHeader: map[string][]string(headers),
			transform.VarMethod: out.method, transform.VarPath: out.path, transform.VarHost: host,
			transform.VarAuthenticationHeader: e.auth.headerValues(), transform.VarNow: e.now(),
		})
		if err != nil {
			e.stats.TransformErrors.Add(1)
			log.Warn("transform failed", "direction", "outgoing", "err", err)
			return nil, false
		}
		if err := out.apply(res); err != nil {
			e.stats.TransformErrors.Add(1)
			log.Warn("transform result unusable", "direction", "outgoing", "err", err)
			return nil, false
		}
	}
	if out.path != target.Path {
		target.Path, target.RawPath = out.path, ""
	}
	if len(out.query) > 0 {
		q := target.Query()
		for k, vs := range out.query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		target.RawQuery = q.Encode()
	}
	var payloadBytes []byte
	switch {
	case out.bodySet:
		payloadBytes = out.body
	case out.method == http.MethodGet || out.method == http.MethodDelete || out.method == http.MethodHead:
		// No body unless the transform sets one (IBM's DUO GETs set only a query).
	default:
		payloadBytes, _ = json.Marshal(verifyBody)
	}

	resp, err := e.send(ctx, target, out, payloadBytes)
	e.urls.report(base, err == nil && resp.Status < 500)
	if err != nil {
		e.stats.VendorErrors.Add(1)
		log.Warn("vendor call failed", "kind", errorKind(err), "err", err)
		return nil, false
	}
	if !e.w.accepts(r.def, resp.Status) {
		e.stats.UnexpectedStatus.Add(1)
		log.Warn("vendor answered an unexpected status", "status", resp.Status)
		return nil, false
	}
	vendorBody, err := decodeBody(resp.Body)
	if err != nil {
		log.Warn("vendor body", "err", err)
		return nil, false
	}
	if r.incoming == nil {
		return vendorBody, true
	}
	res, err := r.incoming.Eval(ctx, transform.Vars{
		transform.VarBody: vendorBody, transform.VarHeader: map[string][]string(resp.Header),
		transform.VarStatusCode: int64(resp.Status),
		transform.VarRequest: map[string]any{
			"body": body, "header": map[string][]string(out.header), "method": out.method,
			"path": out.path, "host": host,
		},
	})
	if err != nil {
		e.stats.TransformErrors.Add(1)
		log.Warn("transform failed", "direction", "incoming", "status", resp.Status, "err", err)
		return nil, false
	}
	answer, ok = res["body"]
	if !ok {
		e.stats.TransformErrors.Add(1)
		log.Warn("incoming transform returned no body", "status", resp.Status)
		return nil, false
	}
	return answer, true
}

// send makes the request, and once more with a fresh token if a token-based
// authentication was refused: the only retry emfa makes, since the first call was not
// accepted.
func (e *Engine) send(ctx context.Context, target *url.URL, out outgoing, body []byte) (*response, error) {
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, out.method, target.String(), rd)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		req.Header = out.header.Clone()
		if host := req.Header.Get("Host"); host != "" {
			req.Host = host
			req.Header.Del("Host")
		}
		if err := e.auth.apply(ctx, req, applyOptions{skip: out.skipAuth, titleCaseBearer: out.titleCaseBearer}); err != nil {
			return nil, fmt.Errorf("authentication: %w", err)
		}
		resp, err := e.client.do(ctx, req)
		if provider.Recording(ctx) {
			x := provider.Exchange{Time: e.now(), Method: req.Method, URL: req.URL, RequestHeader: req.Header.Clone(), RequestBody: body}
			if err == nil {
				x.Status, x.ResponseHeader, x.ResponseBody = resp.Status, resp.Header, resp.Body
			}
			provider.RecordExchange(ctx, x)
		}
		if err != nil || attempt > 0 || out.skipAuth || !e.auth.tokenBased() ||
			(resp.Status != http.StatusUnauthorized && resp.Status != http.StatusForbidden) {
			return resp, err
		}
		e.auth.invalidate(req)
		e.stats.TokenRetries.Add(1)
	}
}

// outgoing is the request an outgoing transform shapes.
type outgoing struct {
	method, path    string
	header          http.Header
	query           map[string][]string
	body            []byte
	bodySet         bool
	skipAuth        bool
	titleCaseBearer bool
}

// apply takes the outgoing transform's result keys (cel-dialect.md); absent keys leave
// that part of the request unchanged.
func (o *outgoing) apply(res map[string]any) error {
	for key, v := range res {
		switch key {
		case "body":
			o.bodySet = true
			switch b := v.(type) {
			case string:
				o.body = []byte(b)
			case nil:
				o.body = nil
			default:
				data, err := json.Marshal(b)
				if err != nil {
					return fmt.Errorf("body: %w", err)
				}
				o.body = data
			}
		case "header":
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("header must be a map")
			}
			h := http.Header{}
			for name, val := range m {
				vals, err := stringList(val)
				if err != nil {
					return fmt.Errorf("header %s: %w", name, err)
				}
				for _, s := range vals {
					h.Add(name, s)
				}
			}
			o.header = h
		case "method":
			s, ok := v.(string)
			if !ok || s == "" {
				return fmt.Errorf("method must be a non-empty string")
			}
			o.method = strings.ToUpper(s)
		case "path":
			s, ok := v.(string)
			if !ok || !strings.HasPrefix(s, "/") {
				return fmt.Errorf("path must be a string starting with /")
			}
			o.path = s
		case "query":
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("query must be a map")
			}
			o.query = map[string][]string{}
			for name, val := range m {
				vals, err := stringList(val)
				if err != nil {
					return fmt.Errorf("query %s: %w", name, err)
				}
				o.query[name] = vals
			}
		case "skip_authentication":
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("skip_authentication must be a bool")
			}
			o.skipAuth = b
		case "title_case_bearer":
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("title_case_bearer must be a bool")
			}
			o.titleCaseBearer = b
		}
	}
	return nil
}

// stringList accepts a string, a scalar, or a list of them.
func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, err := scalarString(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	default:
		s, err := scalarString(x)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64, float64, bool, json.Number:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("value must be a string or a list of strings")
}

// decodeBody is the incoming transform's `body`: parsed JSON, {} when empty, the raw
// string when not JSON.
func decodeBody(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	v, err := transform.DecodeJSON(data)
	if err != nil {
		return string(data), nil
	}
	return v, nil
}

func toJSONValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return transform.DecodeJSON(data)
}

// remarshal converts a transform's answer into a typed value through JSON.
func remarshal(v any, dst any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}

func deref(o *provider.Outcome) provider.Outcome {
	if o == nil {
		return provider.Outcome{}
	}
	return *o
}
