package adapter

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"
)

// strictAdminRouter is the served document with every object schema closed
// (additionalProperties false where it says nothing, an allOf of objects merged into
// one): a field an answer has that the document does not name is then a mismatch. A
// client generated from the document has no member for such a field, and drops it.
var strictAdminRouter = sync.OnceValues(func() (routers.Router, error) {
	var doc map[string]any
	if err := json.Unmarshal(AdminOpenAPI(), &doc); err != nil {
		return nil, err
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var resolve func(v any) map[string]any
	resolve = func(v any) map[string]any {
		m, _ := v.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			if name, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
				return resolve(schemas[name])
			}
		}
		return m
	}
	var closeAll func(v any, seen map[any]bool) any
	closeAll = func(v any, seen map[any]bool) any {
		switch x := v.(type) {
		case map[string]any:
			if parts, ok := x["allOf"].([]any); ok {
				merged := map[string]any{"type": "object"}
				props, required := map[string]any{}, []any{}
				for _, p := range parts {
					p := resolve(p)
					for k, s := range p["properties"].(map[string]any) {
						props[k] = s
					}
					if r, ok := p["required"].([]any); ok {
						required = append(required, r...)
					}
				}
				merged["properties"] = props
				if len(required) > 0 {
					merged["required"] = required
				}
				x = merged
			}
			if _, ok := x["properties"]; ok {
				if _, ok := x["additionalProperties"]; !ok {
					x["additionalProperties"] = false
				}
			}
			for k, e := range x {
				x[k] = closeAll(e, seen)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = closeAll(e, seen)
			}
		}
		return v
	}
	closeAll(doc, nil)
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	d, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	d.Servers = openapi3.Servers{{URL: "http://example.com" + AdminPrefix}}
	return legacyrouter.NewRouter(d)
})

// strictAdmin sends an admin request with the write token and checks its answer against
// strictAdminRouter: its status listed, its body of the schema with nothing beside it.
func (h *adminHarness) strictAdmin(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, "http://example.com"+AdminPrefix+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/import") {
		req.Header.Set("Content-Type", "text/csv")
	}
	req.Header.Set("Authorization", "Bearer "+h.write)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	router, err := strictAdminRouter()
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := router.FindRoute(httptest.NewRequest(method, "http://example.com"+AdminPrefix+path, nil))
	if err != nil {
		t.Fatalf("%s %s: no route in the document: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	v := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	v.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), v); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "\nSchema:"); i > 0 {
			msg = msg[:i]
		}
		t.Errorf("%s %s: %d %.400s\nhas what the document does not describe: %s", method, path, rec.Code, rec.Body.String(), msg)
	}
	return rec.Code, out
}
