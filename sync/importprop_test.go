package sync_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// importCSV imports a CSV through m, as the admin API and emfa import do.
func importCSV(t *testing.T, m *lifecycle.Manager, csv string, o lifecycle.ImportOptions) lifecycle.ImportReport {
	t.Helper()
	rows, bad, err := lifecycle.ParseImport(strings.NewReader(csv), lifecycle.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Import(context.Background(), "ops-token", rows, bad, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// sameByUser says whether got and want hold the same calls ("type user ..."), each
// user's in the same order: the queue orders a user's propagations, not different users'.
func sameByUser(got, want []string) bool {
	by := func(calls []string) map[string][]string {
		out := map[string][]string{}
		for _, c := range calls {
			f := strings.Fields(c)
			out[f[1]] = append(out[f[1]], c)
		}
		return out
	}
	g, w := by(got), by(want)
	if len(got) != len(want) || len(g) != len(w) {
		return false
	}
	for u, calls := range w {
		if !slices.Equal(g[u], calls) {
			return false
		}
	}
	return true
}

// TestImportsReachTheVendors: the users an import creates, updates, disables, enables and
// (full) deletes reach the vendor as the admin API's changes do: each row's propagations
// are queued in that row's own commit (there before any worker runs), said as a
// directory would say them. A dry run, an unchanged row and a refused row queue nothing.
func TestImportsReachTheVendors(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, _, clk := newQueue(t, st)
		duo := newVendor("duo")
		q.Propagators = []provider.LifecyclePropagator{duo}
		m := adminManager(t, q, st, clk)

		file := "username,email,displayName,groups,state\n" +
			"alice,alice@example.com,Alice,sms-allowed,active\n" +
			"bob,bob@example.com,Bob,,disabled\n" +
			"carol,not-an-address,Carol,,\n"
		if rep := importCSV(t, m, file, lifecycle.ImportOptions{DryRun: true}); rep.Created != 2 || rep.Refused != 1 {
			t.Fatalf("dry run: %+v", rep)
		}
		if got := propagations(t, q, "duo"); len(got) != 0 {
			t.Fatalf("a dry run queued %q", got)
		}
		if rep := importCSV(t, m, file, lifecycle.ImportOptions{}); rep.Created != 2 || rep.Refused != 1 {
			t.Fatalf("import: %+v", rep)
		}
		// Queued with the users, before any worker ran; carol's refused row queued nothing.
		want := []string{"user.create pending", "group.member.add pending", "user.create pending"}
		if got := propagations(t, q, "duo"); !slices.Equal(got, want) {
			t.Fatalf("after the import, queued %q, want %q", got, want)
		}
		// The same file again changes nothing, and queues nothing.
		if rep := importCSV(t, m, file, lifecycle.ImportOptions{}); rep.Unchanged != 2 {
			t.Fatalf("the same file again: %+v", rep)
		}
		if got := propagations(t, q, "duo"); len(got) != len(want) {
			t.Fatalf("an import that changed nothing queued %q", got)
		}

		// Another process's worker carries them out.
		worker := (&sync.Queue{Store: q.Store, Applier: q.Applier, Now: clk.Now, Propagators: []provider.LifecyclePropagator{duo}}).Init()
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		calls := []string{"user.create alice", "group.member.add alice", "user.create bob disabled"}
		if got := duo.got(); !sameByUser(got, calls) {
			t.Fatalf("the vendor got %q, want %q (each user's in order)", got, calls)
		}
		if duo.state("bob") != "disabled" {
			t.Fatalf("bob at the vendor: %s, want disabled", duo.state("bob"))
		}

		// alice: renamed, out of her group, disabled; bob: enabled alone; carol: absent
		// from a full import that deletes nobody else.
		file = "username,email,displayName,groups,state\n" +
			"ALICE,alice@example.com,Alice A,,disabled\n" +
			"bob,bob@example.com,Bob,,active\n"
		if rep := importCSV(t, m, file, lifecycle.ImportOptions{}); rep.Updated != 2 {
			t.Fatalf("second import: %+v", rep)
		}
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		// alice's profile and state in one user.update (the remote engine sends it as
		// user.update, then user.disable), as the admin API's update says them.
		calls = append(calls, "user.update alice", "group.member.remove alice", "user.enable bob")
		if got := duo.got(); !sameByUser(got, calls) {
			t.Fatalf("the vendor got %q, want %q (each user's in order)", got, calls)
		}
		if duo.state("bob") != "active" {
			t.Fatalf("bob at the vendor: %s, want active", duo.state("bob"))
		}

		// A full import without bob deletes him, here and at the vendor.
		file = "username,email,displayName,groups,state\nalice,alice@example.com,Alice A,,disabled\n"
		if rep := importCSV(t, m, file, lifecycle.ImportOptions{Full: true, MaxDeletes: 1}); rep.Deleted != 1 {
			t.Fatalf("full import: %+v", rep)
		}
		if _, err := worker.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, "user.delete bob")
		if got := duo.got(); !sameByUser(got, calls) {
			t.Fatalf("the vendor got %q, want %q (each user's in order)", got, calls)
		}
		if duo.state("bob") != "unknown" {
			t.Fatalf("bob at the vendor after the full import: %s", duo.state("bob"))
		}
		evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("duo"), Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.State != store.QueueDone || !strings.HasPrefix(e.EventID, lifecycle.AdminSource+":") {
				t.Errorf("propagation %s %s: %s", e.EventID, e.Type, e.State)
			}
		}
	})
}
