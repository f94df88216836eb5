package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/emfa/emfa/store"
)

// GroupCommit makes every write of the store a unit committed by one writer at a time,
// many units at once: while one commit is flushing, the units that arrive queue; the next
// batch then takes all of them into one transaction, each in a savepoint of its own so
// that a failing unit rolls back alone, and commits them together. A caller is answered
// only after that commit has returned, so nothing is acknowledged before it is durable (as
// durable as the database's settings make a commit: SQLite's synchronous=FULL); a crash
// before the commit loses the whole batch, none of which has been answered.
//
// This is what SQLite needs: one writer per database, whose throughput a commit's fsync
// bounds. N concurrent decisions cost one fsync instead of N, and the queue is fair (first
// come, first committed), as the single writer connection was before. w must be a pool of
// one connection.
//
// The writer is no goroutine of its own but a role its callers take in turn (lead): a
// caller that finds no batch running runs its own unit's batch on its goroutine, and
// every unit queued by then with it; a caller that finds one running queues its unit and
// waits, once, to be answered or to lead the next batch, which the leader hands to the
// first unit queued. A write meeting an idle writer so costs no goroutine switch, where a
// writer goroutine cost two (issue 16: the unit handed over and the writer woken, its
// answer closed and the caller woken, with a select of three channels), and a queued one
// a single wait where it waited twice (to hand its unit over, then for the answer).
//
// A batch of deferred units only (store.DeferSync) commits without the fsync
// (synchronous=NORMAL for that commit, SyncPragma): its callers make a durable write after
// it before answering, and WAL commits reach the disk in order, so that write's fsync
// carries this batch too. A batch with one unit that is not deferred is fsynced whole.
//
// Why a unit runs inside the batch rather than being sent as data: an engine decides from
// a compare-and-set's result (AdvanceCounter's ErrReplay is a FAILED answer) and the audit
// row records that answer, so the unit needs the result at once, in the transaction that
// writes the row. A unit is Go code that only computes and writes (see
// store.Store.Update); the caller waits on the commit, never the writer on the caller.
// Its fn may run on another caller's goroutine, the batch's leader: a fn that ends its
// goroutine (runtime.Goexit, t.FailNow) ends that caller's, whose write is then never
// answered, and its own caller's (group.do); the others of the batch are told it failed.
func GroupCommit() Option {
	return func(s *Store) {
		s.g = &group{s: s, quit: make(chan struct{}), done: make(chan struct{}), idle: make(chan struct{})}
	}
}

// DeferredSync makes GroupCommit commit a batch of deferred units only
// (store.DeferSync) with "PRAGMA synchronous = deferred" and every other batch with
// "PRAGMA synchronous = full". It is only safe where commits reach the disk in order,
// as they do in SQLite's WAL mode: SQLite with ("FULL", "NORMAL").
func DeferredSync(full, deferred string) Option {
	return func(s *Store) {
		s.syncFull, s.syncDeferred = "", ""
		if deferred != "" {
			s.syncFull, s.syncDeferred = "PRAGMA synchronous = "+full, "PRAGMA synchronous = "+deferred
		}
	}
}

// BeginWith makes GroupCommit begin each batch with the statement text, "BEGIN" if not
// given: SQLite's store begins with "BEGIN IMMEDIATE", as its DSN's _txlock=immediate
// makes database/sql's transactions begin. The batch's BEGIN, COMMIT and ROLLBACK are
// statements prepared once on the writer's connection (rawConn), not the driver's
// BeginTx and Tx, which prepare, run and finalize each anew (issue 16: ~9k instructions
// of every batch with modernc.org/sqlite).
func BeginWith(text string) Option {
	return func(s *Store) { s.begin = text }
}

// AfterCommit makes GroupCommit call fn after each batch it has committed, on the goroutine
// that led it (a caller's): fn must return at once (SQLite's store uses it to wake its
// checkpointer).
func AfterCommit(fn func()) Option {
	return func(s *Store) { s.afterCommit = fn }
}

