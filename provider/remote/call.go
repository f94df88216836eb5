package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// call runs one resource: outgoing transform, the HTTP call (retried once with a fresh
// token after a 401/403 when the authentication is token-based), the expectedStatus
// check, and the incoming transform. ok is false on any fault, which it logs and counts.
// Verify's payload is converted for CEL once and shared by both transforms; the answer is
// the incoming transform's body, read by the caller without converting it to Go maps.
func (e *Engine) call(ctx context.Context, r *resource, verifyBody map[string]any) (answer transform.Value, ok bool) {
	e.stats.Calls.Add(1)
	outcome, took := "error", time.Duration(0)
	defer func() { e.observer.VendorCall(e.prefix, r.name, outcome, took) }()
	body, err := payloadValue(verifyBody)
	if err != nil {
		e.log.Error("verify payload", "provider", e.prefix, "resource", r.name, "err", err)
		return transform.Value{}, false
	}
	base, target, host, out := e.start(r)
	path := out.path // the outgoing transform's, which incoming's request repeats
	if r.outgoing != nil {
		cctx, span := e.celSpan(ctx, r, "outgoing")
		res, err := r.outgoing.EvalValue(cctx, transform.Vars{
			transform.VarBody: body, transform.VarHeader: e.headerValue,
			transform.VarMethod: r.methodValue, transform.VarPath: transform.NewValue(path), transform.VarHost: host,
			transform.VarAuthenticationHeader: e.authValue, transform.VarNow: e.now(),
		})
		provider.EndSpan(span, err != nil, "transform failed")
		if err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			e.log.Warn("transform failed", "provider", e.prefix, "resource", r.name, "direction", "outgoing", "err", err)
			return transform.Value{}, false
		}
		if err := out.apply(res); err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			e.log.Warn("transform result unusable", "provider", e.prefix, "resource", r.name, "direction", "outgoing", "err", err)
			return transform.Value{}, false
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

	vctx, span := provider.StartSpan(ctx, "vendor "+r.name, provider.AttrProvider.String(e.prefix), provider.AttrResource.String(r.name),
		attribute.String("http.request.method", out.method), attribute.String("server.address", target.Hostname()))
	resp, took, err := e.exchange(vctx, base, target, out, payloadBytes)
	if span.IsRecording() {
		if err == nil {
			span.SetAttributes(attribute.Int("http.response.status_code", resp.Status))
			provider.EndSpan(span, !e.w.accepts(r.def, resp.Status), "unexpected status")
		} else {
			span.SetAttributes(attribute.String("error.type", errorKind(err)))
			provider.EndSpan(span, true, "vendor call failed")
		}
	}
	if err != nil {
		outcome = failureOutcome(err)
		e.log.Warn("vendor call failed", "provider", e.prefix, "resource", r.name, "kind", errorKind(err), "err", provider.LogSafe(err))
		return transform.Value{}, false
	}
	if !e.w.accepts(r.def, resp.Status) {
		e.stats.UnexpectedStatus.Add(1)
		outcome = "status"
		e.log.Warn("vendor answered an unexpected status", "provider", e.prefix, "resource", r.name, "status", resp.Status)
		return transform.Value{}, false
	}
	vendorBody := decodeBody(resp.Body)
	if r.incoming == nil {
		outcome = "ok"
		return vendorBody, true
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
		return transform.Value{}, false
	}
	answer, ok = res.Field("body")
	if !ok {
		e.stats.TransformErrors.Add(1)
		e.observer.CELError(e.prefix, r.name, "incoming")
		e.log.Warn("incoming transform returned no body", "provider", e.prefix, "resource", r.name, "status", resp.Status)
		return transform.Value{}, false
	}
	outcome = "ok"
	return answer, true
}

