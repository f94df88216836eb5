package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestKeyedReadLosesReaderRace: a keyed read made under a request's deadline,
// which finds the one reader connection free, loses it to another read (a listing)
// before it takes it. It must still answer by its deadline, not when that read frees
// the reader. The other read takes the reader at the moment the keyed read is about
// to (OnTakingReader), so the interleaving is the same on every run.
func TestKeyedReadLosesReaderRace(t *testing.T) {
	ctx := context.Background()
	_, s := reviewReadStore(t, filepath.Join(t.TempDir(), "emfa.db"), 1)
	// The other read holds the reader this long, unless the keyed read answers first.
	const hold = 2 * time.Second
	var (
		mu       sync.Mutex
		held     *sql.Conn
		timer    *time.Timer
		released bool // the reader was given back before the keyed read answered
		armed    bool
	)
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		if timer != nil {
			timer.Stop()
		}
		if held != nil {
			held.Close()
			held = nil
			released = true
		}
	}
	sqlstore.OnTakingReader(s, func() {
		mu.Lock()
		defer mu.Unlock()
		if !armed {
			return
		}
		armed = false
		c, err := sqlstore.Readers(s).Conn(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		held = c
		timer = time.AfterFunc(hold, release)
	})
	for name, read := range map[string]func(context.Context) error{
		"GetFactorAndUser": func(ctx context.Context) error {
			_, _, err := s.GetFactorAndUser(ctx, "f1", "alice")
			return err
		},
		"UserDisabled": func(ctx context.Context) error {
			_, err := s.UserDisabled(ctx, "alice")
			return err
		},
		"ListEnabledFactors": func(ctx context.Context) error {
			_, err := s.ListEnabledFactors(ctx, "alice")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			armed, released = true, false
			mu.Unlock()
			rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := read(rctx)
			took := time.Since(start)
			mu.Lock()
			late, taken := released, !armed
			mu.Unlock()
			release() // at once, now that the read has answered
			t.Logf("%s under a 100 ms deadline, the reader taken from under it for %v: %v after %v",
				name, hold, err, took.Round(time.Millisecond))
			if !taken {
				t.Fatal("the read took no reader of the pool (OnTakingReader never ran)")
			}
			if late {
				t.Errorf("%s answered after %v, once the other read gave the reader back: it waited past its 100 ms deadline",
					name, took.Round(time.Millisecond))
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want context.DeadlineExceeded", name, err)
			}
		})
	}
}

// reviewReadStore is a SQLite file store, readers readers, with alice (u1) and her
// factor f1.
func reviewReadStore(t *testing.T, path string, readers int) (*sqlite.Store, *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.ReadConns(readers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.Store
	now := time.UnixMilli(1_700_000_000_000)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("s"), KeyID: "k", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return st, s
}

// TestKeyedReadStatementsCloseWithReaders: the statements the keyed reads
// prepare on a reader connection are finalized when the pool closes it (here, each
// reader as it is given back) and when the store closes: SQLite keeps a connection
// closed with statements unfinalized open, its file descriptors with it.
func TestKeyedReadStatementsCloseWithReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	st, s := reviewReadStore(t, path, 2)
	sqlstore.Readers(s).SetMaxIdleConns(0) // each reader closed as it is given back
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	read := func() {
		t.Helper()
		if _, u, err := s.GetFactorAndUser(ctx, "f1", "alice"); err != nil || u.ID != "u1" {
			t.Fatal(u, err)
		}
		if off, err := s.UserDisabled(ctx, "alice"); err != nil || off {
			t.Fatal(off, err)
		}
		if fs, err := s.ListEnabledFactors(ctx, "alice"); err != nil || len(fs) != 1 {
			t.Fatal(fs, err)
		}
	}
	read()
	before := testfs.OpenFiles(t, path)
	const rounds = 10
	for range rounds {
		read()
	}
	after := testfs.OpenFiles(t, path)
	t.Logf("descriptors on the database file: %d before, %d after %d rounds of keyed reads, each on a reader closed after", before, after, rounds)
	if after-before >= 3 {
		t.Errorf("descriptors on the database file grew from %d to %d in %d rounds", before, after, rounds)
	}
	sqlstore.Readers(s).SetMaxIdleConns(2)
	read()
	read()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testfs.OpenFiles(t, path); n != 0 {
		t.Errorf("%d descriptors on the database file after Close, want 0", n)
	}
}

// TestKeyedReadsConcurrent: keyed reads under deadlines, some of them too short,
// beside listings on the same readers, readers closed as they are given back now and
// then: every read answers by its deadline, right or with its context's error, and the
// readers stay within the pool's size. Meant for -race.
func TestKeyedReadsConcurrent(t *testing.T) {
	_, s := reviewReadStore(t, filepath.Join(t.TempDir(), "emfa.db"), 2)
	r := sqlstore.Readers(s)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				d := 200 * time.Millisecond
				if i%7 == 0 {
					d = time.Microsecond
				}
				ctx, cancel := context.WithTimeout(context.Background(), d)
				var err error
				switch (g + i) % 4 {
				case 0:
					var u store.User
					if _, u, err = s.GetFactorAndUser(ctx, "f1", "alice"); err == nil && u.ID != "u1" {
						err = errors.New("GetFactorAndUser: not alice")
					}
				case 1:
					_, err = s.UserDisabled(ctx, "alice")
				case 2:
					var fs []store.Factor
					if fs, err = s.ListEnabledFactors(ctx, "alice"); err == nil && len(fs) != 1 {
						err = errors.New("ListEnabledFactors: not one factor")
					}
				case 3:
					_, err = s.ListFactors(ctx, "u1") // a listing, on the pool
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			r.SetMaxIdleConns(i % 3) // 0: readers closed as they come back
			time.Sleep(time.Millisecond)
		}
		r.SetMaxIdleConns(2)
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := r.Stats(); st.OpenConnections > 2 {
		t.Errorf("%d reader connections open, the pool's size 2", st.OpenConnections)
	}
}
