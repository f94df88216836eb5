package lifecycle_test

import (
	"context"
	"maps"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// An import that re-points a pre-provisioned factor it read pending must not re-point it
// once its first sign-in has made it active meanwhile: the README promises an active
// factor is never re-pointed (its owner proved the old destination). The row is refused
// as changed, and the same file again adds a factor beside the active one.
func TestImportDoesNotRepointFactorActivatedMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, clk := newManager(t, hooked)
		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nalice,+15550000001,smsotp\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 {
			t.Fatalf("first import: %+v %v", rep, err)
		}
		fs, err := m.ListFactors(ctx, "alice")
		if err != nil || len(fs) != 1 || fs[0].Activation != lifecycle.ActivationOnFirstUse {
			t.Fatalf("alice's factors: %+v %v", fs, err)
		}
		id := fs[0].ID

		// Between the import's read of the directory and its write, alice signs in with
		// the factor: its first use makes it active, as the engine's activateOnFirstUse
		// does (ActivateFactor with the params less the activation's).
		hooked.Before = func() {
			f, err := st.GetFactor(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			p := maps.Clone(f.Params)
			delete(p, "activation")
			if err := st.Update(ctx, func(w store.Writer) error { return w.ActivateFactor(ctx, id, p, clk.Now()) }); err != nil {
				t.Fatal(err)
			}
		}
		moved, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nalice,+15550000002,smsotp\n")
		rep, err := m.Import(ctx, "test", moved, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := st.GetFactor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.State != store.FactorActive || f.Params["phone"] != "+15550000001" || f.Params["activation"] != "" {
			t.Errorf("the active factor was re-pointed: state %s params %v (report %+v)", f.State, f.Params, rep.Rows)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Action != lifecycle.ActionRefused || rep.Rows[0].Error == nil || rep.Rows[0].Error.Code != lifecycle.CodeChanged {
			t.Errorf("the row: %+v, want refused %s", rep.Rows, lifecycle.CodeChanged)
		}

		// The same file again: a new factor beside the active one.
		again, err := m.Import(ctx, "test", moved, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fs, err = m.ListFactors(ctx, "alice")
		if err != nil || len(fs) != 2 || again.Updated != 1 {
			t.Errorf("again: %+v; factors %+v %v", again.Rows, fs, err)
		}
	})
}
