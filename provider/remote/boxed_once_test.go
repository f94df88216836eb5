package remote

import (
	"reflect"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// TestConstantVarsUnboxed: the transform inputs that are the same for every call of
// an engine (its headers, its header authentication, a resource's method) go into each
// call's Vars without an allocation: converted and boxed once, not boxed again per call
// (three allocations a mediated call before).
func TestConstantVarsUnboxed(t *testing.T) {
	e := &Engine{}
	e.headerValue = transform.NewHeaderValue(map[string][]string{"Accept": {"application/json"}})
	e.authValue = transform.NewValue(map[string]string{"Authorization": "x"})
	r := &resource{name: "initiate", method: "POST", methodValue: transform.NewValue("POST")}
	vars := transform.Vars{transform.VarHeader: nil, transform.VarAuthenticationHeader: nil, transform.VarMethod: nil}
	if n := testing.AllocsPerRun(100, func() {
		vars[transform.VarHeader] = e.headerValue
		vars[transform.VarAuthenticationHeader] = e.authValue
		vars[transform.VarMethod] = r.methodValue
	}); n != 0 {
		t.Errorf("allocations putting an engine's constant inputs in Vars: %v, want 0", n)
	}
}

// TestSharedHostUnboxed: when every URL of a webhook has one host, the host the
// transforms see is boxed once for the engine, not for each call's Vars (an allocation a
// call before).
func TestSharedHostUnboxed(t *testing.T) {
	e := ibmDUOEngine(t, "https://api-x.duosecurity.com", "I", "S")
	r := e.resources[provider.ResourceInitiate]
	vars := transform.Vars{transform.VarHost: nil}
	start := testing.AllocsPerRun(100, func() { e.start(r) })
	withHost := testing.AllocsPerRun(100, func() {
		_, _, host, _ := e.start(r)
		vars[transform.VarHost] = host
	})
	if withHost != start {
		t.Errorf("allocations putting the shared host in Vars: %v, want 0", withHost-start)
	}
}

// TestPathConvertedOnce: the path the outgoing transform reads is converted and
// boxed once for a resource under the first URL (two allocations a call before, when
// each call converted it), and still converted for any other path.
func TestPathConvertedOnce(t *testing.T) {
	w, _, err := LoadWebhook(map[string]any{
		"webhookFile": verifyfiles.Path(t, "ibm-duo-webhook.json"),
		"values":      map[string]any{"duo_url": "https://api-x.duosecurity.com/base", "duo_integration_key": "I", "duo_signing_key": "S"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Webhook: w, Provider: "duo", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r := e.resources[provider.ResourceInitiate]
	_, _, _, out := e.start(r)
	vars := transform.Vars{transform.VarPath: nil}
	if n := testing.AllocsPerRun(100, func() { vars[transform.VarPath] = e.pathValue(r, out.path) }); n != 0 {
		t.Errorf("allocations converting the resource's own path: %v, want 0", n)
	}
	for _, path := range []string{out.path, "/auth/v2/other"} {
		if got, want := e.pathValue(r, path), any(transform.NewValue(path)); !reflect.DeepEqual(got, want) {
			t.Errorf("pathValue(%q) = %v, want %v", path, got, want)
		}
	}
}
