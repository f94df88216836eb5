package sync_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestEmptyAttributesClearThem: an event whose attributes are an empty object says the
// user has none now (a SCIM remove of the last of them); one without attributes says
// nothing of them. Applied at once or by a worker from the queue's JSON, the two stay apart.
func TestEmptyAttributesClearThem(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		for i, name := range []string{"now", "queued"} {
			attrs := map[string]string{"scim.givenName": "Ann"}
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name, Attributes: &attrs}); err != nil {
				t.Fatal(err)
			}
			say := func(a map[string]any) provider.LifecycleEvent {
				clk.Advance(1)
				e := ev(name+"-"+string(rune('a'+i)), provider.EventUserUpdate, name, clk.Now())
				e.Source, e.DisplayName, e.Attributes = "scim", str("Ann"), a
				return e
			}
			apply := func(e provider.LifecycleEvent) {
				if name == "now" {
					if err := q.ApplyNow(ctx, e); err != nil {
						t.Fatal(err)
					}
					return
				}
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{e}); err != nil {
					t.Fatal(err)
				}
				drain(t, q)
			}
			e := say(nil)
			apply(e)
			if u, _ := m.GetUser(ctx, name); u.Attributes["scim.givenName"] != "Ann" {
				t.Errorf("%s: an update without attributes changed them: %v", name, u.Attributes)
			}
			e = say(map[string]any{})
			e.ID += "-2"
			apply(e)
			if u, _ := m.GetUser(ctx, name); len(u.Attributes) != 0 {
				t.Errorf("%s: an update with no attributes left %v", name, u.Attributes)
			}
		}
	})
}
