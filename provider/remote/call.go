package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// Reasons a call that gave no answer is audited with (provider.Outcome.Reason); the log
// says more. A transform's failure is its own: the vendor may well have answered.
const (
	reasonVendor    = "vendor call failed (see log)"
	reasonTransform = "transform failed (see log)"
)

// call runs one resource: outgoing transform, the HTTP call (retried once with a fresh
// token after a 401/403 when the authentication is token-based), the expectedStatus
// check, the body's check (decodeBody) and the incoming transform. On any fault, which it
// logs and counts, failure is reasonVendor or reasonTransform, else "".
// Verify's payload is converted for CEL once and shared by both transforms; the answer is
// the incoming transform's body, read by the caller without converting it to Go maps.
func (e *Engine) call(ctx context.Context, r *resource, verifyBody map[string]any) (answer transform.Value, failure string) {
	e.stats.Calls.Add(1)
	outcome, took := "error", time.Duration(0)
	defer func() { e.observer.VendorCall(e.prefix, r.name, outcome, took) }()
	if r.name != provider.ResourceEnrollments && r.name != provider.ResourceTest {
		// A call that may start a challenge or spend a code runs to its end, its answer
		// read, even if Verify hangs up meanwhile: the answer is recorded for its retry.
		var cancel context.CancelFunc
		ctx, cancel = provider.RunToEnd(ctx)
		defer cancel()
	}
	body, err := payloadValue(verifyBody)
	if err != nil {
		e.log.Error("verify payload", "provider", e.prefix, "resource", r.name, "err", err)
		return transform.Value{}, reasonTransform
	}
	base, target, host, out := e.start(r)
	path := out.path // the outgoing transform's, which incoming's request repeats
	if r.outgoing != nil {
		cctx, span := e.celSpan(ctx, r, "outgoing")
		res, err := r.outgoing.EvalValue(cctx, transform.Vars{
			transform.VarBody: body, transform.VarHeader: e.headerValue,
			transform.VarMethod: r.methodValue, transform.VarPath: e.pathValue(r, path), transform.VarHost: host,
			transform.VarAuthenticationHeader: e.authValue, transform.VarNow: transform.Now(e.now()),
		})
		provider.EndSpan(span, err != nil, "transform failed")
		if err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			e.log.Warn("transform failed", "provider", e.prefix, "resource", r.name, "direction", "outgoing", "err", err)
			return transform.Value{}, reasonTransform
		}
		if err := out.apply(r.outgoing, res); err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			e.log.Warn("transform result unusable", "provider", e.prefix, "resource", r.name, "direction", "outgoing", "err", err)
			return transform.Value{}, reasonTransform
		}
	}
	out.onto(target)
	var payloadBytes []byte
	switch {
	case out.bodySet:
		payloadBytes = out.body
	case out.method == http.MethodGet || out.method == http.MethodDelete || out.method == http.MethodHead:
		// No body unless the transform sets one (IBM's DUO GETs set only a query).
	default:
		payloadBytes, _ = json.Marshal(verifyBody)
	}

	vctx, span := e.vendorSpan(ctx, r, out.method, target.Hostname())
	resp, took, err := e.exchange(vctx, base, target, out, payloadBytes)
	// A body that is not an answer (an HTML page, broken JSON) fails the call as a
	// transport fault does, its span included.
	var vendorBody transform.Value
	accepted := err == nil && e.w.accepts(r.def, resp.Status)
	if accepted {
		if vendorBody, err = decodeBody(resp); err != nil {
			e.stats.VendorErrors.Add(1)
		}
	}
	if span.IsRecording() {
		if resp != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.Status))
		}
		if err != nil {
			span.SetAttributes(attribute.String("error.type", errorKind(err)))
			provider.EndSpan(span, true, "vendor call failed")
		} else {
			provider.EndSpan(span, !accepted, "unexpected status")
		}
	}
	if err != nil {
		outcome = failureOutcome(err)
		e.log.Warn("vendor call failed", "provider", e.prefix, "resource", r.name, "kind", errorKind(err), "err", provider.LogSafe(err))
		return transform.Value{}, reasonVendor
	}
	if !accepted {
		e.stats.UnexpectedStatus.Add(1)
		outcome = "status"
		e.log.Warn("vendor answered an unexpected status", "provider", e.prefix, "resource", r.name, "status", resp.Status)
		return transform.Value{}, reasonVendor
	}
	if r.incoming == nil {
		outcome = "ok"
		return vendorBody, ""
	}
	outcome = "transform_error" // until the incoming transform gives a body
	cctx, span := e.celSpan(ctx, r, "incoming")
	vars := transform.Vars{transform.VarBody: vendorBody, transform.VarStatusCode: int64(resp.Status)}
	// The response's headers and the request, only for a transform that reads them (IBM's
	// DUO transforms read neither): ~25 allocations a call.
	if r.incoming.Uses(transform.VarHeader) {
		vars[transform.VarHeader] = transform.NewHeaderValue(resp.Header)
	}
	if r.incoming.Uses(transform.VarRequest) {
		// The outgoing transform's inputs (cel-dialect.md), not what it made of them.
		vars[transform.VarRequest] = map[string]any{
			"body": body, "header": e.headerValue, "method": r.methodValue, "path": path, "host": host,
		}
	}
	res, err := r.incoming.EvalValue(cctx, vars)
	provider.EndSpan(span, err != nil, "transform failed")
	if err != nil {
		e.stats.TransformErrors.Add(1)
		e.observer.CELError(e.prefix, r.name, "incoming")
		e.log.Warn("transform failed", "provider", e.prefix, "resource", r.name, "direction", "incoming", "status", resp.Status, "err", err)
		return transform.Value{}, reasonTransform
	}
	answer, ok := res.Field("body")
	if !ok {
		e.stats.TransformErrors.Add(1)
		e.observer.CELError(e.prefix, r.name, "incoming")
		e.log.Warn("incoming transform returned no body", "provider", e.prefix, "resource", r.name, "status", resp.Status)
		return transform.Value{}, reasonTransform
	}
	outcome = "ok"
	return answer, ""
}