// maxBatch bounds the units of one commit, and so the latency a long queue adds to the
// first of them; at a commit per millisecond it is far above what arrives meanwhile.
const maxBatch = 512

// group is the single writer of GroupCommit.
type group struct {
	s *Store
	// mu guards leading, queue and closed, and hands the writer's role over: what the
	// fields below it hold belongs to the caller leading (lead), one at a time.
	mu sync.Mutex
	// leading: a caller runs a batch, or is about to (the first queued unit, handed the
	// role); a unit that comes meanwhile queues for the next.
	leading bool
	queue   []*unit // in the order they came
	closed  bool    // closing: no unit queues or leads any more
	// quit is closed by close, done by run once the writer has stopped, and idle by the
	// leader that finds the writer closing when its batch is answered.
	quit, done, idle chan struct{}
	stop             sync.Once
	// batch is the leader's, kept for the next.
	batch []*unit
	// committed: the running batch's COMMIT has returned without error (lead).
	committed bool
	// guard: the last batch had a unit fail, so the next runs its units in savepoints
	// from the start (commit).
	guard bool
	// traced, when set (tests), wraps what runs a batch's statements.
	traced func(Execer) Execer
	// raw runs the batches' statements on the writer's driver connection, where they
	// are prepared; nil until the first batch.
	raw *rawConn
}

// unit is one caller's writes, and what became of them.
type unit struct {
	ctx      context.Context
	deferred bool // store.DeferSync: a later durable commit of its caller carries it
	fn       func(w *writer) error
	err      error
	panicked any
	// answered is closed when the unit's batch has committed, or when its caller is to
	// lead the next batch (lead); nil for a unit whose caller leads at once.
	answered chan struct{}
	lead     bool // handed the writer's role: its caller leads (set before answered closes)
	// exited: its fn ended the goroutine it ran on (runtime.Goexit, as t.FailNow does),
	// which may have been another caller's; its own caller's ends too (do).
	exited bool
	// skipped: its context was done when the batch reached it, and it did not run, or
	// it failed in a way that rolled back the batch's whole transaction (pass); a second
	// run of the batch (commit) skips it too, its error kept.
	skipped bool
	// careful: a run of it assumed a compare-and-set changed a row that it did not
	// (batchExecer); it runs again assuming nothing.
	careful bool
	ex      batchExecer // its Execer in a run, here to cost no allocation of its own
	w       writer      // its fn's writer in a run, here for the same reason
	wctx    detached    // the writer's context: ctx without its cancelation
}

// detached is a context's values without its cancelation, as context.WithoutCancel
// makes it, but held in its unit rather than allocated at each run: the statements of a
// unit in a shared batch must not be interrupted by its caller's cancelation, which
// would abort its neighbours too. Unlike WithoutCancel's, context.Cause of it is its
// parent's; nothing a writer runs asks it.
type detached struct{ context.Context }

func (*detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detached) Done() <-chan struct{}       { return nil }
func (*detached) Err() error                  { return nil }

// errClosed answers a write after Close.
var errClosed = errors.New("store closed")

// ErrCloseInBatch is Close's error when it is called on the goroutine leading a batch of
// the store's writes: from a unit's fn (store.Store.Update's), or from the AfterCommit
// hook. Close waits for the batch running to be answered, which that goroutine would
// never do while it waits: that Close closes nothing, and the batch goes on.
var ErrCloseInBatch = errors.New("close called from inside one of the store's writes (a unit's fn, or the AfterCommit hook): it would wait for that write's own batch; nothing closed")

