package sync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// TestExclusiveCreateOfAnIDSurvivesAKill: a SCIM POST's create made under the id
// it carries (UserID), its process killed before the event was recorded: the worker
// knows its own user by the id and propagates it. Another POST's alike, of another id,
// is refused (user_exists), not counted as its own.
func TestExclusiveCreateOfAnIDSurvivesAKill(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		q, m, clk := newQueue(t, st)
		prop := propagating(q)
		create := provider.LifecycleEvent{Type: provider.EventUserCreate, Source: "scim", Username: "kim",
			DisplayName: str("Kim"), Exclusive: true, UserID: "kimsownid"}
		killed := &sync.Queue{Store: killedAfterApply{q.Store}, Applier: q.Applier, Now: clk.Now}
		if err := killed.ApplyNow(ctx, create); err == nil {
			t.Fatal("ApplyNow on a dying store: no error")
		}
		if u, err := m.GetUser(ctx, "kim"); err != nil || u.ID != "kimsownid" {
			t.Fatalf("kim = %+v, %v: not made under the id of its create", u, err)
		}
		clk.Advance(2 * time.Minute)
		if n := drain(t, q); n != 2 {
			t.Fatalf("the worker processed %d events and propagations after the lease passed, want 1 of each", n)
		}
		if want := []string{"user.create kim"}; !slices.Equal(prop.got, want) {
			t.Errorf("propagated %q, want %q", prop.got, want)
		}
		alike := create
		alike.ID, alike.UserID = "", "anotherid"
		err := q.ApplyNow(ctx, alike)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "user_exists" {
			t.Errorf("another exclusive create alike: %v, want user_exists", err)
		}
	})
}
