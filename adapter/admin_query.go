package adapter

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/lifecycle"
)

// The admin API's query parameters are declared once, in its OpenAPI document: a route
// takes the parameters its operation lists there and refuses any other, as a body refuses
// an unknown field. A parameter ignored would do harm quietly: ?dryrun=true (for dryRun)
// applied an import, and ?outcome=failed (for FAILED) answered no events to a script
// looking for failures.

// queryParam is a query parameter of an admin operation.
type queryParam struct {
	name string
	// values are all it may be (an enum, or true and false for a boolean); nil: any
	// string, which its handler checks if it must (a limit, a time).
	values []string
	// nonEmpty: the document's minLength 1, a parameter that names something (a group,
	// a user, an actor, a request) and none is named "": given empty (?group=, as a
	// script's unset "$GROUP" sends it), it selected nothing and listed everything.
	nonEmpty bool
}

// adminQueries are the query parameters of each admin operation, by "METHOD /path" as
// the document names it ("GET /users/{user}"). Read once, when the admin API is routed
// (routeAdmin), not at package init: every command of the binary would pay for it (~0.8
// ms), and only a server with an admin API needs it. Read from the embedded file: the
// served document differs from it only in schemas (withFactorTypes), and building that
// is a decode into maps and an indented encode of 60 KiB, which routing, on serve's
// start-up, need not wait for.
var adminQueries = sync.OnceValue(func() map[string][]queryParam { return mustQueryParams(adminOpenAPIFile) })

// openAPIParam is a parameter as the document declares it, or a reference to one.
type openAPIParam struct {
	Ref    string `json:"$ref"`
	Name   string `json:"name"`
	In     string `json:"in"`
	Schema struct {
		Type      string   `json:"type"`
		Enum      []string `json:"enum"`
		MinLength int      `json:"minLength"`
	} `json:"schema"`
}

// mustQueryParams reads the query parameters of every operation of doc. The document is
// embedded and validated by TestAdminOpenAPI: one that cannot be read is a build defect.
func mustQueryParams(doc []byte) map[string][]queryParam {
	ops, err := queryParamsOf(doc)
	if err != nil {
		panic("adapter: admin_openapi.json: " + err.Error())
	}
	return ops
}

func queryParamsOf(doc []byte) (map[string][]queryParam, error) {
	var d struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]openAPIParam `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	resolve := func(p openAPIParam) (openAPIParam, error) {
		if p.Ref == "" {
			return p, nil
		}
		name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
		q, found := d.Components.Parameters[name]
		if !ok || !found {
			return p, fmt.Errorf("unresolved parameter %s", p.Ref)
		}
		return q, nil
	}
	ops := map[string][]queryParam{}
	for path, item := range d.Paths {
		var shared []openAPIParam // the path item's own, which every operation takes
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		for method, raw := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				Parameters []openAPIParam `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			key := strings.ToUpper(method) + " " + path
			ops[key] = []queryParam{}
			for _, p := range append(slices.Clone(shared), op.Parameters...) {
				p, err := resolve(p)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
				if p.In != "query" {
					continue
				}
				qp := queryParam{name: p.Name, values: p.Schema.Enum, nonEmpty: p.Schema.MinLength > 0}
				if p.Schema.Type == "boolean" {
					qp.values = []string{"true", "false"}
				}
				ops[key] = append(ops[key], qp)
			}
		}
	}
	return ops, nil
}

// operationOf is the document's name of the admin operation an echo route is: GET
// /admin/v1/users/:user is "GET /users/{user}".
func operationOf(method, route string) string {
	parts := strings.Split(strings.TrimPrefix(route, AdminPrefix), "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = "{" + name + "}"
		}
	}
	return method + " " + strings.Join(parts, "/")
}

