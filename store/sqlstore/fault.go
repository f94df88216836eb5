package sqlstore

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/store"
)

// StorageFaults is implemented by a Dialect that tells a write refused for a storage
// reason (a full disk, an I/O error, a read-only database) from any other failure.
type StorageFaults interface {
	StorageFault(err error) bool
}

// probeEvery is the least time between two write probes while writes fail. A probe is
// a one-row write: /readyz, which load balancers call every few seconds, makes one when
// one is due, so that a replica no traffic is sent to finds out that space came back.
const probeEvery = 5 * time.Second

// faults remembers that the store's writes fail for a storage reason, and since when,
// for Ping: a replica whose database answers but takes no write can decide nothing, and
// a ping alone does not see it. Any write that succeeds forgets it.
//
// On the writes' path it costs an atomic load when they succeed; the rest runs only
// while they fail.
type faults struct {
	is      func(error) bool // the dialect's StorageFault; nil: no error is one
	now     func() time.Time
	failing atomic.Bool
	probing atomic.Bool // a probe runs: no second one at the same time

	mu    sync.Mutex
	since time.Time // the first failure since the last success
	last  time.Time // the last failure or probe: the next probe waits probeEvery after it
	err   error     // the last failure

	probed func() // tests: called as a probe begins
}

func newFaults(d Dialect) *faults {
	f := &faults{now: time.Now}
	if c, ok := d.(StorageFaults); ok {
		f.is = c.StorageFault
	}
	return f
}

// wrote records the outcome of a write: a storage fault, or a success that ends one. An
// error of another kind (a constraint, a replay) says nothing either way.
func (f *faults) wrote(err error) {
	switch {
	case err == nil:
		if f.failing.Load() {
			f.mu.Lock()
			f.failing.Store(false)
			f.err = nil
			f.mu.Unlock()
		}
	case f.is != nil && f.is(err):
		now := f.now()
		f.mu.Lock()
		if !f.failing.Load() {
			f.since = now
		}
		f.last, f.err = now, err
		f.failing.Store(true)
		f.mu.Unlock()
	}
}

// failure is the fault in force, or nil.
func (f *faults) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.failing.Load() {
		return nil
	}
	return &store.WritesFailing{Since: f.since, Err: f.err}
}

// due reports whether a probe may run now, and if so counts it as the last try.
func (f *faults) due() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if !f.failing.Load() || now.Sub(f.last) < probeEvery {
		return false
	}
	f.last = now
	return true
}

// writable is nil unless the store's writes fail for a storage reason. Then it probes
// with a write of its own, at most once per probeEvery and one at a time, and is nil if
// that write succeeds; otherwise it returns a *store.WritesFailing.
func (s *Store) writable(ctx context.Context) error {
	f := s.faults
	if !f.failing.Load() {
		return nil
	}
	if f.due() && f.probing.CompareAndSwap(false, true) {
		if f.probed != nil {
			f.probed()
		}
		err := s.probe(ctx)
		f.probing.Store(false)
		if err == nil {
			return nil
		}
	}
	return f.failure()
}

// probeScope is the scope of the probe's nonce; no caller uses it.
const probeScope = "emfa.probe"

// probe writes a row and deletes it in one unit, committed as any write: nothing is
// left, yet the database had to take a write (for SQLite, WAL pages; for PostgreSQL, a
// heap tuple and its WAL records). The nonce is random, so that replicas sharing a
// database do not queue on each other's probes.
func (s *Store) probe(ctx context.Context) error {
	nonce := rand.Text()
	return s.unit(ctx, func(w *writer) error {
		ctx := w.c(ctx)
		if _, err := w.e.Exec(ctx, `INSERT INTO nonces (scope, nonce, expires_at) VALUES ($1, $2, 0)`, probeScope, nonce); err != nil {
			return s.fail("probe a write", err)
		}
		if _, err := w.e.Exec(ctx, `DELETE FROM nonces WHERE scope = $1 AND nonce = $2`, probeScope, nonce); err != nil {
			return s.fail("probe a write", err)
		}
		return nil
	})
}
