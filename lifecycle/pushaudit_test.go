package lifecycle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// auditsFailing is a real store whose audit rows fail while Refuse is set, in a unit
// (testdb.RefusingAudits) or apart: a full audit table, a constraint, a lost connection
// at the row.
type auditsFailing struct {
	*testdb.RefusingAudits
	store.SelfService
}

func (s *auditsFailing) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.Store.SpendLink(ctx, hash, now)
}

func (s *auditsFailing) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	if s.Refuse.Load() {
		return testdb.ErrAuditRefused
	}
	return s.Store.AppendAudit(ctx, ev)
}

// TestPushRegistrationNotWithoutAudit: a push set-up's device registration whose
// audit row cannot be written is not made, nor answered as made: the device's call fails,
// the factor stays pending, the code unspent, and the page's "continue" says pending.
// Once registered (its row written with it), the page's own record ("push device
// registered", appended apart) may be lost: the continue answers active, and the trail
// keeps the registration's row, written in the registration's commit.
func TestPushRegistrationNotWithoutAudit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		fs := &auditsFailing{RefusingAudits: &testdb.RefusingAudits{Store: st}, SelfService: st.(store.SelfService)}
		m, clk := newManager(t, fs)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		sess, en := enrollVia(t, ss, linkToken(t, ss), "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: fs, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		reg := provider.DeviceRegistration{ActivationCode: en.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256}
		registered := func() int {
			evs, err := st.ListAudit(ctx, store.AuditFilter{Username: "alice", Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, ev := range evs {
				if ev.Resource == builtin.ResourceDeviceRegister && ev.FactorID == en.Factor.ID && ev.Outcome == "SUCCESS" {
					n++
				}
			}
			return n
		}

		fs.Refuse.Store(true)
		if id, err := devices.Register(ctx, reg); !errors.Is(err, testdb.ErrAuditRefused) {
			t.Fatalf("a registration whose audit row fails: %q %v; want the failure", id, err)
		}
		fs.Refuse.Store(false)
		if f, err := m.GetFactor(ctx, "alice", en.Factor.ID); err != nil || f.State != lifecycle.FactorPendingActivation {
			t.Errorf("the factor after a registration without its row: %+v %v; want pending", f, err)
		}
		if state, _, err := ss.FinishPush(ctx, &sess); err != nil || state != lifecycle.PushPending {
			t.Errorf("continue after a registration without its row: %q %v; want pending", state, err)
		}

		// The same code again, the store well: registered, with its row.
		if _, err := devices.Register(ctx, reg); err != nil {
			t.Fatalf("the registration again: %v", err)
		}
		if n := registered(); n != 1 {
			t.Fatalf("%d registration rows; want 1", n)
		}
		fs.Refuse.Store(true)
		state, _, err := ss.FinishPush(ctx, &sess)
		fs.Refuse.Store(false)
		if err != nil || state != lifecycle.PushActive {
			t.Errorf("continue whose own record fails: %q %v; want active (the registration stands, with its row)", state, err)
		}
		if n := registered(); n != 1 {
			t.Errorf("%d registration rows after the continue; want 1", n)
		}
		t.Logf("the continue's own rows: %d (lost, logged)", pushRegisteredRows(t, m, en.Factor.ID))
	})
}