// celSpan starts the span of one CEL transform of r (direction: outgoing or incoming).
// Untraced, it builds neither the name nor the attributes: StartSpan would drop them,
// but only after they were allocated (three spans a call).
func (e *Engine) celSpan(ctx context.Context, r *resource, direction string) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); !parent.IsRecording() {
		return ctx, parent
	}
	return provider.StartSpan(ctx, "cel "+direction, provider.AttrProvider.String(e.prefix),
		provider.AttrResource.String(r.name), attribute.String("emfa.direction", direction))
}

// vendorSpan starts the span of r's HTTP call to host; untraced, as celSpan, for nothing.
func (e *Engine) vendorSpan(ctx context.Context, r *resource, method, host string) (context.Context, trace.Span) {
	if parent := trace.SpanFromContext(ctx); !parent.IsRecording() {
		return ctx, parent
	}
	return provider.StartSpan(ctx, "vendor "+r.name, provider.AttrProvider.String(e.prefix), provider.AttrResource.String(r.name),
		attribute.String("http.request.method", method), attribute.String("server.address", host))
}

// exchange sends a call's request (send) and reports on its URL: a caller that hung up,
// or a token that could not be had, says nothing of the URL. A failure is counted.
func (e *Engine) exchange(ctx context.Context, base, target *url.URL, out outgoing, body []byte) (*response, time.Duration, error) {
	sent := time.Now()
	resp, err := e.send(ctx, target, out, body)
	took := time.Since(sent)
	if !errors.Is(err, errCanceled) && !errors.Is(err, errUpstreamAuth) {
		e.urls.report(base, err == nil && resp.Status < 500)
	}
	if err != nil {
		e.stats.VendorErrors.Add(1)
	}
	return resp, took, err
}

