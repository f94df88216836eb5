package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestReadWaitsForReader: a keyed read (GetFactorAndUser, Verify's) made under a
// request's deadline while every reader connection is held by another read (a long
// listing) answers by that deadline, not when a reader frees.
func TestReadWaitsForReader(t *testing.T) {
	ctx := context.Background()
	s := aliceFile(t, filepath.Join(t.TempDir(), "emfa.db"), 2)
	// Every reader held, as long listings hold them.
	var held []*sql.Conn
	for range 2 {
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Held long, and the bound half of it: a read that waited for a reader is told from one
	// that answered at its deadline on a machine however loaded (a 900 ms margin, with 2 s
	// held and a bound of 1 s, was all a slow run had).
	const hold = 10 * time.Second
	release := time.AfterFunc(hold, func() {
		for _, c := range held {
			c.Close()
		}
	})
	defer release.Stop()
	rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := s.GetFactorAndUser(rctx, "f1", "alice")
	took := time.Since(start)
	t.Logf("GetFactorAndUser under a 100 ms deadline, readers held %v: %v after %v", hold, err, took.Round(time.Millisecond))
	if took > hold/2 {
		t.Errorf("GetFactorAndUser answered after %v, its deadline 100 ms: it waited for a reader past it", took.Round(time.Millisecond))
	}
	if err == nil {
		t.Error("GetFactorAndUser answered a request that had ended")
	}
}

// TestReadWaitingStoreClosed: a keyed read waiting for a reader connection when
// the store is closed (a reload swapping it) fails at once rather than waiting for a
// reader that will not come.
func TestReadWaitingStoreClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "emfa.db"), ReadConns(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	held, err := s.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	rctx, cancel := context.WithCancel(ctx) // a request's: it can end, but does not
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.UserDisabled(rctx, "alice")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the read queued for the one reader
	if err := s.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	select {
	case err := <-done:
		t.Logf("the waiting read after Close: %v", err)
		if err == nil {
			t.Error("a read waiting when its store closed succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a read waiting for a reader still waits 2 s after its store closed")
	}
}

// aliceFile is a store on the file path with readers reader connections, holding the
// user alice (u1) and her TOTP factor f1; closed when the test ends.
func aliceFile(t *testing.T, path string, readers int) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, ReadConns(readers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s
}
