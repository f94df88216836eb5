package sqlstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/store/sqlstore"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// faulty is a store whose writes can be made to fail for a storage reason, and work again.
type faulty struct {
	s *sqlstore.Store
	// fail makes writes fail; lift makes them work again.
	fail, lift func(t *testing.T)
}

// TestPingSeesWritesFailing: a store whose writes fail for a storage reason (a full disk, a
// read-only database) still answers a ping, so Ping, which /readyz asks, reports the
// failure, and since when, until a write works again: one of the callers', or its own
// probe, made at most once per ProbeEvery and never two at a time, so that readiness
// comes back when space does although no traffic comes.
func TestPingSeesWritesFailing(t *testing.T) {
	stores := map[string]func(t *testing.T) faulty{
		"sqlite read-only": func(t *testing.T) faulty {
			s := openSQLite(t, filepath.Join(t.TempDir(), "emfa.db"))
			pragma := func(v string) func(t *testing.T) {
				return func(t *testing.T) {
					if err := sqlstore.ExecWriter(t.Context(), s, "PRAGMA query_only = "+v); err != nil {
						t.Fatal(err)
					}
				}
			}
			return faulty{s: s, fail: pragma("1"), lift: pragma("0")}
		},
		"sqlite full disk":   fullTmpfs,
		"postgres disk full": func(t *testing.T) faulty { return pgRefusing(t, "disk_full") },
		"postgres read-only": func(t *testing.T) faulty { return pgRefusing(t, "read_only_sql_transaction") },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			f := open(t)
			testPingSeesWritesFailing(t, f)
		})
	}
}

func testPingSeesWritesFailing(t *testing.T, f faulty) {
	ctx := t.Context()
	s := f.s
	c := &clock{now: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	sqlstore.SetClock(s, c.Now)
	var probes atomic.Int32
	sqlstore.OnProbe(s, func() { probes.Add(1) })
	users := 0
	create := func() error {
		users++
		return s.CreateUser(ctx, store.User{ID: fmt.Sprint("u", users), Name: fmt.Sprint("user", users), CreatedAt: c.Now()})
	}
	failing := func(when string) *store.WritesFailing {
		t.Helper()
		var wf *store.WritesFailing
		if err := s.Ping(ctx); !errors.As(err, &wf) {
			t.Fatalf("Ping %s: %v, want a *store.WritesFailing", when, err)
		}
		return wf
	}

	if err := create(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping before any failure: %v", err)
	}

	f.fail(t)
	since := c.Now()
	if err := create(); err == nil {
		t.Fatal("a write on the failing store succeeded")
	}
	c.add(time.Second)
	if err := create(); err == nil {
		t.Fatal("a second write on the failing store succeeded")
	}
	if wf := failing("after writes failed"); !wf.Since.Equal(since) || wf.Err == nil {
		t.Errorf("the failure: since %v (%v), want since the first failed write, %v", wf.Since, wf.Err, since)
	}
	// The last failed write was a try: no probe before ProbeEvery after it.
	c.add(sqlstore.ProbeEvery - time.Millisecond)
	failing("before a probe is due")
	if n := probes.Load(); n != 0 {
		t.Errorf("%d probes before one was due", n)
	}
	c.add(time.Millisecond)
	if wf := failing("whose probe fails"); !wf.Since.Equal(since) {
		t.Errorf("since %v after a failed probe, want %v", wf.Since, since)
	}
	if n := probes.Load(); n != 1 {
		t.Fatalf("%d probes once one was due, want 1", n)
	}

	// Space comes back; no traffic comes. Until the next probe is due, Ping says what it
	// knew; then its probe finds that writes work.
	f.lift(t)
	c.add(sqlstore.ProbeEvery - time.Millisecond)
	failing("before the next probe is due")
	if n := probes.Load(); n != 1 {
		t.Errorf("%d probes within ProbeEvery of the last, want 1", n)
	}
	c.add(time.Millisecond)
	// The first Ping whose probe is due probes; while that probe runs (here: held), a
	// second Ping, even once another is due, does not start one.
	hold, held := make(chan struct{}), make(chan struct{})
	sqlstore.OnProbe(s, func() {
		probes.Add(1)
		close(held)
		<-hold
	})
	first := make(chan error, 1)
	go func() { first <- s.Ping(ctx) }()
	testwait.Recv(t, "the first Ping's probe to start", held)
	c.add(sqlstore.ProbeEvery)
	failing("while another's probe runs")
	close(hold)
	if err := testwait.Recv(t, "the first Ping to end", first); err != nil {
		t.Errorf("Ping whose probe worked: %v, want nil", err)
	}
	if n := probes.Load(); n != 2 {
		t.Errorf("%d probes, want 2", n)
	}
	sqlstore.OnProbe(s, func() { probes.Add(1) })
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the probe worked: %v", err)
	}

	// A caller's write that works ends the failure too, with no probe.
	f.fail(t)
	if err := create(); err == nil {
		t.Fatal("a write on the failing store succeeded")
	}
	failing("after a write failed again")
	f.lift(t)
	if err := create(); err != nil {
		t.Fatalf("a write once the store takes writes: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after a write worked: %v", err)
	}
	if n := probes.Load(); n != 2 {
		t.Errorf("%d probes, want still 2", n)
	}
	// The probes left nothing behind: their nonces were deleted as they were written.
	if n, err := s.DeleteExpiredNonces(ctx, c.Now().Add(time.Hour), 100); err != nil || n != 0 {
		t.Errorf("nonces left by the probes: %d %v", n, err)
	}
}

