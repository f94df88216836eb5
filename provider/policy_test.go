package provider_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestPolicy: a capability restricted by CEL over the user is hidden from enrollments and
// refused (audited) at initiate and validate for users the expression does not admit.
func TestPolicy(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"alice", "bob"} {
		p := store.Profile{}
		if name == "alice" {
			p.Groups, p.Country = []string{"sms-allowed"}, "GB"
		}
		c := store.UserChange{Name: name, Create: &store.User{ID: "id-" + name, Name: name, CreatedAt: now}, Profile: &p, Now: now}
		if err := st.ApplyUserChanges(ctx, []store.UserChange{c})[0]; err != nil {
			t.Fatal(err)
		}
	}
	pol, err := provider.NewCELPolicy(map[string]string{"SMSOTP": `"sms-allowed" in user.groups`, "totp": `user.attributes["x"] == "y" || true`}, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	e := &countingEngine{}
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"smsotp", "totp"}, Engine: e, Policy: pol, Audit: st}
	caps := func(user string) string {
		list, err := p.Enrollments(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, en := range list {
			out = append(out, en.Capability)
		}
		return strings.Join(out, ",")
	}
	if got := caps("alice"); got != "smsotp,totp" {
		t.Errorf("alice: %s", got)
	}
	if got := caps("bob"); got != "totp" {
		t.Errorf("bob: %s", got)
	}
	out, err := p.Initiate(ctx, provider.Request{Username: "bob", Capability: "smsotp", ID: "s1"})
	if err != nil || out.Status != provider.StatusFailed || !strings.Contains(out.Reason, "denied by policy") || e.calls != 0 {
		t.Fatalf("bob initiate: %+v %v calls=%d", out, err, e.calls)
	}
	if out, _ := p.Validate(ctx, provider.Request{Username: "alice", Capability: "smsotp", ID: "s1"}); out.Status != provider.StatusSuccess {
		t.Fatalf("alice validate: %+v", out)
	}
	ev, err := st.ListAudit(ctx, store.AuditFilter{Username: "bob"})
	if err != nil || len(ev) != 1 || !strings.Contains(ev[0].Reason, "denied by policy") {
		t.Fatalf("audit %+v %v", ev, err)
	}
	// The user's country: alice's is GB, bob has none.
	byCountry, err := provider.NewCELPolicy(map[string]string{"voicecall": `user.country == "GB"`}, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for user, denied := range map[string]bool{"alice": false, "bob": true} {
		if why, err := byCountry.Denied(ctx, user, "voicecall"); err != nil || (why != "") != denied {
			t.Errorf("voicecall by country, %s: %q %v; want denied %v", user, why, err, denied)
		}
	}
	for _, bad := range []map[string]string{{"smsotp": `user.groups +`}, {"smsotp": `"x"`}} {
		if _, err := provider.NewCELPolicy(bad, st, nil); err == nil || !strings.Contains(err.Error(), "policy.smsotp") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
