package builtin_test

import (
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestMailboxSpellings: a mailbox's domain has many spellings that reach the same
// server — upper or lower case, its A-label (xn--…) or U-label, full-width letters, a
// letter composed or decomposed — because the sender sends to the domain's IDNA form. The
// per-destination send limit (mail bombing) and the one-factor-per-mailbox rule must count
// them as the one mailbox they are, not one each.
func TestMailboxSpellings(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("sendLimits", map[string]any{"perUser": []any{}, "perDestination": []any{map[string]any{"window": "1h", "max": 1}}})
		})
		first := f.enroll(t, "emailotp", "alice", "email", "alice@bücher.example").Factor.ID
		out := f.initiate(t, "alice", "emailotp", first)
		if out.Status != provider.StatusPending {
			t.Fatalf("first code: %+v", out)
		}
		for _, spelling := range []string{
			"alice@xn--bcher-kva.example", // the A-label, which the sender sends to
			"alice@ｂücher.example",        // a full-width b
			"alice@bu\u0308cher.example",  // ü decomposed
			"alice@XN--BCHER-KVA.EXAMPLE", // the A-label in capitals
		} {
			// Bob (another account) enrolls the same mailbox under another spelling: his
			// code counts against the mailbox's limit, which alice's code has reached.
			enrolled, err := f.engine.Enroll(t.Context(), enrollment("emailotp", "bob", "email", spelling))
			if err != nil {
				t.Errorf("%q: enroll: %v", spelling, err)
				continue
			}
			out := f.initiate(t, "bob", "emailotp", enrolled.Factor.ID)
			if out.Status != provider.StatusFailed {
				t.Errorf("%q: a second code to alice's mailbox within the hour: %s %s", spelling, out.Status, out.Reason)
			}
			// And alice cannot enroll her own mailbox twice under another spelling.
			if _, err := f.engine.Enroll(t.Context(), enrollment("emailotp", "alice", "email", spelling)); err == nil {
				t.Errorf("%q: alice enrolled her mailbox a second time", spelling)
			}
			if err := f.store.DeleteFactor(t.Context(), enrolled.Factor.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.email.count(); n != 1 {
			t.Errorf("%d codes sent to one mailbox, want 1", n)
		}
	})
}
