package provider_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// manyAttributes reads every user as one with 150 attributes.
type manyAttributes struct{}

func (manyAttributes) GetUserRecord(_ context.Context, name string) (store.UserRecord, error) {
	attrs := map[string]string{}
	for i := range 150 {
		attrs[fmt.Sprintf("a%03d", i)] = "v"
	}
	return store.UserRecord{User: store.User{Name: name}, Profile: store.Profile{Attributes: attrs}}, nil
}

// TestPolicyInterruptedIsNoDenial: a policy whose evaluation is cut short because
// the request ended (Verify hung up, the deadline passed) has decided nothing: the call
// fails with the context's error, as a store read cut short does, rather than being
// answered, and recorded, as the user denied by the policy.
func TestPolicyInterruptedIsNoDenial(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pol, err := provider.NewCELPolicy(map[string]string{"totp": `!user.attributes.exists(k, k == "blocked")`}, manyAttributes{},
		func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if why, err := pol.Denied(context.Background(), "alice", "totp"); why != "" || err != nil {
		t.Fatalf("alice, live: %q %v", why, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// alice is cached now: no store read stands before the evaluation.
	why, err := pol.Denied(ctx, "alice", "totp")
	if why != "" || !errors.Is(err, context.Canceled) {
		t.Errorf("alice, her request ended: %q, %v; want no denial and context.Canceled", why, err)
	}
	e := &countingEngine{}
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"}, Engine: e, Policy: pol}
	if out, err := p.Validate(ctx, provider.Request{Username: "alice", Capability: "totp", ID: "t1"}); err == nil {
		t.Errorf("validate of a request that ended: answered %+v, want an error", out)
	}
}
