package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/store"
)

// TestCheckpointerCopiesTheLog writes less than SQLite's own checkpoint threshold (and far
// less than the writer's backstop), so only the background checkpointer can have copied
// it into the database file, which must grow by what was written.
func TestCheckpointerCopiesTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	ran := make(chan error, 100)
	s, err := Open(t.Context(), path, func(o *options) {
		o.checkpointed = func(err error) {
			select {
			case ran <- err:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()

	const rows = 400
	detail := strings.Repeat("x", 1000)
	var wg sync.WaitGroup
	for i := range rows {
		wg.Go(func() {
			if err := s.AppendAudit(t.Context(), store.AuditEvent{Time: time.Now(), Username: fmt.Sprint("user", i),
				Resource: "validate", Outcome: "SUCCESS", Reason: detail}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	// 400 rows of 1 KB: some 100 pages, where SQLite itself checkpoints at 1,000.
	deadline := time.After(30 * time.Second)
	for size() < before+rows*1000 {
		select {
		case err := <-ran:
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
		case <-deadline:
			t.Fatalf("database file still %d bytes (%d before the writes): the log was not checkpointed", size(), before)
		}
	}
}

// TestCheckpointBackstop writes without pause from many goroutines, so that the writer
// is always appending while the background checkpoint copies, which therefore never
// catches the log whole: the log must still stop growing at about the writer's backstop,
// where the writer folds in the rest and starts it over. Without the backstop it grows
// with every commit.
func TestCheckpointBackstop(t *testing.T) {
	const backstop = 64 // pages
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := Open(t.Context(), path, func(o *options) { o.backstop = backstop })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var largest int64
	for g := range 16 {
		wg.Go(func() {
			for i := range 150 {
				if err := s.AppendAudit(t.Context(), store.AuditEvent{Time: time.Now(), Resource: "validate",
					Username: fmt.Sprint("user", g, "-", i), Reason: strings.Repeat("x", 300)}); err != nil {
					t.Error(err)
					return
				}
				if fi, err := os.Stat(path + "-wal"); err == nil {
					mu.Lock()
					largest = max(largest, fi.Size())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// 2,400 rows of ~400 bytes, ~1 MB, log 16-18 MB of pages without the backstop (a page
	// changed by several commits is logged once for each), 0.35-0.38 MB with it. A batch
	// may take the log past the backstop before the commit that checkpoints: allow 4 times.
	if limit := int64(4 * backstop * 4096); largest > limit {
		t.Errorf("the WAL grew to %d bytes; with a backstop of %d pages it should stay under %d", largest, backstop, limit)
	}
	t.Logf("largest WAL: %d bytes", largest)
}

// TestCheckpointerRuns drives the checkpointer's timing on a fake clock: one checkpoint
// for the commits that came at once, the next no sooner than every after it, none while
// nothing is committed, and close stops it.
func TestCheckpointerRuns(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		db := walTable(t, dir)
		var mu sync.Mutex
		var at []time.Duration
		start := time.Now()
		c := newCheckpointer(db, 100*time.Millisecond)
		c.ran = func(err error) {
			if err != nil {
				t.Errorf("checkpoint: %v", err)
			}
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		}
		runs := func() []time.Duration {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), at...)
		}
		go c.run()
		defer c.close() // a failing test's too: the bubble must end with no goroutine left

		if got := runs(); len(got) != 0 {
			t.Fatalf("checkpoints before any commit: %v", got)
		}
		for range 3 {
			c.committed()
		}
		if got := runs(); len(got) != 1 || got[0] != 0 {
			t.Fatalf("after 3 commits at once: checkpoints at %v, want one at 0s", got)
		}
		time.Sleep(30 * time.Millisecond)
		c.committed() // within every of the first: waits for it
		if got := runs(); len(got) != 1 {
			t.Fatalf("a commit 30ms after a checkpoint: checkpoints at %v, want the first only", got)
		}
		time.Sleep(time.Second)
		if got := runs(); len(got) != 2 || got[1] != 100*time.Millisecond {
			t.Fatalf("checkpoints at %v, want the second at 100ms", got)
		}
		time.Sleep(time.Hour) // nothing committed: nothing to do
		if got := runs(); len(got) != 2 {
			t.Fatalf("checkpoints at %v with no commit since the second", got)
		}
		c.committed()
		if got := runs(); len(got) != 3 || got[2] != time.Hour+time.Second+30*time.Millisecond {
			t.Fatalf("checkpoints at %v, want a third at once after an idle hour", got)
		}
		if err := c.close(); err != nil {
			t.Fatal(err)
		}
		c.committed() // after close: neither blocks nor runs
		if got := runs(); len(got) != 3 {
			t.Fatalf("checkpoints at %v after close", got)
		}
	})
}

// TestCheckpointerReports logs the first failure after a success, once, and the success
// that ends the failures, once.
func TestCheckpointerReports(t *testing.T) {
	var buf bytes.Buffer
	c := newCheckpointer(nil, time.Second)
	c.log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	full := errors.New("database or disk is full")
	for _, err := range []error{nil, full, full, nil, nil, full} {
		c.report(err)
	}
	want := `level=WARN msg="sqlite: a background checkpoint failed; the WAL keeps the writes until one succeeds" error="database or disk is full"
level=INFO msg="sqlite: background checkpoints work again"
level=WARN msg="sqlite: a background checkpoint failed; the WAL keeps the writes until one succeeds" error="database or disk is full"
`
	if got := buf.String(); got != want {
		t.Errorf("logged:\n%s\nwant:\n%s", got, want)
	}
}

// walTable opens ck.db in dir, in WAL mode, with a table t (x) to commit to.
func walTable(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "ck.db")+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	return db
}
