package adapter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMGroupPostAllOrNothing: a POST refused (a member at its limit of groups) creates
// nothing, so that the directory's retry, once the member is fixed, is not a 409.
func TestSCIMGroupPostAllOrNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		full, free := fullAndFree(t, h)
		body := fmt.Sprintf(`{"displayName":"team","externalId":"ext","members":[{"value":%q},{"value":%q}]}`, free["id"], full["id"])
		code, out, _ := h.scim("POST", "/Groups", body)
		if code < 400 || code >= 500 {
			t.Fatalf("POST with a member at its limit: %d %v, want 4xx", code, out)
		}
		_, list, _ := h.scim("GET", `/Groups?filter=displayName%20eq%20%22team%22`, "")
		u, _ := h.user("free@example.com")
		if list["totalResults"] != float64(0) || len(u.Groups) != 0 {
			t.Errorf("a refused POST left the group %v, the other member in %v", list["Resources"], u.Groups)
		}
	})
}

// failingGroupWrites is a store whose group writes fail while broken is set (a disk full,
// a connection lost): each rolls back whole, as a store's commit does.
type failingGroupWrites struct {
	store.Store
	store.SyncQueue
	broken atomic.Bool
}

func (f *failingGroupWrites) ApplyGroupChange(ctx context.Context, c store.GroupChange) error {
	if f.broken.Load() {
		return errors.New("injected: the store failed the group's write")
	}
	return f.SyncQueue.ApplyGroupChange(ctx, c)
}

// TestSCIMGroupPostStoreFailure: a POST whose store write fails leaves no group, neither
// created without its members nor half made, so that the directory's retry creates it
// (201) rather than meeting a 409 and leaving the group without its members.
func TestSCIMGroupPostStoreFailure(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		fs := &failingGroupWrites{Store: st, SyncQueue: st.(store.SyncQueue)}
		h := newSyncHarnessOn(t, fs)
		_, u, _ := h.scim("POST", "/Users", `{"userName":"dana@example.com"}`)
		body := fmt.Sprintf(`{"displayName":"team","externalId":"ext","members":[{"value":%q}]}`, u["id"])
		fs.broken.Store(true)
		if code, out, _ := h.scim("POST", "/Groups", body); code < 500 {
			t.Fatalf("POST on a failing store: %d %v, want 5xx", code, out)
		}
		fs.broken.Store(false)
		_, list, _ := h.scim("GET", `/Groups?filter=displayName%20eq%20%22team%22`, "")
		if list["totalResults"] != float64(0) {
			t.Errorf("a POST whose write failed left the group %v", list["Resources"])
		}
		code, g, hdr := h.scim("POST", "/Groups", body)
		if code != 201 {
			t.Fatalf("the retry: %d %v, want 201", code, g)
		}
		members, _ := g["members"].([]any)
		if g["externalId"] != "ext" || len(members) != 1 || hdr.Get("Location") == "" {
			t.Errorf("the retry's group: %v (Location %q), want ext and dana", g, hdr.Get("Location"))
		}
		if u, _ := h.user("dana@example.com"); !slices.Equal(u.Groups, []string{"team"}) {
			t.Errorf("the member after the retry: in %v, want [team]", u.Groups)
		}
	})
}
