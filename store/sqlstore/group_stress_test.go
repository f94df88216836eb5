package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// TestStressHandover: writers that queue, lead, hand over, fail, panic and give up
// (contexts that end at any moment, while queued or while their batch runs), and a Close
// in the middle of it all: every write is answered, once, with the truth (no error: its
// row is there; an error: it is not), and Close returns. A lost wake-up (a unit queued as
// the leader goes idle, a handed-over unit whose context ends) hangs it.
func TestStressHandover(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) { stressHandover(t) })
	}
}

func stressHandover(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	s, err := sqlite.Open(t.Context(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 60
	type result struct {
		id       string
		err      error
		panicked any
		failing  bool
	}
	results := make(chan result, writers*each)
	var wg sync.WaitGroup
	closeAt := rand.IntN(writers * each)
	var n sync.Mutex
	count := 0
	closed := make(chan error, 1)
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				n.Lock()
				count++
				if count == closeAt {
					go func() { closed <- s.Close() }()
				}
				n.Unlock()
				id := fmt.Sprintf("w%d-%d", g, i)
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				if rand.IntN(3) == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(400))*time.Microsecond)
				}
				if rand.IntN(4) == 0 {
					ctx = store.DeferSync(ctx)
				}
				kind := rand.IntN(10)
				r := result{id: id, failing: kind == 0 || kind == 1}
				func() {
					defer func() { r.panicked = recover() }()
					r.err = s.Update(ctx, func(w store.Writer) error {
						if err := w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", RequestID: id, Outcome: "SUCCESS"}); err != nil {
							return err
						}
						switch kind {
						case 0:
							return errors.New("unit fails")
						case 1:
							panic("unit panics")
						case 2:
							runtime.Gosched()
						}
						return nil
					})
				}()
				cancel()
				results <- r
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("writers still waiting after 20 s:\n%s", buf[:runtime.Stack(buf, true)])
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close never returned")
	}
	close(results)
	s, err = sqlite.Open(t.Context(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events, err := s.ListAudit(t.Context(), store.AuditFilter{Limit: 10 * writers * each})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, e := range events {
		rows[e.RequestID]++
	}
	var ok, canceled, refused int
	for r := range results {
		switch {
		case r.panicked != nil:
			if r.panicked != "unit panics" {
				t.Errorf("%s: panic %v", r.id, r.panicked)
			}
			if rows[r.id] != 0 {
				t.Errorf("%s: panicked, and %d rows of it", r.id, rows[r.id])
			}
		case r.err == nil:
			ok++
			if r.failing || rows[r.id] != 1 {
				t.Errorf("%s: told it committed (failing %v), %d rows of it", r.id, r.failing, rows[r.id])
			}
		default:
			switch {
			case errors.Is(r.err, context.DeadlineExceeded):
				canceled++
			case strings.Contains(r.err.Error(), "store closed"):
				refused++
			case r.failing:
			default:
				t.Errorf("%s: %v", r.id, r.err)
			}
			if rows[r.id] != 0 {
				t.Errorf("%s: told %v, and %d rows of it", r.id, r.err, rows[r.id])
			}
		}
	}
	t.Logf("%d committed, %d canceled, %d refused after Close", ok, canceled, refused)
}