func openSQLite(t *testing.T, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Store
}

// fullTmpfs is a SQLite store on a file system of its own, 1 MiB, that fail fills to the
// last byte (a file beside the database) and lift empties. Mounting needs root: without
// it, the test skips.
func fullTmpfs(t *testing.T) faulty {
	dir := testfs.Tmpfs(t)
	s := openSQLite(t, filepath.Join(dir, "emfa.db")) // closed before the unmount
	filler := filepath.Join(dir, "filler")
	return faulty{s: s,
		fail: func(t *testing.T) {
			// The log emptied first, so that no write finds room in it: a write's frames
			// go where a checkpoint left space, and one running while the disk fills (the
			// store's own, after the last commit) freed room a probe's small write took
			// (in 6 runs of 8 on a loaded machine).
			if err := sqlstore.ExecWriter(t.Context(), s, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				t.Fatal(err)
			}
			fl, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer fl.Close()
			block := make([]byte, 4096)
			for {
				if _, err := fl.Write(block); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("fill the disk: %v", err)
					}
					break
				}
			}
			// The log grows with each write until the file system is full: what SQLite
			// wrote before may leave it room for a small one.
			for i := range 64 {
				err := s.AppendAudit(t.Context(), store.AuditEvent{Time: time.Now(), Reason: string(make([]byte, 64<<10))})
				if err != nil {
					break
				}
				if i == 63 {
					t.Fatal("64 writes of 64 KiB on a full 1 MiB file system succeeded")
				}
			}
			// And writes as small as the test's own: a failed write's frames stay the log's,
			// and the next write takes their place, so a user's row may fit where 64 KiB
			// did not (1 run in 8 wrote one).
			for i := range 256 {
				err := s.CreateUser(t.Context(), store.User{ID: fmt.Sprint("filler", i), Name: fmt.Sprint("filler", i), CreatedAt: time.Now()})
				if err != nil {
					break
				}
				if i == 255 {
					t.Fatal("256 users written on a full 1 MiB file system")
				}
			}
		},
		lift: func(t *testing.T) {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// pgRefusing is a PostgreSQL store whose writes to users and nonces (the probe's) the
// server refuses with the SQLSTATE named cond while fail's triggers are in place: the
// error as the server sends it for a full disk or a read-only database.
func pgRefusing(t *testing.T, cond string) faulty {
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	ps, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	ident := pgx.Identifier{schema}.Sanitize()
	exec := func(t *testing.T, q string) {
		t.Helper()
		if _, err := sv.Admin.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(t, `CREATE FUNCTION `+ident+`.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '`+cond+`'; END $$`)
	return faulty{s: ps.Store,
		fail: func(t *testing.T) {
			for _, table := range []string{"users", "nonces"} {
				exec(t, `CREATE TRIGGER refuse BEFORE INSERT ON `+ident+`.`+table+` FOR EACH ROW EXECUTE FUNCTION `+ident+`.refuse()`)
			}
		},
		lift: func(t *testing.T) {
			for _, table := range []string{"users", "nonces"} {
				exec(t, `DROP TRIGGER refuse ON `+ident+`.`+table)
			}
		},
	}
}
