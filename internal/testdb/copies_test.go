package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// Each SQLite store is its own, empty and at the latest version: a copy of the migrated
// file shares nothing with another copy.
func TestSQLiteStoresAreFreshAndApart(t *testing.T) {
	ctx := context.Background()
	a, b := SQLite(t), SQLite(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, err := range a.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Create: &store.User{ID: "u1", Name: "alice", CreatedAt: now}, Now: now}}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.CountUserRecords(ctx, store.UserQuery{}); err != nil || n != 1 {
		t.Fatalf("a: %d users, %v; want 1", n, err)
	}
	for _, s := range []store.Store{b, SQLite(t)} {
		if n, err := s.CountUserRecords(ctx, store.UserQuery{}); err != nil || n != 0 {
			t.Errorf("another store: %d users, %v; want none", n, err)
		}
	}
}
