package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

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
