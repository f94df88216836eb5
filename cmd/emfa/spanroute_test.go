package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestSpanNamesAreBoundedRoutes: a server span's name and url.path come from emfa's own
// routes and configured prefixes, never from a path an unauthenticated caller makes up.
// Before, any /v1/providers/<up to 64 bytes>/<resource> (and any path of one or two
// segments up to 64 bytes) was kept as sent, so a caller without credentials could mint
// as many span names as it sent requests; and one provider's prefix in another case was
// another span name. A provider added by a reload is named as it is configured.
func TestSpanNamesAreBoundedRoutes(t *testing.T) {
	exp := newKeptSpans()
	body := "providers:\n  - name: Built-in factors\n    credentialPrefix: emfa\n    capabilities: [totp]\n    engine: builtin\n"
	cfg := writeTestConfig(t, "", body+tracingSection)
	base, logs, reload, stop := (&cli{traces: exp}).serveReloading(t, cfg)

	call := func(method, path string, auth bool) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{}`))
		if auth {
			req.SetBasicAuth("verify", "sim-password-0123")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		call("POST", fmt.Sprintf("/v1/providers/made-up-%d/initiate", i), false)
		call("GET", fmt.Sprintf("/made-up-%d", i), false)
		call("GET", fmt.Sprintf("/made-up-%d/x", i), false)
	}
	call("POST", "/v1/providers/EMFA/validate", true)
	call("POST", "/v1/providers/emfa/validate", true)
	call("GET", "/healthz", false)
	// A provider added by a reload.
	replaceFile(t, cfg, strings.Replace(mustRead(t, cfg), "providers:\n",
		"providers:\n  - name: Acme\n    credentialPrefix: Acme\n    capabilities: [totp]\n    engine: builtin\n", 1))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs)
	}
	call("POST", "/v1/providers/acme/validate", true)
	stop()

	names := map[string]int{}
	for _, s := range exp.GetSpans() {
		if s.SpanKind != trace.SpanKindServer {
			continue
		}
		names[s.Name]++
		for _, kv := range s.Attributes {
			if kv.Key == "url.path" && strings.Contains(kv.Value.AsString(), "made-up") {
				t.Errorf("span %q: url.path %q is the caller's", s.Name, kv.Value.AsString())
			}
		}
		if strings.Contains(s.Name, "made-up") {
			t.Errorf("span named %q: the caller's path", s.Name)
		}
	}
	if names["POST /v1/providers/emfa/validate"] != 2 {
		t.Errorf("emfa's validate as EMFA and emfa: %d spans named POST /v1/providers/emfa/validate, want 2; all: %v", names["POST /v1/providers/emfa/validate"], names)
	}
	if names["POST /v1/providers/Acme/validate"] != 1 {
		t.Errorf("a provider added by a reload: want one span POST /v1/providers/Acme/validate; all: %v", names)
	}
	if names["GET /healthz"] != 1 {
		t.Errorf("want one span GET /healthz; all: %v", names)
	}
	t.Logf("server spans: %v", names)
	if len(names) > 8 {
		t.Errorf("%d distinct server span names from 34 requests: %v", len(names), names)
	}
}
