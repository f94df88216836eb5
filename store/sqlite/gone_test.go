package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

// TestCheckpointerNoticesFileGone: without a /readyz probe to notice it, the background
// checkpointer, which runs after writes, finds the file gone, and the next write is
// refused; no stat is added to the writes themselves.
func TestCheckpointerNoticesFileGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "emfa.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 10)
	s, err := Open(t.Context(), path, func(o *options) {
		o.checkpointed = func(err error) { ran <- err }
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	// Not known yet: this write goes to the unlinked file, and wakes the checkpointer.
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("the write before anything noticed: %v", err)
	}
	testwait.Recv(t, "the checkpointer to run", ran)
	err = s.CreateUser(ctx, store.User{ID: "u2", Name: "bob", CreatedAt: time.Now()})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a write after the checkpointer ran: %v, want an error naming %s", err, path)
	}
}