// celSpan starts the span of one CEL transform of r (direction: outgoing or incoming).
func (e *Engine) celSpan(ctx context.Context, r *resource, direction string) (context.Context, trace.Span) {
	return provider.StartSpan(ctx, "cel "+direction, provider.AttrProvider.String(e.prefix),
		provider.AttrResource.String(r.name), attribute.String("emfa.direction", direction))
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
// longest a vendor call keeps Verify waiting.
func (e *Engine) send(ctx context.Context, target *url.URL, out outgoing, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, e.client.timeout)
	defer cancel()
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
		if err != nil || attempt > 0 || out.skipAuth || !e.auth.tokenBased() ||
			(resp.Status != http.StatusUnauthorized && resp.Status != http.StatusForbidden) {
			return resp, err
		}
		e.auth.invalidate(req)
		e.stats.TokenRetries.Add(1)
	}
}

// start picks the URL for a call of r and the request before any transform: the target
// (base URL + suffix), the host the transforms see, and r's method and path.
func (e *Engine) start(r *resource) (base, target *url.URL, host string, out outgoing) {
	base = e.urls.next()
	target = joinSuffix(base, r.def.Suffix)
	host = e.host
	if host == "" {
		host = strings.ToLower(target.Host)
	}
	return base, target, host, outgoing{method: r.method, path: target.Path, header: e.header}
}

// joinSuffix is a copy of base with suffix appended verbatim to its path.
func joinSuffix(base *url.URL, suffix string) *url.URL {
	target := base.JoinPath() // a copy
	target.Path = base.Path + suffix
	target.RawPath = ""
	if base.RawPath != "" || strings.Contains(suffix, "%") {
		target.RawPath = base.EscapedPath() + suffix
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
	query           map[string][]string
	body            []byte
	bodySet         bool
	skipAuth        bool
	titleCaseBearer bool
}

// apply takes the outgoing transform's result keys (cel-dialect.md); absent keys leave
// that part of the request unchanged.
func (o *outgoing) apply(res transform.Value) error {
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
			if err := stringLists(v, "header", func(name string, vals []string) {
				for _, s := range vals {
					h.Add(name, s)
				}
			}); err != nil {
				return err
			}
			o.header = h
		case "method":
			s, ok := v.Text()
			if !ok || s == "" {
				return fmt.Errorf("method must be a non-empty string")
			}
			o.method = strings.ToUpper(s)
		case "path":
			s, ok := v.Text()
			if !ok || !strings.HasPrefix(s, "/") {
				return fmt.Errorf("path must be a string starting with /")
			}
			o.path = s
		case "query":
			q := map[string][]string{}
			if err := stringLists(v, "query", func(name string, vals []string) { q[name] = vals }); err != nil {
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
		}
		return nil
	})
}

// stringLists calls add with each entry of the map v as a list of strings; what names the
// result key in errors.
func stringLists(v transform.Value, what string, add func(name string, vals []string)) error {
	if !v.IsMap() {
		return fmt.Errorf("%s must be a map", what)
	}
	return v.Entries(func(name string, val transform.Value) error {
		vals, err := stringList(val)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, name, err)
		}
		add(name, vals)
		return nil
	})
}

// stringList accepts a string, a scalar, or a list of them.
func stringList(v transform.Value) ([]string, error) {
	var out []string
	err := v.Elems(func(e transform.Value) error {
		s, err := scalarString(e)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err == nil {
		if out == nil {
			out = []string{}
		}
		return out, nil
	}
	if out != nil {
		return nil, err
	}
	s, err := scalarString(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func scalarString(v transform.Value) (string, error) {
	if s, ok := v.Text(); ok {
		return s, nil
	}
	x, err := v.Interface()
	if err == nil {
		switch x.(type) {
		case int64, float64, bool:
			return fmt.Sprint(x), nil
		}
	}
	return "", fmt.Errorf("value must be a string or a list of strings")
}

// decodeBody is the incoming transform's `body`: parsed JSON, {} when empty, the raw
// string when not JSON; converted for CEL once.
func decodeBody(data []byte) transform.Value {
	v, err := transform.DecodeJSONValue(data)
	if err != nil {
		return transform.NewValue(string(data))
	}
	return v
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