// failureOutcome is the vendor-call metric's outcome of a call that failed.
func failureOutcome(err error) string {
	switch k := errorKind(err); k {
	case "timeout", "refused":
		return k
	}
	return "error"
}

// send makes the request, and once more with a fresh token if a token-based
// authentication was refused: the only retry emfa makes, since the first call was not
// accepted. The webhook's timeout bounds all of it, token fetches included: it is the
// longest a vendor call keeps Verify waiting. A deadline of ctx's within the timeout
// bounds it already (the request's, with the defaults: 10s each): then no second timer,
// which was a context, a timer and its parent's map of children on every call.
func (e *Engine) send(ctx context.Context, target *url.URL, out outgoing, body []byte) (*response, error) {
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > e.client.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.client.timeout)
		defer cancel()
	}
	retryable := !out.skipAuth && e.auth.tokenBased()
	for attempt := 0; ; attempt++ {
		req, err := vendorRequest(ctx, out.method, target, body)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		if attempt == 0 && out.headerOwned && !retryable {
			// The outgoing transform's header map is this call's own, and no second
			// attempt needs it as it was: the request takes it (Host and the
			// authentication are set on it) instead of a copy, six allocations a call.
			req.Header = out.header
		} else {
			req.Header = out.header.Clone()
		}
		if host := req.Header.Get("Host"); host != "" {
			req.Host = host
			req.Header.Del("Host")
		}
		if err := e.auth.apply(ctx, req, applyOptions{skip: out.skipAuth, titleCaseBearer: out.titleCaseBearer}); err != nil {
			// A token wait the call's deadline or its caller ended, or a token fetch that
			// timed out, is classed as do's are.
			var nerr net.Error
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
				errors.As(err, &nerr) && nerr.Timeout():
				err = fmt.Errorf("%w: %w", errTimeout, err)
			case errors.Is(ctx.Err(), context.Canceled):
				err = fmt.Errorf("%w: %w", errCanceled, err)
			}
			// A token endpoint's URL may carry a key in its query (provider.LogSafe).
			return nil, fmt.Errorf("%w: %w", errUpstreamAuth, provider.LogSafe(err))
		}
		resp, err := e.client.do(ctx, req)
		if provider.Recording(ctx) {
			x := provider.Exchange{Time: e.now(), Method: req.Method, URL: req.URL, RequestHeader: req.Header.Clone(), RequestBody: body}
			if err == nil {
				x.Status, x.ResponseHeader, x.ResponseBody = resp.Status, resp.Header, resp.Body
			}
			provider.RecordExchange(ctx, x)
		}
		if err != nil || attempt > 0 || !retryable ||
			(resp.Status != http.StatusUnauthorized && resp.Status != http.StatusForbidden) {
			return resp, err
		}
		e.auth.invalidate(req)
		e.stats.TokenRetries.Add(1)
	}
}

