package main

import (
	"context"
	"strings"
	gosync "sync"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/telemetry"
)

// watchSync shows sq's state on every scrape of m (telemetry.WatchSync): one grouped
// query (store.SyncQueue.SyncStats), at most once per telemetry.DefaultSyncStatsTTL.
func watchSync(m *telemetry.Metrics, sq store.SyncQueue, now func() time.Time) {
	m.WatchSync(telemetry.SyncWatch{Now: now, Read: func(ctx context.Context) ([]telemetry.SyncSourceStats, error) {
		st, err := sq.SyncStats(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]telemetry.SyncSourceStats, len(st))
		for i, s := range st {
			out[i] = telemetry.SyncSourceStats{Source: s.Source, Pending: s.Pending, Dead: s.Dead, OldestPending: s.OldestPending, Paused: s.Paused}
		}
		return out, nil
	}})
}

// countedQueue is the queue's store as the sync worker of serve uses it, counting what
// becomes of each event it finishes (emfa_sync_events_finished_total), by source. The
// store's finishing calls name an event by its seq alone: the source of each event leased
// to this process is kept from its claim (or its lease, for one applied at once) until it
// is finished or released.
type countedQueue struct {
	store.SyncQueue
	m *telemetry.Metrics

	mu     gosync.Mutex
	leased map[int64]leased
}

type leased struct {
	source string
	until  time.Time
}

// maxLeased bounds what a worker that stops part-way through its batches (a store that
// failed) leaves behind: beyond it, the leases that have passed are forgotten.
const maxLeased = 4096

func newCountedQueue(sq store.SyncQueue, m *telemetry.Metrics) *countedQueue {
	return &countedQueue{SyncQueue: sq, m: m, leased: map[int64]leased{}}
}

func (c *countedQueue) lease(now, until time.Time, seqs []int64, sources func(i int) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.leased)+len(seqs) > maxLeased {
		for seq, l := range c.leased {
			if !l.until.After(now) {
				delete(c.leased, seq)
			}
		}
	}
	for i, seq := range seqs {
		c.leased[seq] = leased{source: sources(i), until: until}
	}
}

// finished forgets seq's lease and returns its source, "" when it was not leased here.
func (c *countedQueue) finished(seq int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leased[seq]
	delete(c.leased, seq)
	return l.source
}

func (c *countedQueue) count(seq int64, err error, outcome func(source string) string) {
	if source := c.finished(seq); source != "" && err == nil {
		c.m.SyncFinished(source, outcome(source))
	}
}

func (c *countedQueue) claimed(evs []store.QueuedEvent, now, until time.Time) {
	seqs := make([]int64, len(evs))
	for i, e := range evs {
		seqs[i] = e.Seq
	}
	c.lease(now, until, seqs, func(i int) string { return evs[i].Source })
}

func (c *countedQueue) EnqueueLeased(ctx context.Context, evs []store.QueuedEvent, owner string, leaseUntil, now time.Time) ([]int64, error) {
	seqs, err := c.SyncQueue.EnqueueLeased(ctx, evs, owner, leaseUntil, now)
	if err == nil && len(seqs) == len(evs) {
		c.lease(now, leaseUntil, seqs, func(i int) string { return evs[i].Source })
	}
	return seqs, err
}

func (c *countedQueue) ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil, settledBefore time.Time) ([]store.QueuedEvent, error) {
	evs, err := c.SyncQueue.ClaimEvents(ctx, owner, limit, now, leaseUntil, settledBefore)
	c.claimed(evs, now, leaseUntil)
	return evs, err
}

func (c *countedQueue) ClaimPropagations(ctx context.Context, target, owner string, limit int, now, leaseUntil time.Time) ([]store.QueuedEvent, error) {
	evs, err := c.SyncQueue.ClaimPropagations(ctx, target, owner, limit, now, leaseUntil)
	c.claimed(evs, now, leaseUntil)
	return evs, err
}

func (c *countedQueue) FinishApplied(ctx context.Context, seq int64, owner, note string, props []store.QueuedEvent, now time.Time) error {
	err := c.SyncQueue.FinishApplied(ctx, seq, owner, note, props, now)
	c.count(seq, err, func(string) string { return telemetry.SyncApplied })
	return err
}

func (c *countedQueue) FinishEvent(ctx context.Context, seq int64, owner, state, note string, applied bool, nextAt, now time.Time) error {
	err := c.SyncQueue.FinishEvent(ctx, seq, owner, state, note, applied, nextAt, now)
	c.count(seq, err, func(source string) string {
		switch {
		case state == store.QueueDead:
			return telemetry.SyncDead
		case state == store.QueuePending:
			return telemetry.SyncRetry
		case strings.HasPrefix(source, store.PropagationSource("")) && !strings.HasPrefix(note, "skipped"):
			// A propagation is done when its vendor took it, or when there was
			// nothing left to send ("skipped: ...").
			return telemetry.SyncPropagated
		}
		return telemetry.SyncSkipped
	})
	return err
}

func (c *countedQueue) ReleaseEvent(ctx context.Context, seq int64, owner string, applied bool) error {
	c.finished(seq)
	return c.SyncQueue.ReleaseEvent(ctx, seq, owner, applied)
}
