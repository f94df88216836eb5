package adapter

import (
	"net/http"
	"strings"
)

// contractGroup is the contract routes' group, as echo keeps its routes' paths.
const contractGroup = "/v1/providers/:prefix/"

// SpanRoute is what a trace may say of r's path (telemetry.Tracing.Handler): the route
// it matches, never the path as sent, so that no caller can mint span names or url.path
// values of its own. A contract route names its provider by its configured
// credentialPrefix, in its configured spelling, and only when one is configured with
// that prefix: /v1/providers/…/RESOURCE otherwise. Any other route keeps its first two
// segments, up to the first that a route leaves to the caller (a parameter, a
// wildcard); a path that no route serves is /….
func (s *Server) SpanRoute(r *http.Request) string {
	path := r.URL.RawPath // what echo routes on (echo.GetPath)
	if path == "" {
		path = r.URL.Path
	}
	c := s.echo.AcquireContext() // echo's pool: a traced request allocates no context of its own
	defer s.echo.ReleaseContext(c)
	c.Reset(nil, nil)
	s.echo.Router().Find(r.Method, path, c)
	route := c.Path()
	if res, ok := strings.CutPrefix(route, contractGroup); ok && !strings.ContainsAny(res, ":*/") {
		if p, ok := s.providers[strings.ToLower(c.Param("prefix"))]; ok {
			return "/v1/providers/" + p.CredentialPrefix + "/" + res
		}
		return "/v1/providers/…/" + res
	}
	if !strings.HasPrefix(route, "/") {
		return "/…"
	}
	segs := strings.Split(route[1:], "/")
	kept := 0
	for kept < len(segs) && kept < 2 && !strings.ContainsAny(segs[kept], ":*") {
		kept++
	}
	out := "/" + strings.Join(segs[:kept], "/")
	if kept < len(segs) {
		out = strings.TrimSuffix(out, "/") + "/…"
	}
	return out
}
