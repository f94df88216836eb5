package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// l86Op is one transition raced against another on one user's one factor.
type l86Op struct {
	name   string
	action string // its audit action, "" for none per user
	run    func(ctx context.Context, m *lifecycle.Manager, user, id, code string) error
}

var l86Ops = []l86Op{
	{"activate", "admin.factors.activate", func(ctx context.Context, m *lifecycle.Manager, user, id, code string) error {
		_, err := m.ActivateFactor(ctx, "test", user, id, code)
		return err
	}},
	{"delete", "admin.factors.delete", func(ctx context.Context, m *lifecycle.Manager, user, id, _ string) error {
		return m.DeleteFactor(ctx, "test", user, id)
	}},
	{"reset", "admin.users.reset", func(ctx context.Context, m *lifecycle.Manager, user, _, _ string) error {
		_, err := m.ResetUser(ctx, "test", user, lifecycle.ResetDelete)
		return err
	}},
	{"resetDisable", "admin.users.reset", func(ctx context.Context, m *lifecycle.Manager, user, _, _ string) error {
		_, err := m.ResetUser(ctx, "test", user, lifecycle.ResetDisable)
		return err
	}},
	{"disable", "admin.factors.disable", func(ctx context.Context, m *lifecycle.Manager, user, id, _ string) error {
		_, err := m.SetFactorState(ctx, "test", user, id, true)
		return err
	}},
	{"enable", "admin.factors.enable", func(ctx context.Context, m *lifecycle.Manager, user, id, _ string) error {
		_, err := m.SetFactorState(ctx, "test", user, id, false)
		return err
	}},
	{"userDelete", "admin.users.delete", func(ctx context.Context, m *lifecycle.Manager, user, _, _ string) error {
		return m.DeleteUser(ctx, "test", user)
	}},
	{"userDisable", "admin.users.disable", func(ctx context.Context, m *lifecycle.Manager, user, _, _ string) error {
		_, err := m.SetUserState(ctx, "test", user, true)
		return err
	}},
	{"rename", "admin.factors.rename", func(ctx context.Context, m *lifecycle.Manager, user, id, _ string) error {
		_, err := m.RenameFactor(ctx, "test", user, id, "renamed")
		return err
	}},
	{"switch", "", func(ctx context.Context, m *lifecycle.Manager, _, _, _ string) error {
		_, err := m.SetSwitch(ctx, "test", "emfa", "totp", true, "raced")
		return err
	}},
}

// TestTransitionRaces races every pair of transitions on one factor of one user
// (two replicas, released together, many times): each call either changed the factor
// and wrote one SUCCESS record of its action, or was refused with an error a caller can
// act on (a lifecycle.Error) and wrote none; the end state is one the two allow.
func TestTransitionRaces(t *testing.T) {
	const rounds = 3
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		a, clk := newManager(t, st)
		b, _ := newManager(t, st)
		n := 0
		for i, x := range l86Ops {
			for _, y := range l86Ops[i:] {
				for _, pending := range []bool{true, false} {
					for r := 0; r < rounds; r++ {
						n++
						user := fmt.Sprintf("u%d", n)
						if _, err := a.CreateUser(ctx, "test", lifecycle.UserInput{Name: user}); err != nil {
							t.Fatal(err)
						}
						in := lifecycle.Enrollment{Type: "totp"}
						if !pending {
							in.Activation = lifecycle.ActivationImmediate
						}
						en, err := a.EnrollFactor(ctx, "test", user, in)
						if err != nil {
							t.Fatal(err)
						}
						id, code := en.Factor.ID, codeOf(t, en, clk.Now())
						var errs [2]error
						var wg sync.WaitGroup
						start := make(chan struct{})
						for k, op := range []l86Op{x, y} {
							m := a
							if k == 1 {
								m = b
							}
							wg.Add(1)
							go func() {
								defer wg.Done()
								<-start
								errs[k] = op.run(ctx, m, user, id, code)
							}()
						}
						close(start)
						wg.Wait()
						label := fmt.Sprintf("%s vs %s (pending %v) round %d", x.name, y.name, pending, r)
						page, err := a.QueryAudit(ctx, lifecycle.AuditQuery{User: user, Outcome: "SUCCESS", Limit: 1000})
						if err != nil {
							t.Fatal(err)
						}
						rows := map[string]int{}
						for _, ev := range page.Events {
							rows[ev.Action]++
							// Both a delete and a reset (delete mode) of the one factor succeeded:
							// the delete came first, and the reset deleted nothing.
							if ev.Action == "admin.users.reset" && errs[0] == nil && errs[1] == nil && x.name == "delete" && y.name == "reset" &&
								ev.Reason != "delete 0 factor(s)" {
								t.Errorf("%s vs %s (pending %v) round %d: the reset after the delete recorded %q", x.name, y.name, pending, r, ev.Reason)
							}
						}
						want := map[string]int{"admin.users.create": 1, "admin.factors.enroll": 1}
						for k, op := range []l86Op{x, y} {
							if err := errs[k]; err != nil {
								le := (*lifecycle.Error)(nil)
								if !errors.As(err, &le) {
									t.Errorf("%s: %s answered a fault: %v", label, op.name, err)
								}
								continue
							}
							if op.action != "" {
								want[op.action]++
							}
						}
						f, ferr := st.GetFactor(ctx, id)
						gone := errors.Is(ferr, store.ErrNotFound)
						if ferr != nil && !gone {
							t.Fatal(ferr)
						}
						for action, w := range want {
							got := rows[action]
							noop := action == "admin.factors.disable" || action == "admin.factors.enable" || action == "admin.users.disable" || action == "admin.factors.rename"
							if got != w && !(noop && got < w) {
								t.Errorf("%s: %d %s SUCCESS rows, want %d (errors %v; factor %+v gone %v)", label, got, action, w, errs, f.State, gone)
							}
						}
						for action, got := range rows {
							if _, ok := want[action]; !ok {
								t.Errorf("%s: %d %s rows of a change no call made (errors %v)", label, got, action, errs)
							}
						}
						// The end state.
						deleted, maybe := false, false
						for k, op := range []l86Op{x, y} {
							if errs[k] == nil && (op.name == "delete" || op.name == "reset" || op.name == "userDelete") {
								deleted = true
							}
							// A pending factor is deleted by a reset in either mode.
							if errs[k] == nil && op.name == "resetDisable" && pending {
								maybe = true
							}
						}
						if deleted != gone && !(maybe && gone) {
							t.Errorf("%s: factor gone %v, want %v (errors %v)", label, gone, deleted, errs)
						}
						if x.name == "switch" || y.name == "switch" {
							if _, err := a.SetSwitch(ctx, "test", "emfa", "totp", false, ""); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
		}
	})
}
