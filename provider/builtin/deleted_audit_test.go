package builtin_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestDeletedMeanwhileAudited: a code or answer decided for a factor deleted
// since the validation read it is FAILED to Verify and recorded FAILED in the audit
// trail, saying so, through the Provider as Verify calls it; the challenge of a sent code
// ends FAILED rather than staying PENDING.
func TestDeletedMeanwhileAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		del := &deletedMeanwhile{Store: st}
		deltx := &deletedMeanwhileTx{Store: del}
		f := newEngineFixture(t, deltx, nil)
		p := &provider.Provider{CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"hotp", "smsotp"},
			Engine: f.engine, Now: f.clock.Now, Audit: deltx, Switches: &provider.SwitchCache{Store: st, Now: f.clock.Now}}
		recorded := func(what, id string) {
			t.Helper()
			evs, err := st.ListAudit(ctx, store.AuditFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(evs, func(ev store.AuditEvent) bool {
				return ev.FactorID == id && ev.Resource == provider.ResourceValidate && ev.Outcome == "FAILED" && strings.Contains(ev.Reason, "deleted meanwhile")
			}) {
				t.Errorf("%s: no FAILED validate record saying the factor was deleted: %+v", what, evs)
			}
		}
		for _, c := range []struct{ what, code string }{{"right", hotpCode(0)}, {"wrong", otherCode(hotpCode(0))}} {
			id := f.enrollHOTP(t, "alice", 0)
			del.armed = true
			out, err := p.Validate(ctx, provider.Request{Capability: "hotp", ID: id, Username: "alice", Passvalue: c.code})
			if err != nil || out.Status != provider.StatusFailed {
				t.Errorf("a %s code: %s, %v; want FAILED", c.what, out.Status, err)
			}
			recorded(c.what+" hotp code", id)
		}
		sms := f.enrollSMS(t, "bob", "+15551230123")
		started, err := p.Initiate(ctx, provider.Request{Capability: "smsotp", ID: sms, Username: "bob"})
		if err != nil || started.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v %v", started, err)
		}
		deltx.armed = true
		out, err := p.Validate(ctx, provider.Request{Capability: "smsotp", ID: sms, Username: "bob", TransactionID: started.TransactionID, Passvalue: f.sms.last(t).Code})
		if err != nil || out.Status != provider.StatusFailed {
			t.Errorf("the right sms code: %s, %v; want FAILED", out.Status, err)
		}
		recorded("right sms code", sms)
		tx, err := st.GetTransaction(ctx, "b:"+started.TransactionID)
		if err != nil || tx.Status != string(provider.StatusFailed) {
			t.Errorf("the challenge after: %q, %v; want FAILED", tx.Status, err)
		}
	})
}
