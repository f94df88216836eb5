package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// An import that pre-provisions a factor for an address the user was given a factor of
// the same type for meanwhile (between the import's read of the directory and its
// write) must not store a second factor for that address.
func TestImportPreProvisionHeldAgainstEnrollmentMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		addAlice(t, m)
		hooked.Before = func() {
			if _, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationOnFirstUse,
				Params: raw(`{"phone":"+15550000001"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nalice,+15550000001,smsotp\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := m.ListFactors(ctx, "alice")
		if err != nil || len(fs) != 1 {
			t.Errorf("alice has %d factors for one phone (%v); report %+v", len(fs), err, rep.Rows)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Action != lifecycle.ActionRefused || rep.Rows[0].Error == nil || rep.Rows[0].Error.Code != lifecycle.CodeChanged {
			t.Errorf("the row: %+v, want refused %s", rep.Rows, lifecycle.CodeChanged)
		}
		// The same file again finds the factor, and has only the phone to write.
		again, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil || again.Updated != 1 {
			t.Errorf("again: %+v %v", again.Rows, err)
		}
		if fs, _ := m.ListFactors(ctx, "alice"); len(fs) != 1 {
			t.Errorf("again: alice has %d factors", len(fs))
		}
	})
}

// An import that re-points a pre-provisioned factor to an address the user was given a
// factor of the same type for meanwhile must not leave two factors for that address.
func TestImportRepointHeldAgainstEnrollmentMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, _ := newManager(t, hooked)
		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nalice,+15550000001,smsotp\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 {
			t.Fatalf("first import: %+v %v", rep, err)
		}
		hooked.Before = func() {
			if _, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationOnFirstUse,
				Params: raw(`{"phone":"+15550000002"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		moved, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nalice,+15550000002,smsotp\n")
		rep, err := m.Import(ctx, "test", moved, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := st.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := st.ListFactors(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		phones := map[string]int{}
		for _, f := range fs {
			phones[f.Params["phone"]]++
		}
		for p, n := range phones {
			if n > 1 {
				t.Errorf("alice has %d factors for %s; report %+v", n, p, rep.Rows)
			}
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Action != lifecycle.ActionRefused || rep.Rows[0].Error == nil || rep.Rows[0].Error.Code != lifecycle.CodeChanged {
			t.Errorf("the row: %+v, want refused %s", rep.Rows, lifecycle.CodeChanged)
		}
	})
}