// vendorRequest is http.NewRequestWithContext(ctx, method, target.String(), body) without
// writing target out and parsing it back, which gives target again when it is plainly
// written (a path from /, no fragment, no opaque part, a method that is a token): then
// the request takes target itself, and a header the caller replaces is not made. Three
// allocations and a URL parse, every vendor call. Any other target goes the long way.
func vendorRequest(ctx context.Context, method string, target *url.URL, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if !plainTarget(target) || method == "" || strings.IndexFunc(method, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
		return http.NewRequestWithContext(ctx, method, target.String(), rd)
	}
	// As NewRequestWithContext sets them, for a body of bytes.
	req := &http.Request{Method: method, URL: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: target.Host}
	if body != nil {
		req.ContentLength = int64(len(body))
		if len(body) == 0 {
			req.Body, req.GetBody = http.NoBody, noBody
		} else {
			req.Body = io.NopCloser(rd)
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
	}
	return req.WithContext(ctx), nil
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

// plainTarget reports whether target.String() parses back to target: the URL
// vendorRequest may send as it is.
func plainTarget(u *url.URL) bool {
	return (u.Scheme == "https" || u.Scheme == "http") && u.Opaque == "" && u.User == nil &&
		// An empty port is one NewRequest removes; an escape in the host is unescaped.
		u.Host != "" && !strings.HasSuffix(u.Host, ":") && !strings.Contains(u.Host, "%") &&
		strings.HasPrefix(u.Path, "/") && (u.RawPath == "" || u.RawPath == u.EscapedPath()) && // one that parses back
		!strings.Contains(u.RawQuery, "#") && !u.ForceQuery &&
		u.Fragment == "" && u.RawFragment == "" && !u.OmitHost
}

// start picks the URL for a call of r and the request before any transform: the target
// (base URL + suffix), the host the transforms see (a string, boxed once when every URL
// shares it), and r's method and path.
func (e *Engine) start(r *resource) (base, target *url.URL, host any, out outgoing) {
	base = e.urls.next()
	target = joinSuffix(base, r.def.Suffix)
	host = e.hostValue
	if host == nil {
		host = strings.ToLower(target.Host)
	}
	return base, target, host, outgoing{method: r.method, path: target.Path, header: e.header}
}

// boxedPath is a path and its transform.Value, boxed once.
type boxedPath struct {
	text  string
	value any
}

// pathValue is path converted for the transforms: as converted once when it is r's path
// under the first URL, else converted now.
func (e *Engine) pathValue(r *resource, path string) any {
	if p, ok := e.paths[r]; ok && p.text == path {
		return p.value
	}
	return transform.NewValue(path)
}

// joinSuffix is a copy of base with suffix appended verbatim to its path: sent as
// written, escapes and all. Path is the decoded form of what is sent, as url.URL keeps
// it: a Path that held the escapes undecoded disagreed with RawPath, and EscapedPath
// escaped them again (%3A went out as %253A).
func joinSuffix(base *url.URL, suffix string) *url.URL {
	target := base.JoinPath() // a copy
	target.Path = base.Path + suffix
	target.RawPath = ""
	if base.RawPath != "" || strings.Contains(suffix, "%") {
		raw := base.EscapedPath() + suffix
		if p, err := url.PathUnescape(raw); err == nil {
			target.Path, target.RawPath = p, raw
		}
	}
	return target
}

// onto sets the path and adds the query the outgoing transform gave to target.
func (o *outgoing) onto(target *url.URL) {
	if o.path != target.Path {
		target.Path, target.RawPath = o.path, ""
	}
	if len(o.query) > 0 {
		q := target.Query()
		for k, vs := range o.query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		target.RawQuery = q.Encode()
	}
}

// outgoing is the request an outgoing transform shapes.
type outgoing struct {
	method, path    string
	header          http.Header
	headerOwned     bool // header is the transform's, made for this call (else shared)
	query           map[string][]string
	body            []byte
	bodySet         bool
	skipAuth        bool
	titleCaseBearer bool
}

// outgoingKeys are the outgoing transform's result keys (cel-dialect.md), sorted.
var outgoingKeys = []string{"body", "header", "method", "path", "query", "skip_authentication", "title_case_bearer"}

// unknownKeyError is the error of a result key that is none of want: a typo ("quer") the
// request would otherwise go without, silently. key is as shownName gives it.
func unknownKeyError(key string, want []string) error {
	return fmt.Errorf("unknown key %s in the outgoing transform's result; want one of %s", key, strings.Join(want, ", "))
}

// shownName is a name an outgoing transform's result has (a key, a header, a query
// parameter) as an error gives it: cut at 64 bytes, and quoted when quote is set, when the
// transform's text writes it (or prg is nil: the text itself, checked at load); else not
// at all, since a name computed from the input (a map keyed by a passvalue) may be a
// secret, as the transform package's errors have it.
func shownName(prg *transform.Program, name string, quote bool) string {
	if prg != nil && !prg.Names(name) {
		return "(a name the transform does not write; not shown)"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	if quote {
		return strconv.Quote(name)
	}
	return name
}

// resultKeys are outgoingKeys and also, sorted in, the extra keys of a kind of transform
// (a lifecycle step's skip).
func resultKeys(also ...string) []string {
	if len(also) == 0 {
		return outgoingKeys
	}
	return slices.Sorted(slices.Values(append(slices.Clone(outgoingKeys), also...)))
}

// apply takes the outgoing transform's result keys (cel-dialect.md); absent keys leave
// that part of the request unchanged. also are keys its caller reads itself (a lifecycle
// step's skip); any other key is an error. prg is the transform, whose text tells which
// names an error may show (shownName).
func (o *outgoing) apply(prg *transform.Program, res transform.Value, also ...string) error {
	return res.Entries(func(key string, v transform.Value) error {
		switch key {
		case "body":
			o.bodySet = true
			if s, ok := v.Text(); ok {
				o.body = []byte(s)
				return nil
			}
			if v.IsNull() {
				o.body = nil
				return nil
			}
			b, err := v.Interface()
			if err != nil {
				return fmt.Errorf("body: %w", err)
			}
			data, err := json.Marshal(b)
			if err != nil {
				return fmt.Errorf("body: %w", err)
			}
			o.body = data
		case "header":
			h := http.Header{}
			var bad error
			if err := stringLists(prg, v, "header", func(name string, vals []string) {
				// net/http refuses to send these; refused here, the transform's fault is
				// said as one, and not taken for the vendor's (nor counted against its
				// URL). Neither name nor value is quoted: either may hold what the
				// transform was given.
				if !httpguts.ValidHeaderFieldName(name) {
					bad = errors.New("header: a name is not an HTTP header name")
				}
				for _, s := range vals {
					if !httpguts.ValidHeaderFieldValue(s) {
						bad = errors.New("header: a value holds a control character (a line break?)")
					}
				}
				if len(vals) == 0 {
					return
				}
				// What h.Add would make of each value, without a slice a value: vals is
				// this call's own.
				if key := textproto.CanonicalMIMEHeaderKey(name); len(h[key]) == 0 {
					h[key] = vals
				} else {
					h[key] = append(h[key], vals...)
				}
			}); err != nil {
				return err
			}
			if bad != nil {
				return bad
			}
			o.header, o.headerOwned = h, true
		case "method":
			s, ok := v.Text()
			if !ok || s == "" {
				return fmt.Errorf("method must be a non-empty string")
			}
			// An HTTP method is a token (RFC 9110 §9.1), which net/http checks before
			// sending: refused here, it is the transform's fault, as above.
			if strings.IndexFunc(s, func(r rune) bool { return !httpguts.IsTokenRune(r) }) >= 0 {
				return fmt.Errorf("method must be an HTTP method (a token)")
			}
			o.method = strings.ToUpper(s)
		case "path":
			s, ok := v.Text()
			if !ok || !strings.HasPrefix(s, "/") {
				return fmt.Errorf("path must be a string starting with /")
			}
			if err := checkPath(s); err != nil {
				return err
			}
			o.path = s
		case "query":
			q := map[string][]string{}
			if err := stringLists(prg, v, "query", func(name string, vals []string) { q[name] = vals }); err != nil {
				return err
			}
			o.query = q
		case "skip_authentication":
			b, ok := v.Bool()
			if !ok {
				return fmt.Errorf("skip_authentication must be a bool")
			}
			o.skipAuth = b
		case "title_case_bearer":
			b, ok := v.Bool()
			if !ok {
				return fmt.Errorf("title_case_bearer must be a bool")
			}
			o.titleCaseBearer = b
		default:
			if !slices.Contains(also, key) {
				return unknownKeyError(shownName(prg, key, true), resultKeys(also...))
			}
		}
		return nil
	})
}

// checkResultKeys is apply's refusal of an unknown key, at load: for the keys an outgoing
// transform's source shows, those of a map literal that is its result, or of the map
// literals a conditional chooses between. A key that is not a string literal, or a
// result built otherwise ({}.put(k, v)), is left to apply, as is a value whose type is
// known only at run time. The error starts with the key's (or value's) line:column.
func checkResultKeys(prg *transform.Program, also ...string) error {
	maps, _ := prg.ResultMaps()
	for _, m := range maps {
		for _, e := range m.Entries {
			if slices.Contains(outgoingKeys, e.Key) {
				if want := resultKeyType(e.Key, e.ValueType); want != "" {
					return fmt.Errorf("%s: %s must be %s, and this value cannot be", e.ValueAt, e.Key, want)
				}
				continue
			}
			if !slices.Contains(also, e.Key) {
				return fmt.Errorf("%s: %w", e.KeyAt, unknownKeyError(shownName(nil, e.Key, true), resultKeys(also...)))
			}
		}
	}
	return nil
}

// resultKeyType is what apply wants of a well-known key's value, when the value's static
// type t is one apply refuses ("" when t may do: a value read from the input is known only
// at run time). body takes any JSON value.
func resultKeyType(key string, t transform.StaticType) string {
	var want transform.StaticType
	switch key {
	case "method", "path":
		want = transform.TypeString
	case "header", "query":
		want = transform.TypeMap
	case "skip_authentication", "title_case_bearer":
		want = transform.TypeBool
	default:
		return ""
	}
	if t == transform.TypeUnknown || t == want {
		return ""
	}
	return map[transform.StaticType]string{transform.TypeString: "a string", transform.TypeMap: "a map", transform.TypeBool: "a bool"}[want]
}

// checkPath refuses a path an outgoing transform built with a dot segment in it: "." or
// "..", also percent-encoded ("%2e%2e", however many times) or between backslashes. A
// value put in a path (path + "/" + body.username) must not climb out of its segment: a
// vendor behind a proxy that normalises paths would answer /v1/users/bob/../alice as
// alice's. The message does not quote the path, which holds what the transform was given.
func checkPath(p string) error {
	for range 4 { // a path encoded more often than that is refused below
		if !strings.ContainsAny(p, ".%") {
			return nil
		}
		for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' || r == '\\' }) {
			if seg == "." || seg == ".." {
				return errors.New("path has a dot segment (. or .., percent-encoded too): refused, so that a value cannot climb out of its segment")
			}
		}
		unescaped, err := url.PathUnescape(p)
		if err != nil || unescaped == p {
			return nil
		}
		p = unescaped
	}
	return errors.New("path is percent-encoded more than 3 times over: refused")
}

// stringLists calls add with each entry of the map v as a list of strings; what names the
// result key in errors. The lists share one backing array, each capped at its end so that
// an append to one copies it: a header map's four values were four slices, every call.
func stringLists(prg *transform.Program, v transform.Value, what string, add func(name string, vals []string)) error {
	if !v.IsMap() {
		return fmt.Errorf("%s must be a map", what)
	}
	arena := make([]string, 0, 8)
	return v.Entries(func(name string, val transform.Value) error {
		start := len(arena)
		var err error
		if arena, err = appendStringList(arena, val); err != nil {
			return fmt.Errorf("%s %s: %w", what, shownName(prg, name, false), err)
		}
		add(name, arena[start:len(arena):len(arena)])
		return nil
	})
}

// appendStringList appends v to dst as a list of strings: a string, a scalar, or a list
// of them. On an error dst is returned as it was.
func appendStringList(dst []string, v transform.Value) ([]string, error) {
	start := len(dst)
	err := v.Elems(func(e transform.Value) error {
		s, err := scalarString(e)
		if err != nil {
			return err
		}
		dst = append(dst, s)
		return nil
	})
	switch {
	case err == nil:
		return dst, nil
	case len(dst) > start: // a list with an element that is no scalar
		return dst[:start], err
	}
	s, err := scalarString(v)
	if err != nil {
		return dst[:start], err
	}
	return append(dst, s), nil
}

func scalarString(v transform.Value) (string, error) {
	if s, ok := v.Text(); ok {
		return s, nil
	}
	x, err := v.Interface()
	if err == nil {
		switch x := x.(type) {
		case int64, bool:
			return fmt.Sprint(x), nil
		case float64:
			// Its JSON text, as jsonToFormURLEncoded writes it (1000000, not %g's 1e+06):
			// a query signed over that function's output must carry the same text.
			b, err := json.Marshal(x)
			if err == nil {
				return string(b), nil
			}
		}
	}
	return "", fmt.Errorf("value must be a string or a list of strings")
}

// decodeBody is the incoming transform's `body`: parsed JSON, {} when empty, and the text
// itself when it is neither JSON nor HTML (a vendor may answer text/plain or a form:
// cel-dialect.md keeps the raw string). JSON under any content type is JSON. A body that
// is not an answer is an error, errHTML or errMalformed, which does not quote it:
//   - an HTML page, by its content type or its first bytes: a proxy's error or login page
//     answered in the vendor's place, with a 200;
//   - a body that claims JSON (its content type, or none and a leading { or [) and does
//     not parse: cut short, or broken.
func decodeBody(resp *response) (transform.Value, error) {
	// A UTF-8 byte order mark, which some vendors put first and RFC 8259 §8.1 lets a
	// parser ignore, is not part of the answer.
	body := bytes.TrimPrefix(resp.Body, utf8BOM)
	v, err := transform.DecodeJSONValue(body)
	if err == nil {
		return v, nil
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml" ||
		strings.HasPrefix(http.DetectContentType(resp.Body), "text/html"):
		return transform.Value{}, fmt.Errorf("%w (%d bytes, Content-Type %s)", errHTML, len(resp.Body), logSafeType(ct))
	case claimsJSON(mt, ct, body):
		// The decoder's message names at most one character and an offset.
		return transform.Value{}, fmt.Errorf("%w (%d bytes, Content-Type %s): %w", errMalformed, len(resp.Body), logSafeType(ct), err)
	}
	return transform.NewValue(string(body)), nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// claimsJSON reports whether a body says it is JSON: its media type is JSON (or a +json
// type), or it has no content type and starts as a JSON object or array does.
func claimsJSON(mt, ct string, body []byte) bool {
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return true
	case ct == "":
		b := bytes.TrimLeft(body, " \t\r\n")
		return len(b) > 0 && (b[0] == '{' || b[0] == '[')
	}
	return false
}

// logSafeType is a Content-Type for the log: a vendor's header, so bounded and printable.
func logSafeType(ct string) string {
	if ct == "" {
		return "none"
	}
	if len(ct) > 64 {
		ct = ct[:64]
	}
	return strconv.Quote(ct)
}

// payloadValue converts Verify's payload for the transforms: directly when it holds only
// what decoding JSON gives (the adapter decodes with UseNumber), else through JSON, so the
// transforms see exactly what a JSON body would give them (integers as int, nested objects
// as maps) whatever Go types the caller used.
func payloadValue(v map[string]any) (transform.Value, error) {
	if decoded(v) {
		return transform.NewValue(v), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return transform.Value{}, err
	}
	return transform.DecodeJSONValue(data)
}

// decoded reports whether v holds only the types decoding JSON with UseNumber produces.
func decoded(v any) bool {
	switch x := v.(type) {
	case nil, bool, string, json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if !decoded(e) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !decoded(e) {
				return false
			}
		}
		return true
	}
	return false
}
