package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/storetest"
)

// open opens dsn and closes it when the test ends.
func open(tb testing.TB, dsn string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatalf("Open(%q): %v", dsn, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func fileDSN(tb testing.TB) string {
	return "file:" + filepath.Join(tb.TempDir(), "emfa.db")
}

func TestConformance(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return open(t, fileDSN(t)) })
	})
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return open(t, ":memory:") })
	})
}

// TestOpenDSN opens each accepted form of DSN and checks that the store works and that the
// pragmas it relies on hold even when the DSN asks otherwise.
func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // for the relative path
	for _, tc := range []struct {
		name, dsn string
		file      string // the database file it should create; "" for memory
	}{
		{"path", filepath.Join(dir, "a.db"), "a.db"},
		{"uri", "file:" + filepath.Join(dir, "b.db"), "b.db"},
		{"relative uri with mode", "file:c.db?mode=rwc", "c.db"},
		{"memory", ":memory:", ""},
		{"uri memory", "file::memory:", ""},
		{"pragmas overridden", filepath.Join(dir, "d.db") + "?_pragma=foreign_keys(0)&_fk=0&_journal_mode=DELETE&_pragma=synchronous(OFF)", "d.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t, tc.dsn)
			// foreign_keys must be on whatever the DSN said.
			err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "nobody", State: store.FactorActive})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("CreateFactor for a missing user: got %v, want ErrNotFound", err)
			}
			if tc.file == "" {
				return
			}
			db, err := sql.Open("sqlite", filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var mode string
			if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" {
				t.Errorf("journal_mode = %q, want wal", mode)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct{ name, dsn string }{
		{"empty", ""},
		{"bad query", "file:x.db?%zz"},
		{"directory missing", filepath.Join(t.TempDir(), "no", "such", "dir", "emfa.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.dsn)
			}
		})
	}
}

// TestReopen checks that data survives Close and that migrating an up-to-date database is a
// no-op.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dsn := fileDSN(t)
	s, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "u1", Name: "alice", CreatedAt: time.UnixMilli(1_700_000_000_000)}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dsn)
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser after reopen: %v", err)
	}
	if got.ID != u.ID || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("GetUser after reopen = %+v, want %+v", got, u)
	}
}

// benchStores are the configurations the benchmarks compare.
var benchStores = []struct {
	name string
	dsn  func(testing.TB) string
}{
	{"file", fileDSN},
	{"memory", func(testing.TB) string { return ":memory:" }},
}

// BenchmarkOpenNew opens a new database file: a first start's migrations (issue 16's
// start-up is measured on a new database).
func BenchmarkOpenNew(b *testing.B) {
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		s, err := sqlite.Open(b.Context(), filepath.Join(dir, fmt.Sprintf("%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkAdvanceCounter(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			storetest.BenchAdvanceCounter(b, func(b *testing.B) store.Store { return open(b, bs.dsn(b)) })
		})
	}
}

func BenchmarkGetFactor(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			storetest.BenchGetFactor(b, func(b *testing.B) store.Store { return open(b, bs.dsn(b)) })
		})
	}
}

func BenchmarkDecision(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			storetest.BenchDecision(b, func(b *testing.B) store.Store { return open(b, bs.dsn(b)) })
		})
	}
}

// TestGroupCommitBatch queues units while the writer is busy, so that they run as one
// batch, and checks that the one failing among them (its write failing, or its fn) fails
// alone: its neighbours commit and its own writes are gone.
func TestGroupCommitBatch(t *testing.T) {
	ctx := t.Context()
	s := open(t, fileDSN(t))
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		f := store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive, Counter: -1}
		if err := s.CreateFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// The writer is held by a unit that waits until the others are queued behind it.
	started, release := make(chan struct{}), make(chan struct{})
	busy := make(chan error)
	go func() {
		busy <- s.Update(ctx, func(store.Writer) error {
			close(started)
			<-release
			return nil
		})
	}()
	testwait.Recv(t, "the unit to hold the writer", started)
	boom := errors.New("boom")
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id := fmt.Sprint("f", i)
			errs <- s.Update(ctx, func(w store.Writer) error {
				if err := w.AdvanceCounter(ctx, id, 1, time.Now()); err != nil {
					return err
				}
				switch i {
				case 3:
					return boom
				case 6:
					return w.AdvanceCounter(ctx, id, 1, time.Now()) // a replay: ErrReplay
				}
				return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), FactorID: id, Outcome: "SUCCESS"})
			})
		}()
	}
	time.Sleep(100 * time.Millisecond) // the units queue behind the busy one
	close(release)
	if err := testwait.Recv(t, "the busy unit to end", busy); err != nil {
		t.Fatal(err)
	}
	var ok, failed, replays int
	for range n {
		switch err := testwait.Recv(t, "a queued unit to end", errs); {
		case err == nil:
			ok++
		case errors.Is(err, boom):
			failed++
		case errors.Is(err, store.ErrReplay):
			replays++
		default:
			t.Errorf("unit: %v", err)
		}
	}
	if ok != n-2 || failed != 1 || replays != 1 {
		t.Errorf("%d committed, %d failed, %d replays; want %d, 1, 1", ok, failed, replays, n-2)
	}
	for i := range n {
		f, err := s.GetFactor(ctx, fmt.Sprint("f", i))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(1)
		if i == 3 || i == 6 {
			want = -1
		}
		if f.Counter != want {
			t.Errorf("factor f%d: counter %d, want %d", i, f.Counter, want)
		}
	}
	events, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n-2 {
		t.Errorf("%d audit events, want %d: the failed units' are rolled back", len(events), n-2)
	}
}

// SQLite's built-in lower(), which users_name_folded and audit_username_time are built
// with, folds exactly what store.FoldName folds.
func TestFoldNameIsLower(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range storetest.FoldSamples() {
		var got string
		if err := db.QueryRowContext(t.Context(), `SELECT lower($1)`, name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := store.FoldName(name); got != want {
			t.Errorf("lower(%q) = %q, FoldName %q", name, got, want)
		}
	}
}

// Every write taken with its audit record commits both or neither: a trigger refuses the
// record, and the change must not stay behind.
func TestRecordedOrNothing(t *testing.T) {
	dsn := fileDSN(t)
	st := open(t, dsn)
	storetest.RecordedOrNothing(t, st, func(t *testing.T) {
		db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "file:"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit WHEN NEW.actor = '` + storetest.RefusedActor + `'
			BEGIN SELECT RAISE(ABORT, 'the test refuses this record'); END`); err != nil {
			t.Fatal(err)
		}
	})
}
