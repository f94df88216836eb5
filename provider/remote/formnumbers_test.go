package remote

import (
	"context"
	"net/http"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestQueryDoublesAsJSONText: a number an outgoing transform puts in the query or a
// header is sent as its JSON text, as jsonToFormURLEncoded writes it: a request signed
// over jsonToFormURLEncoded(params) (DUO's scheme) must carry in its query what was signed.
// Before, a double went out in Go's %g form (1000000.0 as 1e+06).
func TestQueryDoublesAsJSONText(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"validate": {Suffix: "/v", Method: "GET", Transform: Transform{
			Outgoing: `{"query": {"n": 1000000.0, "f": [1234567.5]}, "header": {"x-signed": jsonToFormURLEncoded({"n": 1000000.0, "f": [1234567.5]}, true), "x-n": 2e6}}`}},
	}})
	out, err := e.Validate(context.Background(), req("totp", "", "1"))
	if err != nil || out.Status != provider.StatusSuccess {
		t.Fatalf("validate: %+v %v", out, err)
	}
	got := v.requests()[0]
	if got.Query != "f=1234567.5&n=1000000" || got.Query != got.Header.Get("X-Signed") {
		t.Errorf("query %q, signed %q; want both f=1234567.5&n=1000000", got.Query, got.Header.Get("X-Signed"))
	}
	if h := got.Header.Get("X-N"); h != "2000000" {
		t.Errorf("header X-N %q, want 2000000", h)
	}
}