// do runs fn as a unit of a batch and returns once that batch has committed: a batch it
// leads at once when none runs, else the batch of the units queued with it.
func (g *group) do(ctx context.Context, fn func(w *writer) error) error {
	if err := ctx.Err(); err != nil {
		return g.s.fail("write", err)
	}
	u := &unit{ctx: ctx, deferred: store.SyncDeferred(ctx), fn: fn}
	g.mu.Lock()
	switch {
	case g.closed:
		g.mu.Unlock()
		return g.s.fail("write", errClosed)
	case !g.leading:
		g.leading = true
		g.mu.Unlock()
		g.lead(u)
	default:
		u.answered = make(chan struct{})
		g.queue = append(g.queue, u)
		g.mu.Unlock()
		if !g.wait(ctx, u) {
			return g.s.fail("write", ctx.Err())
		}
		if u.lead {
			g.lead(u)
		}
	}
	if u.exited {
		runtime.Goexit()
	}
	if u.panicked != nil {
		panic(u.panicked)
	}
	return u.err
}

// wait waits until queued u is answered or handed the lead, and reports whether it was:
// not when ctx was done first and u still queued, which it is no longer. Once taken into
// a batch, u is answered after it whatever ctx does: whether it is committed is only
// known then.
func (g *group) wait(ctx context.Context, u *unit) bool {
	select {
	case <-u.answered:
		return true
	case <-ctx.Done():
	}
	g.mu.Lock()
	if i := slices.Index(g.queue, u); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
		g.mu.Unlock()
		return false
	}
	g.mu.Unlock()
	<-u.answered
	return true
}

// lead runs the batch of u, whose caller holds the writer's role, and every unit queued
// by then, answers them once it has committed, and hands the role to the first unit
// queued meanwhile, which leads the next batch; or leaves the writer idle.
func (g *group) lead(u *unit) {
	batch := append(g.batch[:0], u)
	returned := false
	g.committed = false
	defer func() {
		if !returned {
			// commit panicked, outside any unit, or a unit's fn ended the goroutine
			// (runtime.Goexit; its caller's ends too, in do): the others of its batch
			// are told, not left waiting, and the next batch runs (on a fresh
			// connection: database/sql discards one its Raw panicked on). A panic after the batch's COMMIT
			// returned (AfterCommit's, the deferred sync's reset) leaves them the answers
			// commit set: they are durable, and an error would say they are not.
			for _, v := range batch[1:] {
				if !g.committed && v.err == nil && v.panicked == nil {
					v.err = g.s.fail("write", errors.New("the batch's commit panicked"))
				}
				close(v.answered)
			}
			g.batch = nil
		}
		g.handOver()
	}()
	g.mu.Lock()
	n := min(len(g.queue), maxBatch-1)
	batch = append(batch, g.queue[:n]...)
	g.advance(n)
	g.mu.Unlock()
	g.commit(batch)
	returned = true
	for _, v := range batch[1:] {
		close(v.answered)
	}
	clear(batch)
	g.batch = batch[:0]
	if g.s.stmts != nil {
		g.s.stmts.prepareMissed(context.Background(), g.s.w)
	}
}

// handOver hands the writer's role to the first unit queued, or leaves the writer idle
// (and tells close when it is closing).
func (g *group) handOver() {
	g.mu.Lock()
	if len(g.queue) == 0 || g.closed {
		g.leading = false
		if g.closed {
			close(g.idle)
		}
		g.mu.Unlock()
		return
	}
	next := g.queue[0]
	g.advance(1)
	next.lead = true
	g.mu.Unlock()
	close(next.answered)
}

// advance takes the first n units off the queue. g.mu is held.
func (g *group) advance(n int) {
	left := copy(g.queue, g.queue[n:])
	clear(g.queue[left:])
	g.queue = g.queue[:left]
}

// close stops the writer once the batch it runs is answered; the units still queued, and
// any after, fail. Closing twice is closing once. Called on the goroutine leading a batch
// (inBatch), it returns ErrCloseInBatch instead and the writer goes on. release (the
// store's pools closed) runs before close waits for the batch running: a unit's fn that
// writes on the pool outside the group (CreateGroup), or in memory reads, waits for the
// writer's one connection, which its own batch holds, and would never get it, the batch
// never answered, and Close waiting with it; closing the pool fails that wait
// ("database is closed"), and the unit with it. The batch's own statements run on the
// connection it holds (rawConn): a closed pool closes it once the batch gives it back.
func (g *group) close(release func()) error {
	if g.inBatch() {
		return ErrCloseInBatch
	}
	g.stop.Do(func() { close(g.quit) })
	release()
	<-g.done
	return nil
}

