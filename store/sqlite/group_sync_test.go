package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestWritesOutsideTheGroupCommitAtFull: a write the store makes on its writer pool
// outside the group commit (inTx: ApplyUserChanges, EnqueueEvents, MarkKeys; the sync
// queue's claims and finishes) commits at synchronous=FULL, however the group's batches of
// deferred units (synchronous=NORMAL for their commit) interleave with it: no call is
// answered before its writes are on disk. It runs inTx's steps (BeginTx on the writer
// pool, a write, Commit) against busy deferred batches and reads each one's setting.
func TestWritesOutsideTheGroupCommitAtFull(t *testing.T) {
	s, err := Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx := store.DeferSync(context.Background())
			for i := 0; ctx.Err() == nil; i++ {
				_ = s.Update(dctx, func(w store.Writer) error {
					return w.AppendAudit(dctx, store.AuditEvent{Time: time.Now(), RequestID: fmt.Sprint(g, i)})
				})
			}
		}()
	}
	var normal, total atomic.Int64
	for i := 0; ctx.Err() == nil; i++ {
		tx, err := s.w.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var sync int
		if err := tx.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO sync_marks (key, event_time) VALUES ($1, 1)`, fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		total.Add(1)
		if sync != 2 {
			normal.Add(1)
		}
	}
	wg.Wait()
	if n := normal.Load(); n > 0 {
		t.Errorf("%d of %d direct writer transactions committed at synchronous=NORMAL (1), not FULL (2): acknowledged without fsync", n, total.Load())
	}
}
