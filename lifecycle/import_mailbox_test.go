package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestImportMailboxAsEnrollment: an import row's mailbox is the factor's
// destination as an enrollment's is: an address the sender cannot send to (a domain IDNA
// refuses) is refused, also when the row re-points a pre-provisioned factor, which stored
// it unchecked; and a row naming, in another spelling of its domain, the mailbox a factor
// of the user has (the U-label and its xn-- A-label) finds that factor, not a duplicate.
func TestImportMailboxAsEnrollment(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		rows, bad := parse(t, lifecycle.FormatCSV, "username,email,factors\nalice,alice@example.com,emailotp\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 {
			t.Fatalf("first import: %+v %v", rep, err)
		}
		fs, err := m.ListFactors(ctx, "alice")
		if err != nil || len(fs) != 1 {
			t.Fatalf("alice's factors: %+v %v", fs, err)
		}
		id := fs[0].ID

		rows, bad = parse(t, lifecycle.FormatCSV, "username,email,factors\nalice,alice@bü_cher.example,emailotp\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Error == nil || rep.Rows[0].Error.Code != "invalid_email" {
			t.Errorf("a row re-pointing the factor to an unsendable mailbox: %+v, want refused invalid_email", rep.Rows)
		}
		if f, err := st.GetFactor(ctx, id); err != nil || f.Params["email"] != "alice@example.com" {
			t.Errorf("the factor was re-pointed: %v %v", f.Params, err)
		}

		// Bob has an active factor for his mailbox under its U-label.
		rows, bad = parse(t, lifecycle.FormatCSV, "username,email\nbob,bob@bücher.example\n")
		if _, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.EnrollFactor(ctx, "idm", "bob", lifecycle.Enrollment{Type: "emailotp", Params: raw(`{"email":"bob@bücher.example"}`)}); err != nil {
			t.Fatal(err)
		}
		rows, bad = parse(t, lifecycle.FormatCSV, "username,email,factors\nbob,bob@xn--bcher-kva.example,emailotp\n")
		rep, err = m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Error != nil {
			t.Errorf("a row naming bob's mailbox in its A-label: %+v, want it found", rep.Rows)
		}
		if fs, err := m.ListFactors(ctx, "bob"); err != nil || len(fs) != 1 {
			t.Errorf("bob's factors: %+v %v", fs, err)
		}
	})
}