// inBatch reports whether the calling goroutine leads a batch of g: g has a leader, and
// lead is on the goroutine's stack. Go names no goroutine, and recording the leader's
// identity would cost every batch; only Close asks, once. lead on the stack may be
// another store's, whose unit's fn closes g while g's own leader runs elsewhere: that
// Close is refused too (ErrCloseInBatch), where it could have waited. No store's unit
// has a reason to close a store.
func (g *group) inBatch() bool {
	g.mu.Lock()
	leading := g.leading
	g.mu.Unlock()
	if !leading {
		return false // nor will it lead while this goroutine waits in close
	}
	// The whole stack: a unit's fn calls Close a few dozen frames above lead, or as many
	// as its own calls go deep (a recursive walk); missing lead is a hang.
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == leadFunc {
			return true
		}
		if !more {
			return false
		}
	}
}

// leadFunc is the name lead's frames have.
var leadFunc = runtime.FuncForPC(reflect.ValueOf((*group).lead).Pointer()).Name()

// run stops the writer when it is closed (close): it fails the units queued, waits for
// the batch running to be answered and closes the statements the writer prepared.
func (g *group) run() {
	defer close(g.done)
	<-g.quit
	g.mu.Lock()
	g.closed = true
	for _, u := range g.queue {
		u.err = g.s.fail("write", errClosed)
		close(u.answered)
	}
	g.queue = nil
	leading := g.leading
	g.mu.Unlock()
	if leading {
		<-g.idle
	}
	g.closeRaw()
}

// closeRaw closes the statements the writer prepared on its connection, so that the
// connection closes clean.
func (g *group) closeRaw() {
	if g.raw == nil {
		return
	}
	conn, err := g.s.w.Conn(context.Background())
	if err != nil {
		return // the pool is closed, and the connection with it
	}
	defer conn.Close()
	_ = conn.Raw(func(dc any) error {
		if dc == g.raw.c {
			g.raw.close()
		}
		return nil
	})
	g.raw = nil
}

// commit runs batch in one transaction and commits it, setting each unit's result.
func (g *group) commit(batch []*unit) {
	// The batch's statements must not be interrupted by one caller's context.
	ctx := context.Background()
	// fail fails the whole batch. A unit that failed by itself was told so by what the
	// units before it had written, which is now lost: it gets the batch's error too.
	fail := func(err error) {
		op := "commit"
		if b, ok := err.(beginError); ok {
			op, err = "begin", b.err // none of the batch ran
		}
		for _, u := range batch {
			if u.panicked == nil {
				u.err = g.s.fail(op, err)
			}
		}
	}
	// The batch runs on the pool's one writer connection, held (sql.Conn) from the
	// first statement to the last, on the driver's connection itself (rawConn). A
	// connection found broken before any unit ran (at BEGIN, or at the PRAGMA before
	// it) is closed and the batch runs on another, as database/sql retries a BeginTx
	// that meets a broken connection (maxBadConnRetries), rather than failing every
	// caller for a statement none of them ran.
	for tries := 1; ; tries++ {
		conn, err := g.s.w.Conn(ctx)
		if err != nil {
			select {
			case <-g.quit:
				err = errClosed // Close has closed the pool (close): none of the batch ran
			default:
			}
			fail(err)
			return
		}
		committed, early := false, false
		err = conn.Raw(func(dc any) error {
			g.raw = g.raw.on(dc, g.s.anonParams)
			committed, early = g.commitOn(ctx, dc, batch, fail)
			g.leaveNoTx(ctx, dc)
			if g.raw.bad {
				// database/sql closes the connection, as it does one a transaction found
				// broken: its statements first.
				g.raw.close()
				g.raw = nil
				return driver.ErrBadConn
			}
			return nil
		})
		_ = conn.Close() // done already when Raw found the connection broken
		if early && tries < badConnTries {
			for _, u := range batch {
				u.err = nil // fail's: none of them ran
			}
			continue
		}
		if err != nil && !errors.Is(err, driver.ErrBadConn) {
			fail(err) // the connection was closed before the batch ran
			return
		}
		if committed && g.s.afterCommit != nil {
			g.s.afterCommit()
		}
		return
	}
}

