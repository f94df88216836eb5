package adapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
)

// The token scope each admin operation needs is declared once, in the OpenAPI document
// (its x-scope), as its query parameters are: routeAdmin reads it from there, so what
// the document tells a caller and what the server enforces cannot drift apart.

// scopeNone is the x-scope of an operation served without a token (the document itself).
const scopeNone = "none"

// ctxScope is the echo context key of the admin token's scope.
const ctxScope = "emfa.scope"

// adminScopes are the scope each admin operation needs, by "METHOD /path" as the document
// names it ("POST /users/{user}/reset"). Read at routing, as adminQueries are, from the
// embedded file.
var adminScopes = sync.OnceValue(func() map[string]string {
	scopes, err := scopesOf(adminOpenAPIFile)
	if err != nil {
		// The document is embedded and checked by TestAdminScopesDocumented: one that
		// cannot be read is a build defect.
		panic("adapter: admin_openapi.json: " + err.Error())
	}
	return scopes
})

// scopesOf reads every operation's x-scope from doc: one missing, one that is no scope,
// and none on an operation that asks for a token (or the reverse) are errors.
func scopesOf(doc []byte) (map[string]string, error) {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	scopes := map[string]string{}
	var errs []error
	for path, item := range d.Paths {
		for method, raw := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				Scope    string            `json:"x-scope"`
				Security *[]map[string]any `json:"security"`
			}
			key := strings.ToUpper(method) + " " + path
			if err := json.Unmarshal(raw, &op); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				continue
			}
			public := op.Security != nil && len(*op.Security) == 0
			switch {
			case op.Scope == "":
				errs = append(errs, fmt.Errorf("%s has no x-scope", key))
			case op.Scope == scopeNone && !public:
				errs = append(errs, fmt.Errorf("%s: x-scope none, but its security asks for a token", key))
			case op.Scope != scopeNone && public:
				errs = append(errs, fmt.Errorf("%s: x-scope %s, but its security is empty", key, op.Scope))
			case op.Scope != scopeNone && !slices.Contains(lifecycle.Scopes, op.Scope):
				errs = append(errs, fmt.Errorf("%s: x-scope %q is none of %s, %s", key, op.Scope, strings.Join(lifecycle.Scopes, ", "), scopeNone))
			}
			scopes[key] = op.Scope
		}
	}
	return scopes, errors.Join(errs...)
}

// route serves the admin operation method path (echo's form, under AdminPrefix) with h,
// behind the token its x-scope needs. An operation the document does not have is a
// defect of this package, found when the server is built.
func (api adminAPI) route(e *echo.Echo, method, path string, h echo.HandlerFunc) {
	op := operationOf(method, path)
	scope, ok := adminScopes()[op]
	if !ok {
		panic("adapter: admin_openapi.json has no operation " + op)
	}
	if scope == scopeNone {
		e.Add(method, path, h, queryChecked)
		return
	}
	e.Add(method, path, h, api.auth(scope))
}

// queryChecked checks an untokened admin route's query parameters, as auth does a
// tokened one's.
func queryChecked(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkQuery(c); err != nil {
			return err
		}
		return next(c)
	}
}

// needScope refuses what the request asks for beyond its route's x-scope (an activation
// link returned rather than e-mailed) unless the token's scope includes need.
func (api adminAPI) needScope(c echo.Context, need string) error {
	if got, _ := c.Get(ctxScope).(string); !lifecycle.ScopeAllows(got, need) {
		name, _ := c.Get(ctxActor).(string)
		return api.refuseScope(c, name, got, need)
	}
	return nil
}

// refuseScope answers 403 to the token name of scope got, which asked for what needs
// scope need: logged (the access log has only the status and the address) and audited,
// one row a refusal.
func (api adminAPI) refuseScope(c echo.Context, name, got, need string) error {
	api.s.log.Warn("admin scope refused", "actor", name, "scope", got, "need", need, "method", c.Request().Method,
		"route", c.Path(), "remote", c.RealIP(), "request_id", callRequestID(c))
	// RFC 6750 §3: a token that does not enable access is challenged, saying the scope
	// it would need.
	c.Response().Header().Set(echo.HeaderWWWAuthenticate,
		fmt.Sprintf(`Bearer realm="emfa admin", error="insufficient_scope", scope="%s"`, need))
	api.m.RefuseScope(c.Request().Context(), lifecycle.Actor(name), need, c.Request().Method, c.Path(),
		param(c, "user"), param(c, "factor"))
	return &lifecycle.Error{Kind: lifecycle.Forbidden, Code: "insufficient_scope",
		Msg: fmt.Sprintf("token %q has scope %s; this needs %s", name, got, need)}
}
