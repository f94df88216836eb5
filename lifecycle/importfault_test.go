package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// faultyBatches is a store whose user changes fail, as a disk that stops taking writes,
// from the second batch on.
type faultyBatches struct {
	*sqlite.Store
	batches atomic.Int32
}

func (s *faultyBatches) ApplyUserChanges(ctx context.Context, changes []store.UserChange) []error {
	if s.batches.Add(1) == 1 {
		return s.Store.ApplyUserChanges(ctx, changes)
	}
	errs := make([]error, len(changes))
	for i := range errs {
		errs[i] = errors.New("disk I/O error")
	}
	return errs
}

// TestImportFaultKeepsReport: an import stopped by a store fault after its first
// batch says so, and reports what it did before: the users it created (which an import
// with invite must still invite: the same file again finds them unchanged) and the rows
// it did not apply.
func TestImportFaultKeepsReport(t *testing.T) {
	st := &faultyBatches{Store: testdb.SQLite(t).(*sqlite.Store)}
	m, _ := newManager(t, st)
	var csv strings.Builder
	csv.WriteString("username,email\n")
	const n = 600 // more than a batch
	for i := range n {
		fmt.Fprintf(&csv, "user%03d,user%03d@example.com\n", i, i)
	}
	rows, bad, err := lifecycle.ParseImport(strings.NewReader(csv.String()), lifecycle.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Import(context.Background(), "cli", rows, bad, lifecycle.ImportOptions{})
	if err == nil {
		t.Fatal("a store fault is not reported")
	}
	created, notApplied := 0, 0
	for _, r := range rep.Rows {
		switch {
		case r.Action == lifecycle.ActionCreated:
			created++
			if _, gerr := st.GetUserRecord(context.Background(), r.Username); gerr != nil {
				t.Errorf("%s reported created, not in the store: %v", r.Username, gerr)
			}
		case r.Action == lifecycle.ActionRefused && r.Error != nil && r.Error.Code == "not_applied":
			notApplied++
		}
	}
	if created == 0 || created+notApplied != n || rep.Created != created {
		t.Fatalf("report after the fault: %d created (Created %d), %d not applied, of %d rows", created, rep.Created, notApplied, n)
	}
	// What emfa import --invite and the admin API then do with it: each user created is
	// sent a link.
	mailedSelfService(t, m, nullSender{}).InviteImported(context.Background(), "cli", &rep)
	invited := 0
	for _, r := range rep.Rows {
		if r.Invited != "" {
			invited++
		}
	}
	if invited != created {
		t.Errorf("%d of the %d users created were invited", invited, created)
	}
}