// leaveNoTx makes sure no transaction is left open on dc, the writer's driver connection,
// as the batch gives it back to the pool: one a ROLLBACK that failed may have left
// (unsure) is rolled back again, and dc is discarded (bad: database/sql closes it, which
// ends the transaction) when that fails too. Between two batches the connection serves the
// writes made on the pool outside the group (CreateGroup's, the sync queue's), and for
// ":memory:" the reads: inside a transaction left open, such a write was told it
// succeeded and was then rolled back with it, and a read saw the writes of a unit told it
// failed.
func (g *group) leaveNoTx(ctx context.Context, dc any) {
	if !g.raw.unsure || g.raw.bad {
		return
	}
	if ex, ok := dc.(driver.ExecerContext); ok {
		_, err := ex.ExecContext(ctx, "ROLLBACK", nil)
		g.rolledBack(err)
	}
	g.raw.bad = g.raw.unsure // rawConn.opened would have found it at the next BEGIN
}

// badConnTries is how many connections a batch tries when each is found broken before
// any of its units ran, and a keyed read when each reader is (keyed): database/sql tries
// as many (maxBadConnRetries, then a new connection).
const badConnTries = 3

// commitOn runs commit's batch on dc, the writer's driver connection, and reports whether
// it committed, and with early, whether it failed the batch because dc was found broken
// before any unit ran (the batch may run on another connection).
func (g *group) commitOn(ctx context.Context, dc any, batch []*unit, fail func(error)) (committed, early bool) {
	// A ROLLBACK that failed may have left its transaction open, its units told already:
	// it is rolled back again before the batch's next run begins (a bare run's, whose
	// unit failed: begin), before the deferred sync is reset (below) and before the
	// connection goes back to the pool (leaveNoTx), rather than the connection discarded
	// at once, for the connection of ":memory:" is its database. Once it has worked, or
	// found no transaction open, the connection is sure again (rolledBack).
	rollbackLeftOpen := func() {
		if ex, ok := dc.(driver.ExecerContext); ok && g.raw.unsure {
			_, err := ex.ExecContext(ctx, "ROLLBACK", nil)
			g.rolledBack(err)
		}
	}
	first := true
	beginText := g.s.begin
	if beginText == "" {
		beginText = "BEGIN"
	}
	begin := func() error {
		// A ROLLBACK of the run before that failed: else this BEGIN finds its
		// transaction, and dc is discarded.
		rollbackLeftOpen()
		_, err := g.raw.Exec(ctx, beginText) // rawConn.check notes a broken connection
		g.raw.opened(err)
		early, first = first && g.raw.bad, false
		return err
	}
	// The commit fsyncs unless every unit of the batch is deferred. SQLite reads the
	// setting when it commits, and refuses to change it inside a transaction: it is set
	// on the connection, held from the setting through the commit to its reset, so that
	// no write made on the pool outside the group (an import's, the sync queue's)
	// commits at the deferred setting in between.
	if g.s.syncDeferred != "" && !slices.ContainsFunc(batch, func(u *unit) bool { return !u.deferred }) {
		ex, ok := dc.(driver.ExecerContext)
		if !ok {
			fail(errors.New("the driver's connection runs no statement text"))
			return false, false
		}
		if _, err := ex.ExecContext(ctx, g.s.syncDeferred, nil); err != nil {
			g.raw.opened(err) // SQLite refuses it inside a transaction
			fail(g.raw.check(err))
			return false, g.raw.bad
		}
		defer func() {
			rollbackLeftOpen()
			if _, err := ex.ExecContext(ctx, g.s.syncFull, nil); err != nil {
				// The connection would go on committing without fsync: discard it, so
				// that the pool opens one with the DSN's settings.
				g.raw.bad = true
			}
		}()
	}
	// A batch runs bare first: its units without a savepoint each (two statements a unit
	// fewer). Should one fail, the transaction rolls back whole and the batch runs again,
	// each unit in a savepoint of its own, so that the failing one rolls back alone: a unit
	// may run twice, or three times after a careful run of its own (run1;
	// store.Store.Update). After a batch that had to, the next one starts guarded, and so
	// on until one commits guarded without a failure: a stream of failing units costs the
	// batches no second run each.
	guard := g.guard
	for {
		open, again := g.pass(ctx, begin, batch, guard, fail)
		if again {
			g.guard = true
			guard = true
			for _, u := range batch {
				if !u.skipped {
					u.err, u.panicked = nil, nil
				}
			}
			continue
		}
		if !open {
			return false, early
		}
		if guard && !slices.ContainsFunc(batch, (*unit).failed) {
			g.guard = false
		}
		if _, err := g.raw.Exec(ctx, "COMMIT"); err != nil {
			// SQLite leaves the transaction open after some failed COMMITs (SQLITE_BUSY):
			// it is rolled back at once, as modernc.org/sqlite's Tx.Commit does, so that
			// no write made on the pool outside the group meets it. That ROLLBACK fails
			// ("no transaction is active") when the COMMIT ended the transaction, which
			// is not known before. It runs once: the connection is unsure (rawConn.opened)
			// only when it failed otherwise, and a transaction may still be open.
			fail(err)
			if !g.raw.bad {
				g.rollback(ctx)
			}
			return false, false
		}
		g.committed = true
		return true, false
	}
}

