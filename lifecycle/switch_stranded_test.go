package lifecycle_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestSwitchStrandedPages: a disable's stranded count reads the whole directory,
// past its first page of users, on either store, and counts the switches already off
// with it: a user whose other factor's type is off is stranded too.
func TestSwitchStrandedPages(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		const n = 1001 // more than a page of the directory
		var csv strings.Builder
		csv.WriteString("username,phone,factors\n")
		for i := range n {
			fmt.Fprintf(&csv, "user%04d,+1555555%04d,smsotp\n", i, i)
		}
		rows, bad := parse(t, lifecycle.FormatCSV, csv.String())
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != n {
			t.Fatalf("import: %s, %v", summary(rep), err)
		}
		// user0000 also has an authenticator app: not stranded by SMS alone.
		if _, err := m.EnrollFactor(ctx, "test", "user0000", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate}); err != nil {
			t.Fatal(err)
		}
		sw, err := m.SetSwitch(ctx, "test", "emfa", "smsotp", true, "SMS fraud wave")
		if err != nil || sw.Stranded == nil || *sw.Stranded != n-1 || len(sw.Warnings) != 1 {
			t.Fatalf("disable smsotp: %+v, %v; want %d stranded and a warning", sw, err, n-1)
		}
		sw, err = m.SetSwitch(ctx, "test", "emfa", "totp", true, "authenticator outage")
		if err != nil || sw.Stranded == nil || *sw.Stranded != n {
			t.Fatalf("disable totp with smsotp off: %+v, %v; want all %d stranded", sw, err, n)
		}
		sw, err = m.SetSwitch(ctx, "test", "emfa", "totp", false, "")
		if err != nil || sw.Stranded != nil || sw.Warnings != nil {
			t.Fatalf("enable totp: %+v, %v; want no count", sw, err)
		}
	})
}
