package adapter

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMUserGroupsByID: a user's groups name each group by its id, with its name as
// display (RFC 7643 §4.1.2), so that a client can GET /Groups/{value}.
func TestSCIMUserGroupsByID(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann"}`)
	_, g, _ := h.scim("POST", "/Groups", `{"displayName":"g","members":[{"value":"`+u["id"].(string)+`"}]}`)
	_, got, _ := h.scim("GET", "/Users/"+u["id"].(string), "")
	gs, _ := got["groups"].([]any)
	if len(gs) != 1 || gs[0].(map[string]any)["value"] != g["id"] || gs[0].(map[string]any)["display"] != "g" {
		t.Errorf("the user's groups %v, want [{value: %v, display: g}]", got["groups"], g["id"])
	}
}

// syncStore is a store with its sync queue and groups.
type syncStore interface {
	store.Store
	store.SyncQueue
}

// groupReads is a store that counts its reads of groups.
type groupReads struct {
	syncStore
	n atomic.Int32
}

func (s *groupReads) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	s.n.Add(1)
	return s.syncStore.GetGroupByName(ctx, name)
}

func (s *groupReads) GetGroupsByName(ctx context.Context, names []string) ([]store.Group, error) {
	s.n.Add(1)
	return s.syncStore.GetGroupsByName(ctx, names)
}

func (s *groupReads) ListGroups(ctx context.Context) ([]store.Group, error) {
	s.n.Add(1)
	return s.syncStore.ListGroups(ctx)
}

// TestSCIMUserGroupsOneRead: a user's groups are read at once, not one query per group.
func TestSCIMUserGroupsOneRead(t *testing.T) {
	st := &groupReads{syncStore: testdb.SQLite(t).(syncStore)}
	h := newSyncHarnessOn(t, st)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"ann"}`)
	for _, g := range []string{"a", "b", "c"} {
		h.scim("POST", "/Groups", `{"displayName":"`+g+`","members":[{"value":"`+u["id"].(string)+`"}]}`)
	}
	st.n.Store(0)
	_, got, _ := h.scim("GET", "/Users/"+u["id"].(string), "")
	if gs, _ := got["groups"].([]any); len(gs) != 3 {
		t.Fatalf("the user's groups %v, want 3", got["groups"])
	}
	if n := st.n.Load(); n != 1 {
		t.Errorf("%d reads of groups for a user in 3, want 1", n)
	}
}