// beginError is the error of a batch's BEGIN, which fails its units as a BEGIN, not as
// a COMMIT: "database is locked" (another process holds SQLite's write lock) read as a
// commit that failed, its writes perhaps half made, of a batch none of which ran.
type beginError struct{ err error }

func (e beginError) Error() string { return e.err.Error() }
func (e beginError) Unwrap() error { return e.err }

// pass runs batch in a transaction it begins, each unit in a savepoint of its own if guard,
// and reports whether its transaction is open, to commit: not when it has failed the
// batch (fail), or had a unit fail alone. With again, a unit of an unguarded batch of
// several failed: the transaction is rolled back, and the batch is to run again guarded.
func (g *group) pass(ctx context.Context, begin func() error, batch []*unit, guard bool, fail func(error)) (open, again bool) {
	if err := begin(); err != nil {
		fail(beginError{err})
		return false, false
	}
	var q Execer = g.raw
	if g.traced != nil {
		q = g.traced(q)
	}
	// A unit alone needs no savepoint: its failure rolls back the transaction.
	alone := len(batch) == 1
	savepoints := guard && !alone
	for _, u := range batch {
		if u.skipped {
			continue // its context was done when an earlier run reached it
		}
		if err := u.ctx.Err(); err != nil {
			u.err, u.skipped = g.s.fail("write", err), true
			continue
		}
		if savepoints {
			if _, err := q.Exec(ctx, "SAVEPOINT unit"); err != nil {
				g.rollback(ctx)
				fail(err)
				return false, false
			}
		}
		if g.run1(ctx, u, q) {
			// An assumption of it did not hold: what it wrote after it, and decided,
			// rests on a result it did not have. It runs again, careful: in its own
			// savepoint, or the batch again.
			if !savepoints {
				g.rollback(ctx)
				return false, true
			}
			if _, err := q.Exec(ctx, "ROLLBACK TO unit"); err != nil {
				g.rollback(ctx)
				fail(err)
				return false, false
			}
			g.run1(ctx, u, q)
		}
		failed := u.failed()
		switch {
		case failed && alone:
			g.rollback(ctx)
			return false, false
		case failed && !savepoints:
			g.rollback(ctx)
			return false, true
		case failed:
			// If the unit's error aborted the transaction itself (SQLite does so for a
			// full disk or an I/O error), ROLLBACK TO fails ("no such savepoint"): the
			// unit keeps its own error, and the others run again without it, rather
			// than each be told the savepoint's error (a failing write in a batch does
			// not fail its neighbours). Each such run settles one unit more, so that
			// the runs end. A broken connection fails the batch.
			if _, err := q.Exec(ctx, "ROLLBACK TO unit"); err != nil {
				g.rollback(ctx)
				if g.raw.bad {
					fail(err)
					return false, false
				}
				u.skipped = true
				return false, true
			}
			fallthrough
		case savepoints:
			if _, err := q.Exec(ctx, "RELEASE unit"); err != nil {
				g.rollback(ctx)
				fail(err)
				return false, false
			}
		}
	}
	return true, false
}