// checkQuery refuses a query parameter the operation does not take, one given twice (which
// of the two would apply?), and a value outside those it takes. A route missing from the
// document takes none.
func checkQuery(c echo.Context) error {
	params := adminQueries()[operationOf(c.Request().Method, c.Path())]
	if name, why := unreadableQuery(c.Request().URL.RawQuery); why != "" {
		return invalidParameter(name, "%s", why)
	}
	q := c.QueryParams()
	for _, name := range slices.Sorted(maps.Keys(q)) {
		i := slices.IndexFunc(params, func(p queryParam) bool { return p.name == name })
		if i < 0 {
			return unknownParameter(name, params)
		}
		p, vals := params[i], q[name]
		if len(vals) > 1 {
			return invalidParameter(name, "is given %d times; give it once", len(vals))
		}
		if err := p.check(vals[0]); err != nil {
			return err
		}
	}
	return nil
}

// unreadableQuery is why Go's query parser, and so c.QueryParams, leaves out a parameter
// of raw without a word, and that parameter's name; why is "" when it reads raw whole. A
// pair with a ';' (not a separator since Go 1.17) or a '%' not followed by two hex digits
// is left out alone, and a query of more than 10,000 pairs (net/url's limit, counting
// empty ones) whole. Left out, it was a parameter ignored: ?prefix=%zz listed every user,
// an import's ?dryRun=true; applied the file, and so did ?dryRun=true followed by 10,000
// '&'.
func unreadableQuery(raw string) (name, why string) {
	if _, err := url.ParseQuery(raw); err == nil {
		return "", ""
	}
	for pair := range strings.SplitSeq(raw, "&") {
		key, value, _ := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(key)
		if kerr != nil {
			name = key
		}
		_, verr := url.QueryUnescape(value)
		switch {
		case strings.Contains(pair, ";"):
			return name, "holds a ';', which does not separate parameters: separate them with '&' (a ';' in a value is %3B)"
		case kerr != nil || verr != nil:
			return name, "holds a '%' not followed by two hex digits (a '%' in a value is %25)"
		}
	}
	return "", "the query has too many '&'-separated pairs (empty ones count) to be read"
}

// check refuses v where p takes only some values, naming them, and an empty v where p
// names something.
func (p queryParam) check(v string) error {
	if p.nonEmpty && v == "" {
		return invalidParameter(p.name, "is empty: give a value, or leave the parameter out to select every one")
	}
	if p.values != nil && !slices.Contains(p.values, v) {
		return invalidParameter(p.name, "must be %s, not %q%s", oneOf(p.values), v, didYouMean(v, p.values))
	}
	return nil
}

// CheckAuditFilter refuses a value of GET /audit's filter name (action, outcome) that the
// route refuses, in its words, so that emfa audit's flags take what the API takes. A name
// the route does not take is refused too.
func CheckAuditFilter(name, value string) error {
	params := adminQueries()["GET /audit"]
	i := slices.IndexFunc(params, func(p queryParam) bool { return p.name == name })
	if i < 0 {
		return unknownParameter(name, params)
	}
	return params[i].check(value)
}

func unknownParameter(name string, params []queryParam) error {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.name
	}
	msg := "is not a parameter of this route"
	switch near := suggest.Nearest(name, names); {
	case len(names) == 0:
		msg += ", which takes no query parameters"
	case near != "":
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	default:
		msg += "; it takes " + strings.Join(names, ", ")
	}
	return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "unknown_parameter", Field: name, Msg: msg}
}

func invalidParameter(name, format string, args ...any) error {
	return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_parameter", Field: name, Msg: fmt.Sprintf(format, args...)}
}

// oneOf words a list of allowed values: "true or false", "one of a, b, c".
func oneOf(values []string) string {
	if len(values) == 2 {
		return values[0] + " or " + values[1]
	}
	return "one of " + strings.Join(values, ", ")
}

// didYouMean is " (did you mean "X"?)" when X is a known value close to v, or the one
// that is v qualified (users.create for admin.users.create), else "".
func didYouMean(v string, known []string) string {
	if near := suggest.Nearest(v, known); near != "" {
		return fmt.Sprintf(" (did you mean %q?)", near)
	}
	var qualified []string
	for _, k := range known {
		if v != "" && (strings.HasSuffix(k, "."+v) || strings.HasSuffix(k, ":"+v)) {
			qualified = append(qualified, k)
		}
	}
	if len(qualified) == 1 {
		return fmt.Sprintf(" (did you mean %q?)", qualified[0])
	}
	return ""
}
