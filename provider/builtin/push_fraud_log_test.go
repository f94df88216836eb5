package builtin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestRefusedApprovalIsNoFraudSignal: an approval that ends FAILED because the
// user was disabled meanwhile is the user saying "that was me", not a denial: it was
// logged as "push denied on the device: possible fraud", the line operators alert on
// (README), beside the real denials. It is now logged as a refused approval; a denial
// and a wrong number still are fraud signals.
func TestRefusedApprovalIsNoFraudSignal(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, true)
		alice := f.register(t, "alice", builtin.AlgES256)
		tx := f.initiate(t, "alice", alice.id)
		if err := st.SetUserDisabled(context.Background(), "alice", true); err != nil {
			t.Fatal(err)
		}
		n := tx.Attributes["number"].(int)
		if got, err := f.answer(alice, tx.TransactionID, provider.Approve, &n); err != nil || got != provider.StatusFailed {
			t.Fatalf("approved, the user disabled: %s %v", got, err)
		}
		logs := f.logs.String()
		if strings.Contains(logs, "possible fraud") {
			t.Errorf("a refused approval logged as a fraud signal:\n%s", logs)
		}
		if !strings.Contains(logs, "the user was disabled while the challenge was pending") {
			t.Errorf("the refused approval's reason not logged:\n%s", logs)
		}
		// A wrong number still is one.
		if err := st.SetUserDisabled(context.Background(), "alice", false); err != nil {
			t.Fatal(err)
		}
		tx = f.initiate(t, "alice", alice.id)
		wrong := tx.Attributes["number"].(int)%90 + 11
		if got, err := f.answer(alice, tx.TransactionID, provider.Approve, &wrong); err != nil || got != provider.StatusFailed {
			t.Fatalf("wrong number: %s %v", got, err)
		}
		if !strings.Contains(f.logs.String(), "possible fraud") {
			t.Errorf("a wrong number not logged as a fraud signal:\n%s", f.logs.String())
		}
	})
}
