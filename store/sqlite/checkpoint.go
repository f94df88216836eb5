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
	// many pages (16 MiB at SQLite's 4 KiB pages) before the writer folds in the rest and
	// starts it over; and should the checkpointer fall behind, the writer catches up.
	backstopPages = 4000
)

// checkpointer runs PASSIVE checkpoints on db, a pool of one connection, once per
// checkpointEvery at most while commits come, and not at all when none do.
type checkpointer struct {
	db    *sql.DB
	every time.Duration
	kick  chan struct{} // buffered 1: a commit happened since the last checkpoint began
	quit  chan struct{}
	done  chan struct{}
	stop  sync.Once
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
		_, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		c.report(err)
		if c.ran != nil {
			c.ran(err)
		}
		t.Reset(c.every)
		select {
		case <-t.C:
		case <-c.quit:
			return
		}
	}
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
