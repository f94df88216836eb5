package sqlite

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestCheckpointerClosingInCloses: at the closing-in pace (the log near the
// backstop: every checkpointEvery/closingIn), commits coming every millisecond get a
// checkpoint every 10 ms, no sooner; close in the middle of an interval, and in the
// middle of a stream of commits, returns without waiting for the next, and no checkpoint
// runs after it (a commit after close neither blocks nor runs one).
func TestCheckpointerClosingInCloses(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		db := walTable(t, dir)
		var mu sync.Mutex
		var at []time.Duration
		closed := false
		start := time.Now()
		c := newCheckpointer(db, 100*time.Millisecond)
		c.backstop = 1 // any log is near it: the pace closes in after the first checkpoint
		c.ran = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if closed {
				t.Errorf("a checkpoint at %v after close", time.Since(start))
			}
			if err != nil {
				t.Errorf("checkpoint: %v", err)
			}
			at = append(at, time.Since(start))
		}
		go c.run()
		for i := range 55 {
			if _, err := db.Exec("INSERT INTO t VALUES (?)", i); err != nil {
				t.Fatal(err)
			}
			c.committed()
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		mu.Lock()
		got := append([]time.Duration(nil), at...)
		mu.Unlock()
		// One at once, then every 10 ms: the log is past the backstop of 1 page from the start.
		if len(got) < 2 || got[0] != 0 {
			t.Fatalf("checkpoints at %v", got)
		}
		t.Logf("checkpoints at %v", got)
		if len(got) < 4 || got[len(got)-1]-got[len(got)-2] != checkpointEvery/closingIn {
			t.Errorf("checkpoints at %v: want the closing-in pace (%v) at the end", got, checkpointEvery/closingIn)
		}
		for i := 1; i < len(got); i++ {
			if d := got[i] - got[i-1]; d < checkpointEvery/closingIn {
				t.Errorf("checkpoints at %v: %v apart, sooner than %v", got, d, checkpointEvery/closingIn)
			}
		}
		done := make(chan error, 1)
		go func() { done <- c.close() }()
		go func() {
			for range 20 {
				c.committed()
			}
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("close: %v", err)
			}
		default:
			t.Fatal("close waits for the closing-in interval")
		}
		mu.Lock()
		closed = true
		mu.Unlock()
		c.committed()
		time.Sleep(time.Second)
		synctest.Wait()
	})
}
