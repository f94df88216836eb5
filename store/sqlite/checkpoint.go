package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// A WAL checkpoint copies the pages committed to the write-ahead log back into the database
// file and fsyncs it. By default SQLite runs one inside the commit that takes the log past
// 1,000 pages, on the committing connection, which is our one writer: every caller of that
// group commit then waits for the copy and a second fsync, and so does every caller queued
// behind it. Under load that was a stall every ~150 ms, its fsync alone ~9 ms at the median
// on the 2-core machine (issue 16). So a connection of its own checkpoints in the
// background, beside the writer: SQLite lets a PASSIVE checkpoint run while a writer
// appends to the log and readers read, and never makes it wait for either.
//
// The log starts over from its beginning only once it is copied whole, which a checkpoint
// beside a busy writer never quite achieves: the writer's own checkpoint at backstopPages
// does it, and then has only the last commits' pages to copy. Measured over 15,000 TOTP
// validations at 64 clients: the writer's commit p99 20 ms → 15 ms, its worst 29–92 ms →
// 25–27 ms. Durability is unchanged: a commit is durable once the log is fsynced, whoever
// copies it later.
const (
	// checkpointEvery is the least time between two background checkpoints: after a
	// commit, the checkpointer runs within it; with no commit it does nothing. At a few
	// thousand decisions a second that is about as often as SQLite's own 1,000 pages.
	checkpointEvery = 100 * time.Millisecond
	// backstopPages is the writer's own wal_autocheckpoint: the log grows to about this
	// many pages (64 MiB at SQLite's 4 KiB pages; the file keeps that size) before the
	// writer folds in the rest and starts it over; and should the checkpointer fall
	// behind, the writer catches up.
	backstopPages = 16000
	// closingIn divides checkpointEvery while the log closes in on the backstop.
	closingIn = 10
)

// The writer's backstop checkpoint still runs inside a commit: the callers of that batch,
// and every one queued behind it, wait while it copies what the log holds beyond the last
// background checkpoint and fsyncs the database file. Paced at 2,500 store decisions a
// second (BenchmarkPacedDecisions: a claim, a read, a decision; 20,000 factors) the
// log grew by ~7,000 pages a second: at 4,000 pages that stall came ~1.5 times a second
// (12–14 restarts of the log in 20,000 decisions), the writer copying 340–700 pages each
// time (up to the 100 ms of commits since the last background checkpoint). So the backstop
// is 16,000 pages, which makes it 3–4 times rarer; and when the log is within twice what
// it lately grew in an interval of it, the checkpointer runs every
// checkpointEvery/closingIn, so that the writer finds 40–75 pages to copy. Measured with
// strace: 4 restarts in 20,000 decisions, the writer's fsyncs of the database file 15–18
// → 5, the background checkpoints' 32–48 → 39–50.

// checkpointer runs PASSIVE checkpoints on db, a pool of one connection, once per
// checkpointEvery at most while commits come, and not at all when none do.
type checkpointer struct {
	db    *sql.DB
	every time.Duration
	// backstop is the writer's wal_autocheckpoint in pages; 0: none known, no closing in.
	backstop int
	kick     chan struct{} // buffered 1: a commit happened since the last checkpoint began
	quit     chan struct{}
	done     chan struct{}
	stop     sync.Once
	// log, if set, hears of the first failure after a success, and of the next success.
	log     *slog.Logger
	failing bool
	// ran, if set, is told the outcome of each checkpoint (tests).
	ran func(err error)
	// probe, if set, runs before each checkpoint: off the writes' path, as often as
	// checkpoints at most (the store looks whether its file is still there).
	probe func()
}

func newCheckpointer(db *sql.DB, every time.Duration) *checkpointer {
	return &checkpointer{db: db, every: every, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
}

// committed tells the checkpointer that the writer committed. It never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTimer(c.every)
	defer t.Stop()
	last, lastAt := 0, time.Now() // the log's pages after the last checkpoint, and when
	peak := 0                     // the most the log lately grew in an interval
	for {
		select {
		case <-c.kick:
		case <-c.quit:
			return
		}
		if c.probe != nil {
			c.probe()
		}
		// A failure (a full disk, say) leaves the pages in the log, where they are
		// durable and readable; the next checkpoint, or the writer's backstop, retries.
		var busy, pages, copied int
		err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &pages, &copied)
		c.report(err)
		if c.ran != nil {
			c.ran(err)
		}
		now := time.Now()
		wait := c.every
		if err == nil {
			wait = c.next(pages, last, now.Sub(lastAt), &peak)
			last, lastAt = pages, now
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-c.quit:
			return
		}
	}
}

// next is the wait before the checkpoint after one that found pages in the log, last
// after the one before, since ago. peak is the most the log lately grew in an interval
// (its growth comes in bursts): when the log is within twice that of the backstop, the
// next checkpoint comes closingIn times sooner.
func (c *checkpointer) next(pages, last int, since time.Duration, peak *int) time.Duration {
	grew := pages - last
	if grew < 0 { // the log started over since: it grew by pages at least
		grew = pages
	}
	if since > 0 {
		*peak = max(*peak*9/10, int(int64(grew)*int64(c.every)/int64(since)))
	}
	if c.backstop > 0 && pages+2**peak >= c.backstop {
		return c.every / closingIn
	}
	return c.every
}

// report logs a checkpoint's failure once, until one succeeds again.
func (c *checkpointer) report(err error) {
	switch {
	case c.log == nil || (err != nil) == c.failing:
	case err != nil:
		c.log.Warn("sqlite: a background checkpoint failed; the WAL keeps the writes until one succeeds",
			"error", hinted(err).Error())
	default:
		c.log.Info("sqlite: background checkpoints work again")
	}
	c.failing = err != nil
}

// close stops the checkpointer after the checkpoint it runs, if any, and closes its pool.
// SQLite checkpoints the whole log when the last connection to the file closes.
func (c *checkpointer) close() error {
	c.stop.Do(func() { close(c.quit) })
	<-c.done
	return c.db.Close()
}