// run1 runs u's fn on q, setting its result, and reports whether the run rested on an
// assumption that did not hold (batchExecer) after u had written: u is then careful, and
// its result void. When u had written nothing before the statement it assumed, it runs
// again at once, careful, in place: a replayed code costs its batch no second run.
func (g *group) run1(ctx context.Context, u *unit, q Execer) (wrong bool) {
	u.ex = batchExecer{Execer: q, careful: u.careful}
	u.wctx = detached{u.ctx}
	u.w = writer{s: g.s, e: &u.ex, unit: true, ctx: &u.wctx}
	u.exited = true // until call returns: fn ended the goroutine if it does not
	u.err, u.panicked = call(u.fn, &u.w)
	u.exited = false
	if u.panicked == nil {
		// The statement still held runs now: it may have failed the unit's assumption,
		// whatever fn made of its error, or made of none.
		if err := u.ex.settle(ctx); err != nil && !errors.Is(err, errAssumedRow) && u.err == nil {
			u.err = g.s.fail("write", err)
		}
	}
	if !u.ex.wrong {
		u.ex = batchExecer{}
		return false
	}
	first := u.ex.first
	u.ex, u.careful, u.err = batchExecer{}, true, nil
	if first {
		return g.run1(ctx, u, q)
	}
	return true
}

// rollback rolls back the batch's transaction. A ROLLBACK that fails may leave the transaction open on the
// writer's connection, and then every later BEGIN on it fails ("cannot start a transaction
// within a transaction"): the writer would refuse every write until the process restarts.
// It also fails, harmlessly, when SQLite has rolled the transaction back itself (a full
// disk, an I/O error), as often as writes fail then ("no transaction is active": the
// connection is in none, NoTransaction). Rather than discard the connection when it
// fails otherwise, it is only marked unsure: what the transaction left open is rolled
// back again before the connection goes back to the pool (leaveNoTx), and the connection
// discarded only when that fails too.
func (g *group) rollback(ctx context.Context) {
	_, err := g.raw.Exec(ctx, "ROLLBACK") // rawConn.check notes a broken connection
	g.rolledBack(err)
}

// NoTransaction is implemented by a Dialect that tells from a ROLLBACK's error that it
// found no transaction open (SQLite's "no transaction is active": the database rolled it
// back itself, on a full disk, or the COMMIT before ended it): the connection is in none,
// and needs no second ROLLBACK.
type NoTransaction interface {
	NoTransaction(err error) bool
}

// rolledBack notes what a ROLLBACK on the writer's connection did, err its error: the
// connection is out of any transaction when it worked or found none open, and unsure
// (one may still be open: rolled back again before the batch's next BEGIN, the deferred
// sync's reset, or the connection's return to the pool) when it failed otherwise.
func (g *group) rolledBack(err error) {
	nt, ok := g.s.d.(NoTransaction)
	g.raw.unsure = err != nil && !(ok && nt.NoTransaction(err))
}

