package postgres_test

import (
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// TestCheckClockWarnsOfDrift: a process whose clock was right at open and drifts (or is
// set) an hour off the database's as it runs says so (WARN) at its next look
// (CheckClock), once, not at every look; it says (INFO) when the clocks agree again,
// and warns again when they part again. It looks at most every store.ClockCheckEvery
// by its clock: a drift within that of the last look waits for the next (a clock set
// back looks at once). Before, the clocks were compared only at open.
func TestCheckClockWarnsOfDrift(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	var mu gosync.Mutex
	var skew time.Duration
	set := func(d time.Duration) { mu.Lock(); skew = d; mu.Unlock() }
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := postgres.Open(t.Context(), dsn, postgres.Log(log), postgres.Clock(now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var w store.ClockWitness = s
	said := func(level string) int {
		return strings.Count(logs.String(), "level="+level+" msg=\"this process's clock")
	}
	look := func(what string, d time.Duration, warns, infos int) {
		t.Helper()
		set(d)
		if err := w.CheckClock(t.Context()); err != nil {
			t.Fatal(err)
		}
		if said("WARN") != warns || said("INFO") != infos {
			t.Fatalf("%s: %d warnings, %d notes that the clocks agree; want %d, %d:\n%s", what, said("WARN"), said("INFO"), warns, infos, logs.String())
		}
	}
	look("right at open and at once after", 0, 0, 0)
	look("an hour ahead", time.Hour, 1, 0)
	look("an hour ahead still", time.Hour, 1, 0)
	look("an hour and 11 minutes ahead, looked at again", time.Hour+11*time.Minute, 1, 0)
	look("set right again (back)", 0, 1, 1)
	look("9 minutes ahead, within a look's interval of the last", 9*time.Minute, 1, 1)
	look("11 minutes ahead, past it", 11*time.Minute, 2, 1)
	if !strings.Contains(logs.String(), "ahead_by=") {
		t.Errorf("the warning does not say by how much:\n%s", logs.String())
	}
}

// TestClockAheadMeasured: the store records how far this process's clock is ahead of
// the database's at each look (store.SharedClock), by which the sync queue writes and
// compares its times on the database's clock: at open, and at CheckClock's looks. A clock
// within store.ClockTolerance of the database's is taken as its.
func TestClockAheadMeasured(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.Migrated(t)
	var mu gosync.Mutex
	skew := 10 * time.Minute
	set := func(d time.Duration) { mu.Lock(); skew = d; mu.Unlock() }
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	s, err := postgres.Open(t.Context(), dsn, postgres.Clock(now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var c store.SharedClock = s
	near := func(what string, want time.Duration) {
		t.Helper()
		if got := c.ClockAhead(); got < want-store.ClockTolerance || got > want+store.ClockTolerance {
			t.Errorf("%s: ClockAhead %s, want about %s", what, got, want)
		}
	}
	near("10 minutes ahead at open", 10*time.Minute)
	for _, d := range []time.Duration{0, -20 * time.Minute, 300 * time.Millisecond} { // each set back: looked at once
		set(d)
		if err := s.CheckClock(t.Context()); err != nil {
			t.Fatal(err)
		}
		near(fmt.Sprintf("set to %s off", d), d)
		if d == 300*time.Millisecond && c.ClockAhead() != 0 {
			t.Errorf("300 ms ahead, within the tolerance: ClockAhead %s, want 0", c.ClockAhead())
		}
	}
}
