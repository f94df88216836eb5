package remote

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/transform"
)

// TestEvalTransformPathAsTheEngineGivesIt: emfa transform eval (README, "Try a
// transform") gives the variables left out "the values emfa would use". For a suffix
// holding a percent-escape, the engine's path is the decoded path of base URL + suffix
// (url.URL.Path, what a signature such as DUO's is computed over); eval gave the raw
// text, so the playground showed another path, and another signature, than the call made.
func TestEvalTransformPathAsTheEngineGivesIt(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	w := &Webhook{URLs: []string{v.srv.URL + "/api"}, Resources: map[string]Resource{
		"validate": {Suffix: "/v1/factors%3Acheck", Transform: Transform{
			Outgoing: `{"header": header.put("x-path", path)}`}},
	}}
	e := newEngine(t, w)
	if _, err := e.Validate(context.Background(), req("totp", "", "1")); err != nil {
		t.Fatal(err)
	}
	sent := v.requests()[0].Header.Get("X-Path")
	out, err := EvalTransform(context.Background(), w, "validate", transform.Outgoing,
		map[string]any{"body": map[string]any{}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := out["header"].(map[string]any)["x-path"].([]any)[0]
	if got != sent {
		t.Errorf("eval's path %q, the engine's %q", got, sent)
	}
}