// failed reports whether u's run failed: an error, or a panic.
func (u *unit) failed() bool { return u.err != nil || u.panicked != nil }

// call runs fn, turning a panic into a value to re-raise in the caller's goroutine.
func call(fn func(w *writer) error, w *writer) (err error, panicked any) {
	defer func() {
		panicked = recover() // never nil for a panic since Go 1.21
	}()
	return fn(w), nil
}

// batchExecer is the Execer of a unit in a batch of the group's writer. It runs the
// statements as they come, but one: AdvanceCounter's compare-and-set (assumeOne), which
// it holds until the unit's next statement or its end, so that AppendAudit can fold the
// factor's last use into it (Amend) and the factor's row is written by one UPDATE, not
// two (issue 16: a second statement of each decision, ~12 allocations and a bound
// statement's run, for a row the writer had just written). Meanwhile the unit goes on as
// if the statement changed its one row. When it changed none (a replay, a lockout, a
// disable), the assumption did not hold: wrong is set, every later statement of the unit
// fails, and the writer runs the unit again, careful, with every result awaited
// (group.pass). One writer holds the database: nothing else can change the row between
// the call and the statement.
type batchExecer struct {
	Execer
	careful bool // assume nothing: the unit runs again after an assumption failed
	// pending is the statement held, with its arguments; "" when none.
	pending string
	args    []any
	wrong   bool // pending changed no row
	// err: pending failed (a full disk, an I/O error), after the unit was told it had
	// not; it fails every later statement, and the unit however fn ends (run1).
	err error
	// ran: a statement of the unit ran; first: none had when pending was held, so that
	// when it changed no row the unit has changed nothing, and runs again where it is.
	ran, first bool
}

var _ Amender = (*batchExecer)(nil)

// errAssumedRow: the statement a unit assumed changed one row changed none.
var errAssumedRow = errors.New("an assumed compare-and-set changed no row")

// assumeOne holds q, a statement that changes at most one row, to run with the unit's
// next statement, and reports whether it did: false when the unit runs careful.
func (e *batchExecer) assumeOne(q string, args []any) bool {
	if e.careful || e.wrong {
		return false
	}
	if err := e.settle(context.Background()); err != nil {
		return false // the next statement, or the unit's end, reports it
	}
	e.pending, e.args, e.first = q, args, !e.ran
	return true
}

// Amend replaces the statement held, when it is was, with q and args (Amender).
func (e *batchExecer) Amend(was, q string, args ...any) bool {
	if e.pending == "" || e.pending != was {
		return false
	}
	e.pending, e.args = q, args
	return true
}

// settle runs the statement held, if any, and returns errAssumedRow, with wrong set, if
// it changed no row, or its error. After an assumption failed, or the statement did, it
// fails every statement.
func (e *batchExecer) settle(ctx context.Context) error {
	if e.wrong {
		return errAssumedRow
	}
	if e.err != nil {
		return e.err
	}
	if e.pending == "" {
		return nil
	}
	q, args := e.pending, e.args
	e.pending, e.args = "", nil
	n, err := e.Execer.Exec(ctx, q, args...)
	e.ran = true
	if err != nil {
		e.err = err
		return err
	}
	if n != 1 {
		e.wrong = true
		return errAssumedRow
	}
	return nil
}

func (e *batchExecer) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := e.settle(ctx); err != nil {
		return 0, err
	}
	e.ran = true
	return e.Execer.Exec(ctx, q, args...)
}

func (e *batchExecer) QueryRow(ctx context.Context, q string, args ...any) Row {
	if err := e.settle(ctx); err != nil {
		return errRow{err}
	}
	e.ran = true
	return e.Execer.QueryRow(ctx, q, args...)
}

func (e *batchExecer) Later(ctx context.Context, q string, args ...any) error {
	if err := e.settle(ctx); err != nil {
		return err
	}
	e.ran = true
	return e.Execer.Later(ctx, q, args...)
}

// errRow is a Row whose Scan fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
