package builtin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

func enrollAs(t *testing.T, f *engineFixture, activation, typ, user string, nameValues ...string) builtin.Enrolled {
	t.Helper()
	in := enrollment(typ, user, nameValues...)
	in.Activation = activation
	enrolled, err := f.engine.Enroll(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return enrolled
}

func listed(t *testing.T, f *engineFixture, user, id string) bool {
	t.Helper()
	list, err := f.engine.Enrollments(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.ID == id {
			return true
		}
	}
	return false
}

func alice(t *testing.T, f *engineFixture) store.User {
	t.Helper()
	u, err := f.store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestActivationTOTP: a TOTP seed enrolled for activation is pending, not offered and not
// answered for, until its first code is verified; a wrong code counts toward the lockout.
func TestActivationTOTP(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	ctx := context.Background()
	enrolled := enrollAs(t, f, builtin.ActivationPasscode, "totp", "alice")
	id := enrolled.Factor.ID
	if enrolled.Factor.State != store.FactorPending {
		t.Fatalf("state %s, want pending", enrolled.Factor.State)
	}
	seed, err := builtin.DecodeSecret(enrolled.Output["secret"].(string))
	if err != nil {
		t.Fatal(err)
	}
	code := builtin.HOTP(builtin.SHA1, seed, uint64(builtin.TOTPStep(f.clock.Now().Unix(), 30)), 6)
	if listed(t, f, "alice", id) {
		t.Error("a pending TOTP factor is offered to Verify")
	}
	expect(t, "validate while pending", f.validate(t, "alice", "totp", id, "", code), provider.StatusFailed, "pending")

	_, err = f.engine.Activate(ctx, alice(t, f), id, otherCode(code), nil)
	if !errors.Is(err, builtin.ErrActivation) {
		t.Fatalf("wrong code: %v, want ErrActivation", err)
	}
	if got, _ := f.store.GetFactor(ctx, id); got.Failures != 1 || got.State != store.FactorPending {
		t.Errorf("after a wrong code: %d failures, %s", got.Failures, got.State)
	}
	act, err := f.engine.Activate(ctx, alice(t, f), id, code, nil)
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	if act.State != store.FactorActive || act.Params["activation"] != "" || act.Failures != 0 {
		t.Errorf("activated factor: %+v", act)
	}
	if !listed(t, f, "alice", id) {
		t.Error("an activated factor is not offered")
	}
	// The activation code is spent: the same code cannot sign in afterwards.
	expect(t, "replay of the activation code", f.validate(t, "alice", "totp", id, "", code), provider.StatusFailed, "replay")
	_, err = f.engine.Activate(ctx, alice(t, f), id, code, nil)
	if !errors.Is(err, builtin.ErrActivation) {
		t.Errorf("second activation: %v", err)
	}
	// Another user cannot activate it.
	bob, _ := f.store.GetUser(ctx, "bob")
	if _, err := f.engine.Activate(ctx, bob, id, code, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob activating alice's factor: %v", err)
	}
}

// TestActivationSMS: enrolment sends a code to the new phone, and that code activates.
func TestActivationSMS(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	ctx := context.Background()
	enrolled := enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15550001111")
	id := enrolled.Factor.ID
	if f.sms.count() != 1 || f.sms.last(t).To != "+15550001111" {
		t.Fatalf("activation code not sent to the new phone")
	}
	if enrolled.Output["activationExpiresAt"] == nil {
		t.Error("no activationExpiresAt in the answer")
	}
	if listed(t, f, "alice", id) {
		t.Error("a pending SMS factor is offered")
	}
	first := f.sms.last(t).Code
	if _, err := f.engine.ResendActivation(ctx, alice(t, f), id, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.Activate(ctx, alice(t, f), id, first, nil); !errors.Is(err, builtin.ErrActivation) {
		t.Errorf("superseded code: %v", err)
	}
	if _, err := f.engine.Activate(ctx, alice(t, f), id, f.sms.last(t).Code, nil); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	if !listed(t, f, "alice", id) {
		t.Error("activated SMS factor not offered")
	}

	// A code that cannot be sent leaves no factor behind.
	f.sms.fail(errors.New("carrier down"))
	in := enrollment("smsotp", "bob", "phone", "+15550002222")
	in.Activation = builtin.ActivationPasscode
	if _, err := f.engine.Enroll(ctx, in); !errors.Is(err, builtin.ErrNotSent) {
		t.Fatalf("enrol with a failing sender: %v", err)
	}
	bob, _ := f.store.GetUser(ctx, "bob")
	if fs, _ := f.store.ListFactors(ctx, bob.ID); len(fs) != 0 {
		t.Errorf("bob has %d factors after a failed activation send", len(fs))
	}
}

// TestActivationOnFirstUse: a pre-provisioned SMS factor is offered while pending, and the
// first successful sign-in makes it active.
func TestActivationOnFirstUse(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	ctx := context.Background()
	enrolled := enrollAs(t, f, builtin.ActivationOnFirstUse, "smsotp", "alice", "phone", "+15550001111")
	id := enrolled.Factor.ID
	if f.sms.count() != 0 {
		t.Error("a pre-provisioned factor sent a code at enrolment")
	}
	if !listed(t, f, "alice", id) {
		t.Fatal("a pre-provisioned factor is not offered")
	}
	out := f.initiate(t, "alice", "smsotp", id)
	expect(t, "initiate", f.validate(t, "alice", "smsotp", id, out.TransactionID, otherCode(f.sms.last(t).Code)), provider.StatusFailed, "wrong")
	if got, _ := f.store.GetFactor(ctx, id); got.State != store.FactorPending {
		t.Errorf("a failed sign-in activated it: %s", got.State)
	}
	out = f.initiate(t, "alice", "smsotp", id)
	expect(t, "validate", f.validate(t, "alice", "smsotp", id, out.TransactionID, f.sms.last(t).Code), provider.StatusSuccess, "")
	got, _ := f.store.GetFactor(ctx, id)
	if got.State != store.FactorActive || got.Params["activation"] != "" || got.Params["phone"] != "+15550001111" {
		t.Errorf("after the first sign-in: %+v", got)
	}
	// The activation is recorded, once: a second sign-in finds it active.
	out = f.initiate(t, "alice", "smsotp", id)
	expect(t, "second validate", f.validate(t, "alice", "smsotp", id, out.TransactionID, f.sms.last(t).Code), provider.StatusSuccess, "")
	all, _ := f.store.ListAudit(ctx, store.AuditFilter{Limit: 1000})
	activations := slices.DeleteFunc(all, func(ev store.AuditEvent) bool { return ev.Resource != "activate" || ev.FactorID != id })
	if len(activations) != 1 || activations[0].Username != "alice" || activations[0].Capability != "smsotp" || activations[0].Outcome != "SUCCESS" {
		t.Errorf("activation records: %+v", activations)
	}

	// PreProvision builds the same factor without storing it.
	pre, err := f.engine.PreProvision(alice(t, f), nil, "emailotp", "A@Example.COM")
	if err != nil || pre.State != store.FactorPending || pre.Params["email"] != "A@example.com" || builtin.ActivationOf(&pre) != builtin.ActivationOnFirstUse {
		t.Errorf("PreProvision: %+v, %v", pre, err)
	}
	if _, err := f.engine.PreProvision(alice(t, f), nil, "totp", "x"); !errors.Is(err, builtin.ErrInput) {
		t.Errorf("PreProvision totp: %v", err)
	}
	for _, tc := range []struct{ typ, mode string }{{"totp", builtin.ActivationOnFirstUse}, {"question", builtin.ActivationPasscode}, {"smsotp", "later"}} {
		in := enrollment(tc.typ, "bob", "phone", "+15550003333", "question", "q?", "answer", "a")
		in.Activation = tc.mode
		if _, err := f.engine.Enroll(ctx, in); !errors.Is(err, builtin.ErrInput) || !strings.Contains(err.Error(), "activation") {
			t.Errorf("%s with activation %s: %v", tc.typ, tc.mode, err)
		}
	}
}

// TestActivationOnFirstUseCarriesRequestID: the record of a factor activated by its first
// sign-in carries the id of the sign-in's request, as that call's decision row does.
func TestActivationOnFirstUseCarriesRequestID(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		id := enrollAs(t, f, builtin.ActivationOnFirstUse, "smsotp", "alice", "phone", "+15550001111").Factor.ID
		out := f.initiate(t, "alice", "smsotp", id)
		got, err := f.engine.Validate(ctx, provider.Request{Capability: "smsotp", ID: id, Username: "alice",
			TransactionID: out.TransactionID, Passvalue: f.sms.last(t).Code, RequestID: "req-first-use"})
		if err != nil || got.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v %v", got, err)
		}
		all, _ := f.store.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		activations := slices.DeleteFunc(all, func(ev store.AuditEvent) bool { return ev.Resource != "activate" || ev.FactorID != id })
		if len(activations) != 1 || activations[0].RequestID != "req-first-use" {
			t.Errorf("activation records: %+v, want one with request id req-first-use", activations)
		}
	})
}
