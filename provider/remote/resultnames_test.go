package remote

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestComputedResultNamesNotLogged: the refusal of an outgoing transform's result
// named a query parameter or header it could not send, and a result key it does not know,
// as they were, though a name computed from the input (a map keyed by a passvalue) may be a
// secret, as the transform package's errors have it. A name the transform's text has is
// still said; one it computed is not.
func TestComputedResultNamesNotLogged(t *testing.T) {
	v := newTypedVendor(t)
	e, logs, _ := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"validate": {Suffix: "/v", Transform: Transform{Outgoing: `{"query": {"S3" + body.attributes.username: {"a": 1}}}`}},
		"initiate": {Suffix: "/i", Transform: Transform{Outgoing: `{"header": {"S3" + body.attributes.username: {"a": 1}}}`}},
		"test":     {Suffix: "/t", Transform: Transform{Outgoing: `{"S3" + method: 1}`}},
		"hotp_1":   {Suffix: "/h", Transform: Transform{Outgoing: `{"query": {"txid": {"a": 1}}}`}},
	}})
	ctx := context.Background()
	for _, call := range []func() (provider.Outcome, error){
		func() (provider.Outcome, error) { return e.Validate(ctx, req("totp", "", "1")) },
		func() (provider.Outcome, error) { return e.Initiate(ctx, req("push", "", "")) },
		func() (provider.Outcome, error) { return e.Test(ctx) },
		func() (provider.Outcome, error) { return e.Validate(ctx, req("hotp", "", "1")) },
	} {
		if out, err := call(); err != nil || out.Status != provider.StatusFailed {
			t.Fatalf("%+v %v, want FAILED", out, err)
		}
	}
	got := logs.String()
	for _, secret := range []string{"S3alice", "S3POST"} {
		if strings.Contains(got, secret) {
			t.Errorf("the log holds %s, a name computed from the input:\n%s", secret, got)
		}
	}
	if !strings.Contains(got, "query txid: value must be") {
		t.Errorf("the log does not name the parameter the transform names:\n%s", got)
	}
}
