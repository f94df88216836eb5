package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	gosync "sync"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// DefaultKeepMarks is how long the ordering marks of users and groups are kept: a
// source's event dated before the marks the queue swept (by more than this) is applied
// as if nothing newer had been. It is far past the 7 days a source's event id is kept
// for deduplication, the lateness of the sources' deliveries (Okta retries once, at
// once), and an Auth0 log stream's backlog (its tenant's log retention, at most 30 days).
const DefaultKeepMarks = 90 * 24 * time.Hour

// DefaultMaxDeletesPerHour is the deletion guard's default: a source that deletes more
// users in an hour is paused until an operator resumes it.
const DefaultMaxDeletesPerHour = 100

// MaxFutureSkew is how far past its receipt a source may date an event. One dated later
// is ordered at the time it was received: else a wrong clock, or a wrong date, would make
// the user's real changes until then "older than an event already applied", and skip them
// (a suspend among them).
const MaxFutureSkew = store.MaxFutureSkew

// unixEpoch: an event dated before it is dated at its receipt (Queue.queued).
var unixEpoch = time.Unix(0, 0)

// Outcomes told to Queue.Observe.
const (
	OutcomeApplied    = "applied"    // in emfa's store
	OutcomePropagated = "propagated" // carried to a vendor (what was left of it to send)
	OutcomeSkipped    = "skipped"    // done without being applied or carried: older than a change applied since, refused
	OutcomeRetry      = "retry"      // an attempt failed; it waits its backoff
	OutcomeDead       = "dead"       // dead-lettered
)

// Queue is the durable queue of lifecycle events and its workers. Several processes may
// run workers on one store: a claim leases an event to one of them, and an event whose
// worker died is claimed again when its lease passes (applying it twice changes nothing).
//
// An event is applied to emfa's store by one worker; the commit that records it applied
// queues its propagation to each vendor (store.SyncQueue.FinishApplied), which a worker of
// that vendor's own carries out afterwards. So a vendor that fails or hangs holds back
// only the later propagations of that user to that vendor: never an apply (a disable cuts
// the user off in emfa at once), nor another vendor.
type Queue struct {
	Store   store.SyncQueue
	Applier *Applier
	// Propagators receive every applied event after emfa's store has it, each user's in
	// order, each from a worker of its own, retried and dead-lettered apart. Each is
	// named, in the queue, by its PropagationTarget() (a remote engine: its provider's
	// credential prefix), else by its index. They are the ones the queue starts with: a
	// reload replaces them with SwapPropagators, which may add and remove targets too.
	Propagators []provider.LifecyclePropagator
	// MaxAttempts before an event is a dead letter (default 10). It, Settle and
	// MaxDeletesPerHour are set before the queue runs; SetLimits changes them while it does.
	MaxAttempts int
	// Backoff is the wait after the nth failure (default 2^n seconds, at most 10 minutes);
	// a failure that says to wait longer (a vendor's Retry-After) waits that, at most
	// MaxRetryAfter.
	Backoff func(n int) time.Duration
	// Lease is how long a claimed event is one worker's (default 1 minute).
	Lease time.Duration
	// Settle is how long an event waits in the queue before it is claimed, so that events
	// delivered out of order a moment apart are applied in the order they happened.
	Settle time.Duration
	// Poll is how often an idle worker looks for events (default 500 ms).
	Poll time.Duration
	// Batch is how many events one claim takes (default 100).
	Batch int
	// MaxDeletesPerHour: the deletion guard (default DefaultMaxDeletesPerHour; < 0 off).
	MaxDeletesPerHour int
	// KeepDone is how long applied events are kept for deduplication (default 7 days).
	KeepDone time.Duration
	// KeepMarks is how long the ordering marks are kept (default DefaultKeepMarks): the
	// purge deletes those older than it and than every pending or dead event.
	KeepMarks time.Duration
	// PurgeBatch is how many finished events (and marks) one purge deletes (default 10,000).
	PurgeBatch int
	// Observe, when set, is told what this process's queue made of each event and
	// propagation it finished, once the store recorded it: by its source (a propagation's
	// is store.PropagationSource of its target) and outcome (OutcomeApplied, ...). An
	// event released (its source paused), one whose lease another worker took over, or
	// one whose outcome the store failed to record is not told of. It is called on the
	// worker's goroutine, or ApplyNow's caller's: it must be quick and must not block.
	Observe func(source, outcome string)
	Owner   string
	Log     *slog.Logger
	Now     func() time.Time

	wake chan struct{}

	lmu gosync.Mutex // MaxAttempts, Settle and MaxDeletesPerHour, once the queue runs (SetLimits)

	pmu   gosync.Mutex
	slots []*slot        // every target propagated to since the start, by index (PropagateOnce's i)
	props *propagatorSet // what propagations use now, by slot (SwapPropagators)
	// swapped: SwapPropagators has been called, and Propagators no longer says the targets.
	swapped bool
	// runCtx is Run's context while it runs: a target added starts its worker under it.
	runCtx  context.Context
	workers gosync.WaitGroup // the propagation workers Run started, and those started since
}

// slot is one target of the queue's propagations, for as long as the queue runs: a
// target removed keeps its slot, and comes back to it.
type slot struct {
	name string
	wake chan struct{}
	// stop is closed when the target is removed: its worker ends the propagation under
	// way, gives back what else it had claimed, and stops.
	stop chan struct{}
	// done is closed when the worker last started for the slot has stopped (nil: none
	// was): the worker of a target added back waits for it, so that one process never
	// has two at once on one target.
	done chan struct{}
	// busyUntil: the vendor refused a propagation for now (429: rate-limited), which is
	// due again then; the target's worker claims nothing before (PropagateOnce).
	busyUntil time.Time
}

// propagatorSet is one generation of the propagators, and the propagations running on it.
type propagatorSet struct {
	ps      []provider.LifecyclePropagator // by slot; nil: the target was removed
	running gosync.WaitGroup
}

// slotsLocked are the queue's slots; q.pmu is held. Until the first swap they are
// Propagators' (which a caller may set after Init, before it runs the queue).
func (q *Queue) slotsLocked() []*slot {
	if q.swapped {
		return q.slots
	}
	same := len(q.slots) == len(q.Propagators)
	for i := 0; same && i < len(q.slots); i++ {
		same = q.slots[i].name == targetName(q.Propagators[i], i)
	}
	if !same {
		q.slots = make([]*slot, len(q.Propagators))
		for i, p := range q.Propagators {
			q.slots[i] = &slot{name: targetName(p, i), wake: make(chan struct{}, 1), stop: make(chan struct{})}
		}
	}
	if q.props == nil {
		q.props = &propagatorSet{}
	}
	q.props.ps = q.Propagators // read only; the generation's own from the first swap on
	return q.slots
}

// targetName is what the queue calls p, the jth of its propagators.
func targetName(p provider.LifecyclePropagator, j int) string {
	if t, ok := p.(targeted); ok {
		return t.PropagationTarget()
	}
	return strconv.Itoa(j)
}

// propagator is propagator i as it is now, for one propagation, which calls done when it
// has ended: a swap lets the propagations already running end on the one they began with.
// A target removed has none: the stand-in fails with errTargetRemoved, and the
// propagation is given back untried (retry).
func (q *Queue) propagator(i int) (p provider.LifecyclePropagator, done func()) {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	slots := q.slotsLocked()
	g := q.props
	if i >= len(g.ps) || g.ps[i] == nil {
		return removedTarget(slots[i].name), func() {}
	}
	g.running.Add(1)
	return g.ps[i], g.running.Done
}

// active says whether target i is one the queue propagates to now.
func (q *Queue) active(i int) bool {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	q.slotsLocked()
	return i < len(q.props.ps) && q.props.ps[i] != nil
}

// errTargetRemoved: the propagation's target was removed (SwapPropagators) before it
// began.
var errTargetRemoved = errors.New("sync: the propagation's target was removed")

// removedTarget stands in for a target removed, for a propagation claimed before.
type removedTarget string

func (t removedTarget) PropagationTarget() string { return string(t) }

func (t removedTarget) Propagate(context.Context, provider.LifecycleEvent) error {
	return fmt.Errorf("%w: %s", errTargetRemoved, string(t))
}

// ErrTargetTwice: SwapPropagators was given two propagators of one target.
var ErrTargetTwice = errors.New("sync: two propagators name one target")

// SwapPropagators makes ps the propagators (a reload's engines, with the vendor
// credentials it read), each named by its PropagationTarget() (else its index in ps); two
// of one name are refused (ErrTargetTwice), and nothing changes. A propagation that
// starts from now on uses ps; one running goes on with the propagator it began with, and
// retired returns once every one that began on the replaced propagators has ended, after
// which their engines may be closed.
//
// A target ps adds gets a worker of its own (under Run), and the propagations of the
// events applied from now on; those applied before are not carried to it. A target ps
// leaves out is queued nothing more: its worker ends the propagation under way, gives
// back, untried, the rest of what it had claimed, and stops. What is still queued for it
// stays pending, and is carried out if a later swap (or a process) brings it back.
func (q *Queue) SwapPropagators(ps []provider.LifecyclePropagator) (retired func(), err error) {
	q.init()
	seen := make(map[string]bool, len(ps))
	for j, p := range ps {
		name := targetName(p, j)
		if seen[name] {
			return nil, fmt.Errorf("%w: %q", ErrTargetTwice, name)
		}
		seen[name] = true
	}
	q.pmu.Lock()
	defer q.pmu.Unlock()
	q.slotsLocked()
	next := make([]provider.LifecyclePropagator, len(q.slots))
	for j, p := range ps {
		name := targetName(p, j)
		i := slices.IndexFunc(q.slots, func(s *slot) bool { return s.name == name })
		if i < 0 {
			i = len(q.slots)
			q.slots = append(q.slots, &slot{name: name, wake: make(chan struct{}, 1)})
			next = append(next, nil)
		}
		next[i] = p
	}
	old := q.props
	q.props = &propagatorSet{ps: next}
	q.swapped = true
	for i, s := range q.slots {
		was := i < len(old.ps) && old.ps[i] != nil
		switch now := next[i] != nil; {
		case was && !now:
			close(s.stop)
		case !was && now:
			s.stop = make(chan struct{})
			q.startLocked(i)
		}
	}
	return old.running.Wait, nil
}

// startLocked starts slot i's worker when Run runs; q.pmu is held.
func (q *Queue) startLocked(i int) {
	if q.runCtx == nil {
		return
	}
	s := q.slots[i]
	ctx, stop, prev, done := q.runCtx, s.stop, s.done, make(chan struct{})
	s.done = done
	q.workers.Add(1)
	go func() {
		defer q.workers.Done()
		defer close(done)
		if prev != nil {
			<-prev // the worker of the target's removal, ending its propagation
		}
		q.loop(ctx, stop, s.wake, "sync propagation to "+s.name, func(ctx context.Context) (int, error) {
			return q.PropagateOnce(ctx, i)
		})
	}()
}

// targeted is a propagator that names itself in the queue.
type targeted interface{ PropagationTarget() string }

// target is the name of propagator i in the queue.
func (q *Queue) target(i int) string {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	return q.slotsLocked()[i].name
}

// Targets are the names of the targets the queue propagates to now.
func (q *Queue) Targets() []string {
	return slices.DeleteFunc(q.targets(), func(t string) bool { return t == "" })
}

// targets are the names of the targets propagated to now, by slot ("" for one removed).
func (q *Queue) targets() []string {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	slots := q.slotsLocked()
	out := make([]string, len(slots))
	for i, s := range slots {
		if q.props.ps[i] != nil {
			out[i] = s.name
		}
	}
	return out
}

func (q *Queue) init() {
	q.lmu.Lock()
	if q.MaxAttempts <= 0 {
		q.MaxAttempts = 10
	}
	if q.MaxDeletesPerHour == 0 {
		q.MaxDeletesPerHour = DefaultMaxDeletesPerHour
	}
	q.lmu.Unlock()
	if q.Backoff == nil {
		q.Backoff = func(n int) time.Duration {
			return min(time.Duration(1)<<min(n, 20)*time.Second, 10*time.Minute)
		}
	}
	if q.Lease <= 0 {
		q.Lease = time.Minute
	}
	if q.Poll <= 0 {
		q.Poll = 500 * time.Millisecond
	}
	if q.Batch <= 0 {
		q.Batch = 100
	}
	if q.KeepDone <= 0 {
		q.KeepDone = 7 * 24 * time.Hour
	}
	if q.KeepMarks <= 0 {
		q.KeepMarks = DefaultKeepMarks
	}
	if q.PurgeBatch <= 0 {
		q.PurgeBatch = 10000
	}
	if q.Owner == "" {
		q.Owner = builtin.NewID()
	}
	if q.Log == nil {
		q.Log = slog.New(slog.DiscardHandler)
	}
	if q.Now == nil {
		q.Now = time.Now
	}
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
}

// Init sets the defaults; call it once before sharing q.
func (q *Queue) Init() *Queue { q.init(); return q }

// now is the queue's clock, by which it writes the queue's times and compares them (a
// lease, a backoff, a hold, a vendor's hold, the wait for a user's create, an event's
// receipt): the store's when every process shares it (store.SharedClock: PostgreSQL's),
// read as this process's clock less how far the store last measured it ahead; else this
// process's (SQLite's store, which one process uses). By each replica's own clock, a
// replica 10 minutes ahead held the others 10 minutes after each of its backoffs and a
// vendor's 429, and took at once a lease another replica held, sending the vendor what
// that one was sending. Audit records are dated by this process's clock (Now), as all
// of its others are.
func (q *Queue) now() time.Time { return q.onQueueClock(q.Now()) }

// onQueueClock is t, a time of this process's clock, on the queue's clock (now).
func (q *Queue) onQueueClock(t time.Time) time.Time {
	if c, ok := q.Store.(store.SharedClock); ok {
		if d := c.ClockAhead(); d != 0 {
			t = t.Add(-d)
		}
	}
	return t
}

// Limits are the settings of a queue that may change while it runs (SetLimits).
type Limits struct {
	MaxAttempts       int           // Queue.MaxAttempts (0: 10)
	Settle            time.Duration // Queue.Settle
	MaxDeletesPerHour int           // Queue.MaxDeletesPerHour (0: DefaultMaxDeletesPerHour; < 0: off)
}

// SetLimits makes l the queue's limits from the next event its workers (and ApplyNow)
// take on: a reload's. An event waiting its backoff keeps the time it waits for; one
// whose attempts are at or past a lowered MaxAttempts is a dead letter at its next
// failure; a source the deletion guard paused stays paused until an operator resumes
// it, whatever the new MaxDeletesPerHour.
func (q *Queue) SetLimits(l Limits) {
	q.init()
	if l.MaxAttempts <= 0 {
		l.MaxAttempts = 10
	}
	if l.MaxDeletesPerHour == 0 {
		l.MaxDeletesPerHour = DefaultMaxDeletesPerHour
	}
	l.Settle = max(l.Settle, 0)
	q.lmu.Lock()
	q.MaxAttempts, q.Settle, q.MaxDeletesPerHour = l.MaxAttempts, l.Settle, l.MaxDeletesPerHour
	q.lmu.Unlock()
	q.Wake() // a shorter settle may have made events due
}

// Limits are the queue's limits now.
func (q *Queue) Limits() Limits {
	q.lmu.Lock()
	defer q.lmu.Unlock()
	return Limits{MaxAttempts: q.MaxAttempts, Settle: q.Settle, MaxDeletesPerHour: q.MaxDeletesPerHour}
}

// keyOf is what orders an event: a user's events apply one at a time in order, whatever
// the case its name comes in (store.FoldName), and so do a group's own.
func keyOf(ev provider.LifecycleEvent) string {
	switch ev.Type {
	case provider.EventGroupCreate, provider.EventGroupRename, provider.EventGroupDelete:
		return "group:" + ev.Group
	}
	return "user:" + store.FoldName(ev.Username)
}

// queued is ev as the queue keeps it; ev gets the time now when it has none, or one
// later than MaxFutureSkew from now or before 1970 (logged), an id when its source gave it none, and the
// id of the request that queues it (lifecycle.RequestID), for its audit records.
func (q *Queue) queued(ctx context.Context, ev *provider.LifecycleEvent, now time.Time) (store.QueuedEvent, error) {
	if ev.RequestID == "" {
		ev.RequestID = lifecycle.RequestID(ctx)
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.Time.After(now.Add(MaxFutureSkew)) {
		q.Log.Warn("sync event dated in the future: ordered at the time it was received",
			"source", ev.Source, "event_id", ev.ID, "type", ev.Type, "dated", ev.Time, "received", now)
		ev.Time = now
	}
	// No directory dates an event before 1970; one before the year 1 (an Okta published
	// of 0000-01-01T00:00:00+01:00) was older than the zero time that stands for a user
	// without a mark, and a new user's create was skipped as older than one applied.
	if ev.Time.Before(unixEpoch) {
		q.Log.Warn("sync event dated before 1970: ordered at the time it was received",
			"source", ev.Source, "event_id", ev.ID, "type", ev.Type, "dated", ev.Time, "received", now)
		ev.Time = now
	}
	if ev.ID == "" {
		ev.ID = builtin.NewID()
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return store.QueuedEvent{}, err
	}
	return store.QueuedEvent{Source: ev.Source, EventID: ev.ID, Key: keyOf(*ev), Type: ev.Type, Time: ev.Time, Body: body}, nil
}

// received are evs, received at now, as the queue keeps them (queued). One that gives no
// time of its own (SCIM's changes, a Verify notification whose time is null) is dated
// then, by the queue's clock, but no earlier than what it changes was marked, by a clock
// that may be ahead of the queue's (a source's, or a version's that dated an operator's
// change by its process's clock), nor than the events before it in evs that change it
// (markTimes): the marks of all of them in one read, not one an event. Dated by the
// queue's clock alone, a directory's change received a minute after such an operator's
// change on a replica 3 minutes ahead of the database was skipped as older. The time so
// given is the queue's, not a source's: not one in the future to date back (queued),
// which put it before the mark it is after. evs get their times, ids and request's id.
func (q *Queue) received(ctx context.Context, evs []provider.LifecycleEvent, now time.Time) ([]store.QueuedEvent, error) {
	undated := make([]bool, len(evs))
	for i := range evs {
		undated[i] = evs[i].Time.IsZero()
	}
	if err := q.markTimes(ctx, now, evs); err != nil {
		return nil, err
	}
	rows := make([]store.QueuedEvent, len(evs))
	for i := range evs {
		at := now
		if undated[i] {
			at = evs[i].Time
		}
		r, err := q.queued(ctx, &evs[i], at)
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	return rows, nil
}

// Enqueue writes events to the queue (those enqueued before, by source and id, are not
// added again) and returns how many it added. Once it returns nil the events survive a
// crash: the source may be answered.
func (q *Queue) Enqueue(ctx context.Context, evs []provider.LifecycleEvent) (int, error) {
	q.init()
	now := q.now()
	// As the source gave them, in its order: a rename before the adds of its new name
	// dates them after it (received).
	rows, err := q.received(ctx, slices.Clone(evs), now)
	if err != nil {
		return 0, err
	}
	n, err := q.Store.EnqueueEvents(ctx, rows, now)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		q.Wake()
	}
	return n, nil
}

// ApplyNow applies evs at once, in order (SCIM answers with the result), for the
// propagators and the deletion count as a worker would. The deletion guard is asked, then
// they are queued, leased to this call, then applied; the caller going away stops nothing
// after that:
//
//   - applied: each is done (no propagators) or pending, applied, for the worker to
//     propagate;
//   - refused (*Skipped) or failed (a unit that fails commits nothing): it and those after
//     it are done, not applied, with the error as their note, and ApplyNow returns it for
//     the source to be told (and to send again);
//   - a process that dies part-way, or a store that fails to record an applied event:
//     what is not recorded stays leased, and a worker claims it once the lease passes
//     and applies it (applying twice changes nothing; an event older than one applied
//     since is skipped). So a change a source sent reaches emfa's store and the vendors
//     even when the source was never answered.
func (q *Queue) ApplyNow(ctx context.Context, evs ...provider.LifecycleEvent) error {
	return q.applyNow(ctx, evs, func(ctx context.Context, seqs []int64, owner string) (int, error) {
		for i, ev := range evs {
			if ev.Type == provider.EventUserDelete {
				// Counted again, and recorded, with a worker's or another replica's
				// deletions under way beside it (applyNow asked before it queued it).
				if err := q.allowDelete(ctx, ev.Source, seqs[i], owner); err != nil {
					return i, err
				}
			}
			if err := q.Applier.Apply(ctx, ev); err != nil {
				return i, err
			}
			// A user change moved them in its commit (withMarks); this moves those of
			// what writes none (a deletion, a group's), and moves none back.
			if err := q.Store.MarkKeys(ctx, ev.Time, marks(ev)...); err != nil {
				return -1, err // applied: the worker applies it again once the lease passes
			}
		}
		return len(evs), nil
	})
}

// ApplyGroupNow applies w as one step (Applier.ApplyGroup), for the propagators as
// ApplyNow does: its events are queued, leased to this call, then applied together, all
// of them or none (a refusal or a conflict is every event's note, done, not applied).
// The write's commit records its events applied, and moves their ordering marks: a
// worker that takes them over after a kill propagates them when it committed, and
// refuses them otherwise.
func (q *Queue) ApplyGroupNow(ctx context.Context, w GroupWrite) error {
	// Whole: a worker that takes them over after a kill never applies them one by one.
	w.Events = slices.Clone(w.Events)
	for i := range w.Events {
		w.Events[i].Whole = true
	}
	return q.applyNow(ctx, w.Events, func(ctx context.Context, seqs []int64, owner string) (int, error) {
		w.seqs, w.owner = seqs, owner
		// In the write's commit, not one MarkKeys commit an event: 5,000 of them took
		// 7 s of SCIM's 10. The events are dated by now (applyNow).
		w.marks = nil
		for _, ev := range w.Events {
			for _, key := range marks(ev) {
				w.marks = append(w.marks, store.Mark{Key: key, Time: ev.Time})
			}
		}
		if err := q.Applier.ApplyGroup(ctx, w); err != nil {
			return 0, err
		}
		return len(w.Events), nil
	})
}

// applyNow queues evs leased to this call and runs apply, which applies them and says
// how many it applied before the error it returns: those from there on are done, not
// applied, with the error as their note. -1: they were applied, their marks not
// recorded, and they stay leased for a worker.
func (q *Queue) applyNow(ctx context.Context, evs []provider.LifecycleEvent, apply func(ctx context.Context, seqs []int64, owner string) (int, error)) error {
	q.init()
	now := q.now()
	for i := range evs {
		if evs[i].Type == provider.EventUserDelete {
			if err := q.AllowDelete(ctx, evs[i].Source, 0); err != nil {
				return err
			}
		}
	}
	rows, err := q.received(ctx, evs, now) // dated on receipt: SCIM's carry no time
	if err != nil {
		return err
	}
	owner := builtin.NewID()
	seqs, err := q.Store.EnqueueLeased(ctx, rows, owner, now.Add(q.Lease), now)
	if err != nil {
		return err
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	if i, err := apply(ctx, seqs, owner); err != nil {
		if i < 0 {
			return err
		}
		note := err.Error()
		if !errors.As(err, new(*Skipped)) {
			note = "not applied: " + note
		}
		for j, seq := range seqs[i:] {
			q.settle(seq, owner, func() error {
				err := q.Store.FinishEvent(ctx, seq, owner, store.QueueDone, truncate(note, 500), false, time.Time{}, q.now())
				q.observed(rows[i+j].Source, OutcomeSkipped, err)
				return err
			})
		}
		return err
	}
	// All in one commit, not one an event: a group write's 5,000 took seconds of SCIM's 10.
	applied := make([]store.AppliedEvent, 0, len(seqs))
	of := make([]int, 0, len(seqs)) // applied[k] is evs[of[k]]
	for i, seq := range seqs {
		rows[i].Seq = seq
		props, err := q.propagations(ctx, rows[i], evs[i])
		if err != nil {
			q.settle(seq, owner, func() error { return err })
			continue
		}
		applied = append(applied, store.AppliedEvent{Seq: seq, Props: props})
		of = append(of, i)
	}
	err = q.Store.FinishAppliedEvents(ctx, owner, applied, q.now())
	if errors.Is(err, store.ErrConflict) {
		// A worker took one over (this call's lease passed), and the commit finished none:
		// each of the others is finished on its own, the one taken over left to its worker.
		for k, e := range applied {
			q.settle(e.Seq, owner, func() error {
				err := q.Store.FinishApplied(ctx, e.Seq, owner, e.Note, e.Props, q.now())
				q.observed(rows[of[k]].Source, OutcomeApplied, err)
				return err
			})
		}
	} else {
		if err != nil && len(applied) > 0 {
			q.settle(applied[0].Seq, owner, func() error { return fmt.Errorf("%d events from this one: %w", len(applied), err) })
		}
		for _, i := range of {
			q.observed(rows[i].Source, OutcomeApplied, err)
		}
	}
	q.wakePropagators()
	return nil
}

// settle records what ApplyNow made of its event seq. A failure is logged, not returned:
// what the source is told is decided already, and an event still leased is a worker's
// when the lease passes (it applies it again, which changes nothing, or skips it).
func (q *Queue) settle(seq int64, owner string, record func() error) {
	if err := record(); err != nil {
		q.Log.Warn("sync event handled at once, not recorded; a worker takes it over when its lease passes",
			"seq", seq, "owner", owner, "err", err)
	}
}

// Wake tells this process's worker that events are waiting.
func (q *Queue) Wake() { wake(q.wake) }

func (q *Queue) wakePropagators() {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	for _, s := range q.slotsLocked() {
		wake(s.wake)
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ErrPaused: the source is paused (its deletion guard tripped) until an operator resumes it.
var ErrPaused = errors.New("source paused: too many deletions; resume it with emfa sync resume")

// resumeMark names the mark of a source's last resumption (Resume).
func resumeMark(source string) string { return "resume:" + source }

// paused says whether source is paused.
func (q *Queue) paused(ctx context.Context, source string) (bool, error) {
	ps, err := q.Store.ListPauses(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ps, func(p store.SourcePause) bool { return p.Source == source }), nil
}

// AllowDelete is the deletion guard, for a deletion of source queued as seq (0: not queued
// yet): it pauses source, and says so, when it has deleted MaxDeletesPerHour users in the
// last hour. An operator's resumption approves the deletions queued before it, and the
// guard counts afresh from it: only deletions queued since count. Before and since are
// in the order the store took them (store.SyncQueue.ResumedAfter), not by the clocks of
// the replicas that queued them and the one that resumed: by those, a resumption on a
// replica whose clock is ahead approved, uncounted, every deletion queued elsewhere
// until the other replicas' clocks reached its time. A deletion queued (seq) is counted
// and recorded allowed in one commit (store.SyncQueue.AllowApplying): the limit holds
// across replicas.
func (q *Queue) AllowDelete(ctx context.Context, source string, seq int64) error {
	return q.allowDelete(ctx, source, seq, q.Owner)
}

// allowDelete is AllowDelete for a deletion queued as seq leased to owner.
func (q *Queue) allowDelete(ctx context.Context, source string, seq int64, owner string) error {
	if paused, err := q.paused(ctx, source); err != nil {
		return err
	} else if paused {
		return ErrPaused
	}
	resumed, err := q.Store.ResumedAfter(ctx, source)
	if err != nil {
		return err
	}
	if seq > 0 && seq <= resumed {
		return nil // held when the operator resumed the source, and so approved
	}
	maxDeletes := q.Limits().MaxDeletesPerHour
	if maxDeletes < 0 {
		return nil
	}
	now := q.now()
	var n int
	if seq == 0 {
		n, err = q.Store.CountApplied(ctx, source, provider.EventUserDelete, now.Add(-time.Hour), resumed)
	} else {
		// The count and the deletion's record in one commit, one replica's after the
		// other's: counted first and recorded when applied, two replicas (or a worker and
		// a SCIM DELETE) at the last deletion allowed each counted one under the limit,
		// and both deleted.
		var ok bool
		n, ok, err = q.Store.AllowApplying(ctx, seq, owner, source, provider.EventUserDelete, now.Add(-time.Hour), resumed, maxDeletes, now)
		if ok && err == nil {
			return nil
		}
	}
	if err != nil {
		return err
	}
	if n < maxDeletes {
		return nil
	}
	reason := fmt.Sprintf("%d users deleted in the last hour (sync.maxDeletesPerHour is %d)", n, maxDeletes)
	// The pause and its record in one commit: the trail shows when the guard stopped the
	// source, as it shows who resumed it.
	at := q.Now() // a record's time, as this process dates its others
	ev := lifecycle.AdminEvent(at, lifecycle.Actor("sync:"+source), lifecycle.ActionSyncPause, "", "", "SUCCESS", reason)
	ev.RequestID = lifecycle.RequestID(ctx) // the request whose deletion tripped it, if any
	if err := q.Store.PauseSource(ctx, store.SourcePause{Source: source, Reason: reason, CreatedAt: at}, ev); err != nil {
		return err
	}
	q.Log.Error("sync source paused: deletion guard", "source", source, "reason", reason, "resume", "emfa sync resume "+source)
	return ErrPaused
}

// Run works until ctx ends: the worker that applies events, and one per propagator that
// carries them to its vendor (SwapPropagators starts and stops those of the targets it
// adds and removes). It returns once every one of them has stopped.
func (q *Queue) Run(ctx context.Context) {
	q.init()
	q.pmu.Lock()
	q.runCtx = ctx
	for i := range q.slotsLocked() {
		if q.props.ps[i] != nil {
			q.startLocked(i)
		}
	}
	q.pmu.Unlock()
	// The finished events, and the ordering marks past KeepMarks, are purged once an
	// hour, a batch at a time: a full batch is followed by another at the next turn,
	// until the purge has caught up, so that a source sending more than a batch an hour
	// does not grow the queue without bound, nor a directory's churn the marks, and the
	// worker applies events between the batches.
	lastPurge, purging := time.Time{}, false
	q.loop(ctx, nil, q.wake, "sync queue", func(ctx context.Context) (int, error) {
		n, err := q.RunOnce(ctx)
		// A clock that drifts from the store's as the worker runs, not only one off when
		// the store was opened, is said in the log: the store reads its clock at most
		// every store.ClockCheckEvery.
		if w, ok := q.Store.(store.ClockWitness); ok {
			if cerr := w.CheckClock(ctx); cerr != nil && ctx.Err() == nil {
				q.Log.Warn("sync: the store's clock not compared with this process's", "err", cerr)
			}
		}
		if now := q.now(); purging || now.Sub(lastPurge) > time.Hour {
			if !purging {
				lastPurge = now
			}
			marks, merr := q.Store.DeleteMarks(ctx, now.Add(-q.KeepMarks), q.PurgeBatch)
			if merr != nil && ctx.Err() == nil {
				q.Log.Warn("sync marks purge", "err", merr)
			}
			m, err := q.Store.DeleteDoneEvents(ctx, now.Add(-q.KeepDone), q.PurgeBatch)
			if err != nil && ctx.Err() == nil {
				q.Log.Warn("sync queue purge", "err", err)
			}
			purging = err == nil && m >= q.PurgeBatch || merr == nil && marks >= q.PurgeBatch
		}
		return n, err
	})
	q.pmu.Lock()
	q.runCtx = nil // a swap from now on starts no worker
	q.pmu.Unlock()
	q.workers.Wait()
}

// loop runs once until ctx ends or stop is closed: again at once while it finds work, else
// at the next poll or wake.
func (q *Queue) loop(ctx context.Context, stop <-chan struct{}, wake <-chan struct{}, what string, once func(context.Context) (int, error)) {
	t := time.NewTicker(q.Poll)
	defer t.Stop()
	for {
		n, err := once(ctx)
		if err != nil && ctx.Err() == nil {
			q.Log.Error(what, "err", err)
		}
		if n > 0 && err == nil {
			select {
			case <-stop:
				return
			default:
				continue // more may be waiting
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		case <-wake:
		}
	}
}

// RunOnce claims one batch of events and applies it; it returns how many events it
// finished. It calls no vendor: their propagations are queued (PropagateOnce).
func (q *Queue) RunOnce(ctx context.Context) (int, error) {
	q.init()
	claimed := q.now()
	evs, err := q.Store.ClaimEvents(ctx, q.Owner, q.Batch, claimed, claimed.Add(q.Lease), claimed.Add(-q.Limits().Settle))
	if err != nil {
		return 0, err
	}
	done := 0
	for k, e := range evs {
		if ctx.Err() != nil {
			q.giveBack(ctx, evs[k:])
			return done, nil
		}
		// The batch shares one lease, which slow applies before this one may have
		// outlived: another replica may then have claimed this one and be applying it.
		// Past half the lease, it is begun only under a lease taken again, from now (as
		// PropagateOnce does); before, the claim's leaves it that half at least, and a
		// batch of quick applies writes nothing more.
		if now := q.now(); k > 0 && now.Sub(claimed) > q.Lease/2 {
			err := q.Store.RenewEvent(ctx, e.Seq, q.Owner, now.Add(q.Lease), now)
			if errors.Is(err, store.ErrConflict) {
				continue // another worker's now
			}
			if err != nil {
				q.giveBack(ctx, evs[k:]) // claimable again at once, not when the lease passes
				return done, err
			}
		}
		if err := q.processRecovered(ctx, e); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// eventLog is the log of e's processing.
func (q *Queue) eventLog(e store.QueuedEvent) *slog.Logger {
	return q.Log.With("source", e.Source, "event_id", e.EventID, "type", e.Type, "seq", e.Seq)
}

// processRecovered is process, an event whose processing panicked failed (panicked)
// and retried as any failure: the batch goes on with the next.
func (q *Queue) processRecovered(ctx context.Context, e store.QueuedEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log := q.eventLog(e)
			err = q.retry(ctx, e, panicked(log, "applying the event", r), log)
		}
	}()
	return q.process(ctx, e, 1)
}

// PropagateOnce claims one batch of propagator i's propagations and carries them to its
// vendor; it returns how many it finished.
// A target removed (SwapPropagators) claims nothing; what it had claimed and not begun when
// it was removed is given back, untried.
func (q *Queue) PropagateOnce(ctx context.Context, i int) (int, error) {
	q.init()
	if !q.active(i) {
		return 0, nil
	}
	now := q.now()
	if now.Before(q.busyUntil(i)) {
		return 0, nil // the vendor is rate-limiting: nothing more until it said, or the backoff
	}
	// Another replica's worker may have been refused: the hold is in the store, for every
	// replica (vendorBusy). One further off than any refusal holds (longestHold) was
	// written by a replica whose clock is ahead: the mark only moves forward, and no
	// restart or command lifts it, so it would hold every replica until that clock's
	// time. It is left to that replica, which holds by its own clock.
	if until, err := q.Store.KeyMark(ctx, busyMark(q.target(i))); err != nil {
		return 0, err
	} else if now.Before(until) && !until.After(now.Add(q.longestHold())) {
		q.holdTarget(i, until)
		return 0, nil
	}
	evs, err := q.Store.ClaimPropagations(ctx, q.target(i), q.Owner, q.Batch, now, now.Add(q.Lease))
	if err != nil {
		return 0, err
	}
	done := 0
	for k, e := range evs {
		if !q.active(i) || ctx.Err() != nil {
			q.giveBack(ctx, evs[k:])
			return done, nil
		}
		// The batch shares one lease, which a slow vendor's propagations before this one
		// may have outlived: another replica may then have claimed this one and be
		// carrying it out. It is begun only under a lease taken again, from now (a look-up
		// then create run twice at once makes two objects at the vendor).
		if k > 0 {
			now := q.now()
			err := q.Store.RenewEvent(ctx, e.Seq, q.Owner, now.Add(q.Lease), now)
			if errors.Is(err, store.ErrConflict) {
				continue // another worker's now
			}
			if err != nil {
				return done, err
			}
		}
		if err := q.propagate(ctx, i, e); err != nil {
			return done, err
		}
		done++
		if q.now().Before(q.busyUntil(i)) {
			// The vendor refused it for now: the rest of the batch, sent now, would be
			// refused in turn, each an attempt spent and a call the vendor counts
			// against its limit. Given back untried, claimed once it is due again.
			q.giveBack(ctx, evs[k+1:])
			return done, nil
		}
	}
	return done, nil
}

// busyUntil is when target i's vendor, which refused a propagation for now, is tried
// again (zero: it did not).
func (q *Queue) busyUntil(i int) time.Time {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	return q.slotsLocked()[i].busyUntil
}

// busyMark names the mark that holds target's workers, on every replica, until the
// propagation its vendor refused for now is due again (vendorBusy).
func busyMark(target string) string { return "vendor.busy:" + target }

// vendorBusy holds target i's workers until until: its vendor refused a propagation for
// now, due again then. This process's at once, the other replicas' by the store's mark,
// which they read before each claim: else each of them went on sending the vendor what
// it claimed, each call refused, an attempt spent and counted by the vendor against its
// limit. A failure to write the mark is logged: this worker holds all the same.
func (q *Queue) vendorBusy(ctx context.Context, i int, until time.Time) {
	q.holdTarget(i, until)
	ctx, cancel := detach(ctx)
	defer cancel()
	if err := q.Store.MarkKeys(ctx, until, busyMark(q.target(i))); err != nil {
		q.Log.Warn("sync: the vendor's hold not shared with the other replicas", "target", q.target(i), "err", err)
	}
}

// longestHold is the longest hold a refusal asks (vendorBusy: its backoff, or what the
// vendor said, at most MaxRetryAfter), with the skew allowed between replicas' clocks.
func (q *Queue) longestHold() time.Duration {
	return max(MaxRetryAfter, q.Backoff(q.Limits().MaxAttempts)) + MaxFutureSkew
}

// holdTarget holds this process's worker of target i until until.
func (q *Queue) holdTarget(i int, until time.Time) {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	if s := q.slotsLocked()[i]; until.After(s.busyUntil) {
		s.busyUntil = until
	}
}

// giveBack releases evs, claimed and not begun: a target removed since, or the worker
// stopping (serve's shutdown), whose batch the next worker claims at once rather than
// once its lease has passed.
// One grace for the whole batch: a store that stopped answering holds a shutdown once,
// not once per event.
func (q *Queue) giveBack(ctx context.Context, evs []store.QueuedEvent) {
	ctx, cancel := detach(ctx)
	defer cancel()
	for _, e := range evs {
		if !q.releaseIn(ctx, e) {
			return // the rest wait for their lease, as a killed worker's do
		}
	}
}

// release gives back e, claimed for a target removed since (or by a worker stopping),
// untried: it stays pending, for the target's return. A failure is logged: the lease
// passes anyway.
func (q *Queue) release(ctx context.Context, e store.QueuedEvent) {
	ctx, cancel := detach(ctx)
	defer cancel()
	q.releaseIn(ctx, e)
}

// releaseIn is release in ctx, detached already; false when the store failed.
func (q *Queue) releaseIn(ctx context.Context, e store.QueuedEvent) bool {
	if err := q.Store.ReleaseEvent(ctx, e.Seq, q.Owner, e.Applied); err != nil && !errors.Is(err, store.ErrConflict) {
		q.Log.Warn("sync event not given back; it is claimable again when its lease passes",
			"seq", e.Seq, "source", e.Source, "err", err)
		return false
	}
	return true
}

// Drain runs until no event and no propagation is due (tests, benchmarks, `emfa sync
// drain`); it returns how many of them it finished.
func (q *Queue) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := q.RunOnce(ctx)
		total += n
		if err != nil {
			return total, err
		}
		for i := range q.targets() {
			m, err := q.PropagateOnce(ctx, i)
			total += m
			if err != nil {
				return total, err
			}
			n += m
		}
		if n == 0 {
			return total, nil
		}
	}
}

// overtakenTries bounds how often process checks an event's order and applies it again
// when another change of its user (an operator's) lands between the check and the write.
const overtakenTries = 5

// process handles one claimed event, try counting from 1 the times its apply was
// overtaken (overtakenTries); it returns an error only when the queue itself fails.
func (q *Queue) process(ctx context.Context, e store.QueuedEvent, try int) error {
	log := q.eventLog(e)
	var ev provider.LifecycleEvent
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		return q.finish(ctx, e, OutcomeDead, store.QueueDead, "undecodable event: "+err.Error(), false)
	}
	// An event with a field, a type or a state this version does not know was queued by a
	// newer replica (during an upgrade): applied or propagated here it would lose what it
	// says, or be refused for good, so it waits, as a failure does, for a replica that
	// reads it whole.
	if why := newer(e.Body, ev); why != "" {
		return q.retry(ctx, e, errors.New("queued by a newer version of emfa, left for a replica that reads it whole: "+why), log)
	}
	applied := e.Applied
	// The user as the order is checked: the apply is made on this revision, so that a
	// change that lands between the check and the write (an operator's, which moves the
	// marks in its own commit) is not undone by an older event, which is checked again.
	rev, err := q.revisionOf(ctx, ev, applied)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	// What of it is older than what was applied since is left out: of the apply, and of
	// the propagation too (a newer change was, or will be, propagated on its own).
	ev, ok, partly, err := q.current(ctx, ev)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	if !ok && ev.Type == provider.EventUserDelete && !applied {
		return q.lateDelete(ctx, e, ev, log)
	}
	if !ok {
		logSkip(log, ev, "older than an event already applied")
		return q.finish(ctx, e, OutcomeSkipped, store.QueueDone, "skipped: older than an event already applied", applied)
	}
	if partly != "" {
		log.Info("sync event applied in part", "reason", partly)
	}
	if applied && ev.Whole {
		// A group write's commit recorded it applied, and its marks with it
		// (store.GroupChange.Marks); an older version's recorded them after, and its
		// process may have ended before. MarkKeys never moves a mark back: again, it
		// changes nothing.
		if err := q.Store.MarkKeys(ctx, ev.Time, marks(ev)...); err != nil {
			return q.retry(ctx, e, err, log)
		}
	}
	// Its records carry the id of the request that queued it, as they would had it been
	// applied then.
	ctx = lifecycle.WithRequestID(ctx, ev.RequestID)
	if !applied && ev.Type == provider.EventUserMFAReset {
		if later, err := q.laterReset(ctx, e); err != nil {
			return q.retry(ctx, e, err, log)
		} else if later != 0 {
			note := fmt.Sprintf("skipped: a later reset of the user, queued (seq %d), resets all this one would", later)
			logSkip(log, ev, note)
			return q.finish(ctx, e, OutcomeSkipped, store.QueueDone, note, false)
		}
	}
	if !applied {
		if e.Type == provider.EventUserDelete {
			if err := q.AllowDelete(ctx, e.Source, e.Seq); errors.Is(err, ErrPaused) {
				return q.Store.ReleaseEvent(ctx, e.Seq, q.Owner, false)
			} else if err != nil {
				return q.retry(ctx, e, err, log)
			}
		}
		aev := ev
		if rev != nil {
			aev.IfRevision = rev
		}
		err := q.Applier.apply(ctx, aev, true)
		var sk *Skipped
		if rev != nil && overtakenBy(err) {
			if try < overtakenTries {
				return q.process(ctx, e, try+1)
			}
			return q.retry(ctx, e, err, log) // overtaken still: later, never skipped
		}
		if errors.As(err, &sk) && awaitsUser(ev, sk) && q.now().Before(e.CreatedAt.Add(UserWait)) {
			return q.hold(ctx, e, ev, log)
		}
		if errors.As(err, &sk) {
			logSkip(log, ev, sk.Reason)
			return q.finish(ctx, e, OutcomeSkipped, store.QueueDone, sk.Error(), false)
		}
		if err != nil {
			return q.retry(ctx, e, err, log)
		}
		// As ApplyNow: a user change moved them in its commit already.
		if err := q.Store.MarkKeys(ctx, ev.Time, marks(ev)...); err != nil {
			return q.retry(ctx, e, err, log)
		}
	}
	// Done, and its propagations queued, in one commit: a process killed before it
	// applies the event again once the lease passes (which changes nothing), so no
	// propagation is lost.
	props, err := q.propagations(ctx, e, ev)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	return q.finishApplied(ctx, e, partly, props, log)
}

// revisionOf is the revision of ev's user, for ev to be applied on (nil: as it comes): an
// update, a state change, a membership or a deletion, not applied yet, that names no
// revision of its own, of a user that exists. A deletion of a user that does not exist
// is made on revision 0, which no user created since has (its first is 1): made on
// none, it deleted the user a newer create made between its check and its write, or
// after a newer create of the user who exists (whose revision that create moves,
// lifecycle.UserInput.Marks).
func (q *Queue) revisionOf(ctx context.Context, ev provider.LifecycleEvent, applied bool) (*int64, error) {
	switch ev.Type {
	case provider.EventUserUpdate, provider.EventUserDisable, provider.EventUserEnable,
		provider.EventGroupMemberAdd, provider.EventGroupMemberRemove, provider.EventUserDelete:
	default:
		return nil, nil
	}
	if applied || ev.IfRevision != nil || ev.Username == "" {
		return nil, nil
	}
	u, err := q.Applier.M.GetUser(ctx, ev.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Kind == lifecycle.NotFound {
		if ev.Type == provider.EventUserDelete {
			return new(int64), nil
		}
		return nil, nil // the apply says so
	}
	if err != nil {
		return nil, err
	}
	return &u.Revision, nil
}

// overtakenBy reports whether err is the refusal of an apply made on a revision another
// change overtook.
func overtakenBy(err error) bool {
	var le *lifecycle.Error
	return errors.As(err, &le) && le.Code == lifecycle.CodeChanged
}

// laterReset is the seq of a reset of e's user queued after e in its order, 0 when none:
// Okta Classic sends one user.mfa.factor.reset_all per internal factor of one reset, and
// each applied and propagated would reset the user at a vendor again (DUO: its devices
// deleted, or its user deleted and created again, each time). The later one resets every
// factor enrolled before it, a superset of what e would, and is propagated, so e is one
// with it.
//
// It reads the user's pending resets alone, all of them: a thousand of the user's other
// events listed first hid the later reset.
func (q *Queue) laterReset(ctx context.Context, e store.QueuedEvent) (int64, error) {
	var later int64
	err := q.eachEvent(ctx, store.QueueFilter{State: store.QueuePending, Key: e.Key, Types: []string{provider.EventUserMFAReset}},
		func(l store.QueuedEvent) bool {
			if l.Seq != e.Seq && (l.Time.After(e.Time) || l.Time.Equal(e.Time) && l.Seq > e.Seq) {
				later = l.Seq
			}
			return later == 0
		})
	return later, err
}

// finishApplied records e done, applied, with note, and queues props in the same commit.
func (q *Queue) finishApplied(ctx context.Context, e store.QueuedEvent, note string, props []store.QueuedEvent, log *slog.Logger) error {
	fctx, cancel := detach(ctx)
	defer cancel()
	err := q.Store.FinishApplied(fctx, e.Seq, q.Owner, note, props, q.now())
	if errors.Is(err, store.ErrConflict) {
		return q.lost(e, err, log)
	}
	if err == nil {
		q.observe(e.Source, OutcomeApplied)
		q.wakePropagators()
	}
	return err
}

// UserWait is how long, from its receipt, an event of a user emfa does not have waits for
// that user's create before it is skipped: sources deliver late and out of order (Okta:
// "order by published"), and a suspension or a membership that came before its user's
// create must not be lost, leaving the user active with no groups once the create comes.
// The create, dated earlier, is its key's head when it comes (the queue applies a user's
// events in their order), and the waiting event applies after it, within userWaitStep.
// An event of a user who never comes (a directory's user outside emfa) is skipped then,
// and its key's later events, received as early, at once after it.
const UserWait = 5 * time.Minute

// userWaitStep is how often an event waiting for its user is tried again.
const userWaitStep = 30 * time.Second

// awaitsUser reports whether ev was refused because its user does not exist: an event a
// late create may come before. A create needs none; a delete of nobody is done.
func awaitsUser(ev provider.LifecycleEvent, sk *Skipped) bool {
	switch ev.Type {
	case provider.EventUserUpdate, provider.EventUserDisable, provider.EventUserEnable, provider.EventUserMFAReset,
		provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
	default:
		return false
	}
	var le *lifecycle.Error
	return errors.As(sk, &le) && le.Kind == lifecycle.NotFound && le.Field == "user"
}

// hold puts e back to wait for its user's create (UserWait): not an attempt, and no
// outcome, for it has not finished; its note says what it waits for.
func (q *Queue) hold(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent, log *slog.Logger) error {
	now, until := q.now(), e.CreatedAt.Add(UserWait)
	next := now.Add(userWaitStep)
	if next.After(until) {
		next = until
	}
	log.Debug("sync event waits for its user's create", "until", until)
	ctx, cancel := detach(ctx)
	defer cancel()
	note := fmt.Sprintf("waiting until %s for a create of %s, which may come late", until.UTC().Format(time.RFC3339), ev.Username)
	err := q.Store.HoldEvent(ctx, e.Seq, q.Owner, truncate(note, 500), next, now)
	if errors.Is(err, store.ErrConflict) {
		return q.lost(e, err, log)
	}
	return err
}

// logSkip logs an event skipped: at WARN one that would have cut a user off (a disable, a
// delete), for an operator to see.
func logSkip(log *slog.Logger, ev provider.LifecycleEvent, reason string) {
	if cutsOff(ev) {
		log.Warn("sync event skipped", "user", ev.Username, "reason", reason)
		return
	}
	log.Info("sync event skipped", "reason", reason)
}

func cutsOff(ev provider.LifecycleEvent) bool {
	return ev.Type == provider.EventUserDisable || ev.Type == provider.EventUserDelete ||
		ev.Type == provider.EventUserUpdate && ev.State == provider.StateDisabled ||
		ev.Type == provider.EventUserCreate && ev.Disabled
}

// lateDelete applies a deletion delivered after a newer create of the same name (Okta:
// "late and out of order"): the user emfa has is the one created since, so the deletion
// is not skipped as older but applied as of its time. What it would have removed had it
// come in order goes: the factors enrolled before it, with the self-service sessions begun
// and a link issued before it (lifecycle.Manager.ResetUserBefore), and the group
// memberships last changed before it. The vendors are sent the deletion, then the user
// as emfa has it now, created again with its groups: the new user must not inherit the
// old account's phones and devices. A deletion of a user deleted since, or of one emfa
// created after the deletion (an admin's create, a create applied in order after it), has
// nothing of the deleted user to remove, and is skipped as older.
func (q *Queue) lateDelete(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent, log *slog.Logger) error {
	u, err := q.Applier.M.GetUser(ctx, ev.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Kind == lifecycle.NotFound || err == nil && !u.Created.Before(ev.Time) {
		logSkip(log, ev, "older than an event already applied")
		return q.finish(ctx, e, OutcomeSkipped, store.QueueDone, "skipped: older than an event already applied", false)
	}
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	if err := q.AllowDelete(ctx, e.Source, e.Seq); errors.Is(err, ErrPaused) {
		return q.Store.ReleaseEvent(ctx, e.Seq, q.Owner, false)
	} else if err != nil {
		return q.retry(ctx, e, err, log)
	}
	ctx = lifecycle.WithRequestID(ctx, ev.RequestID)
	latest, err := q.Applier.purgeBefore(ctx, ev, u)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	again, err := q.Applier.M.CreationEvents(ctx, u.Name)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	props, err := q.propagations(ctx, e, ev)
	if err != nil {
		return q.retry(ctx, e, err, log)
	}
	for i, a := range again {
		// The user again, after the deletion and after every change of it applied
		// since, so that no part of it is left out as older (current).
		a.Source, a.ID, a.RequestID, a.Time = ev.Source, ev.ID, ev.RequestID, latest
		more, err := q.propagationsAs(ctx, e, a, fmt.Sprintf("/again/%d", i))
		if err != nil {
			return q.retry(ctx, e, err, log)
		}
		props = append(props, more...)
	}
	log.Warn("sync event: a deletion delivered after a newer create of the user; what it removes is removed now",
		"user", ev.Username)
	return q.finishApplied(ctx, e, "applied as of its time: the user was created again since", props, log)
}

// propagations are e's, ev as applied, one to each propagator.
func (q *Queue) propagations(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent) ([]store.QueuedEvent, error) {
	return q.propagationsAs(ctx, e, ev, "")
}

// propagationsAs are propagations of ev, one of the events e is applied as, told apart
// from e's others by suffix in their ids (a propagation is queued once by source and id).
func (q *Queue) propagationsAs(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent, suffix string) ([]store.QueuedEvent, error) {
	if q.Applier != nil && q.Applier.M != nil {
		// As applied: the vendor gets the address and number emfa stored ("+442079460958"),
		// not the directory's writing of them ("020 7946 0958").
		ev.Email, ev.Phone = q.Applier.M.AsStored(ctx, ev.Username, ev.Email, ev.Phone, ev.Country)
	}
	var props []store.QueuedEvent
	var body []byte
	for _, t := range q.targets() {
		if t == "" {
			continue // removed
		}
		if body == nil {
			var err error
			if body, err = json.Marshal(ev); err != nil {
				return nil, err
			}
		}
		props = append(props, store.QueuedEvent{Source: store.PropagationSource(t), EventID: e.Source + ":" + e.EventID + suffix,
			Key: store.PropagationKey(t, e.Key), Type: e.Type, Time: ev.Time, Body: body, Applied: true, Groups: groupNames(ev)})
	}
	return props, nil
}

// Propagations are the propagations of ev, a change of a user made outside the queue (the
// admin API's, the CLI's: lifecycle.Propagation), one to each propagator, none without
// one: those FinishApplied queues for an event applied, for the change's own commit to
// queue (store.UserChange.Queue). ev needs its source, id and time.
func (q *Queue) Propagations(ctx context.Context, ev provider.LifecycleEvent) ([]store.QueuedEvent, error) {
	if ev.Source == "" || ev.ID == "" || ev.Time.IsZero() {
		return nil, fmt.Errorf("sync: a %s to propagate needs its source, id and time", ev.Type)
	}
	props, err := q.propagations(ctx, store.QueuedEvent{Source: ev.Source, EventID: ev.ID, Key: keyOf(ev), Type: ev.Type}, ev)
	// Queued by the queue's clock, not the change's (this process's): on a replica whose
	// clock is ahead of the store's, the change's propagation was due, to every replica's
	// worker, only once the store's clock reached this one's.
	now := q.now()
	for i := range props {
		props[i].CreatedAt = now
	}
	return props, err
}

// newer says what, in an event's body, this version does not know; "" when it knows all.
func newer(body []byte, ev provider.LifecycleEvent) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(new(provider.LifecycleEvent)); err != nil {
		return err.Error()
	}
	if !provider.KnownEventType(ev.Type) {
		return fmt.Sprintf("event type %q", ev.Type)
	}
	if ev.State != "" && ev.State != provider.StateActive && ev.State != provider.StateDisabled {
		return fmt.Sprintf("user state %q", ev.State)
	}
	return ""
}

// finish records e finished in state, with note, and tells Observe of outcome once the
// store has it.
func (q *Queue) finish(ctx context.Context, e store.QueuedEvent, outcome, state, note string, applied bool) error {
	// What was done is recorded even when the worker is stopping.
	ctx, cancel := detach(ctx)
	defer cancel()
	err := q.Store.FinishEvent(ctx, e.Seq, q.Owner, state, note, applied, time.Time{}, q.now())
	if errors.Is(err, store.ErrConflict) {
		return q.lost(e, err, q.Log)
	}
	q.observed(e.Source, outcome, err)
	return err
}

// observe tells Observe, when set, of an outcome of an event of source.
func (q *Queue) observe(source, outcome string) {
	if q.Observe != nil {
		q.Observe(source, outcome)
	}
}

// observed is observe once the store recorded the outcome (err nil).
func (q *Queue) observed(source, outcome string, err error) {
	if err == nil {
		q.observe(source, outcome)
	}
}

// lost: another worker took the event over after this one's lease passed; it will apply
// it again, which changes nothing.
func (q *Queue) lost(e store.QueuedEvent, err error, log *slog.Logger) error {
	log.Warn("sync event lease lost", "seq", e.Seq, "err", err)
	return nil
}

// MaxRetryAfter is the longest a propagation waits because its vendor said so (a 429's
// or a 503's Retry-After), whatever the vendor says: an answer asking for a day, or a
// year, does not hold the user's later propagations that long.
const MaxRetryAfter = time.Hour

// retryAfter is a failure of a vendor that refused the call for now, saying how long to
// wait before the next attempt (0: it did not say): a 429, or a 503 with Retry-After (the
// remote engine's lifecycle call).
type retryAfter interface {
	error
	RetryAfter() time.Duration
}

// wait is how long an event waits after its nth attempt failed with cause: its backoff,
// or what cause says to wait (retryAfter) when that is longer, at most MaxRetryAfter.
// The vendor said when to come back: asked again sooner, it refuses again, and the
// propagation spends its attempts, then is a dead letter, while the vendor is only busy.
func (q *Queue) wait(n int, cause error) time.Duration {
	wait := q.Backoff(n)
	var busy retryAfter
	if errors.As(cause, &busy) {
		wait = max(wait, min(busy.RetryAfter(), MaxRetryAfter))
	}
	return wait
}

// retry counts a failure: the event waits its backoff (or, when longer, what the failure
// says to wait, at most MaxRetryAfter), or becomes a dead letter.
func (q *Queue) retry(ctx context.Context, e store.QueuedEvent, cause error, log *slog.Logger) error {
	if errors.Is(cause, errTargetRemoved) {
		// Not an attempt: the propagation waits, pending, for its target's return.
		q.release(ctx, e)
		return nil
	}
	if ctx.Err() != nil {
		// The worker is stopping (serve's shutdown): what failed with it was cut short,
		// not refused. Given back untried, claimable at once by the next worker, rather
		// than an attempt with a backoff, and, at the last attempt, a dead letter.
		log.Info("sync: worker stopping: event given back untried", "err", cause)
		q.release(ctx, e)
		return nil
	}
	n := e.Attempts + 1
	now := q.now()
	state, next, outcome := store.QueuePending, now.Add(q.wait(n, cause)), OutcomeRetry
	if n >= q.Limits().MaxAttempts {
		state, outcome = store.QueueDead, OutcomeDead
		log.Error("sync event dead-lettered", "attempts", n, "err", cause)
	} else {
		log.Warn("sync event failed; will retry", "attempts", n, "retry_at", next, "err", cause)
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	err := q.Store.FinishEvent(ctx, e.Seq, q.Owner, state, truncate(cause.Error(), 500), e.Applied, next, now)
	if errors.Is(err, store.ErrConflict) {
		return q.lost(e, err, log)
	}
	q.observed(e.Source, outcome, err)
	return err
}

// detach is ctx without its cancelation, for what is written even when the caller has
// gone away or the worker is stopping, yet bounded, so that a store that stopped answering
// holds neither the goroutine and its connection nor a shutdown forever: by ctx's deadline
// and provider.WriteGrace (provider.Detach), or, for the worker's context, which has no
// deadline, WriteGrace after it ends. A live worker's writes are not cut short: they wait
// for a slow store as its other calls do.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
		return provider.Detach(ctx)
	}
	d, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(provider.WriteGrace, cancel)
		context.AfterFunc(d, func() { t.Stop() })
	})
	return d, func() { stop(); cancel() }
}

// truncate is s as a note: text (a byte that is not UTF-8 replaced) of at most n bytes,
// cut on a character's boundary. PostgreSQL's text refuses anything else, and with the
// note the record of what became of the event, which then stayed leased and was tried
// again at every lease, without backoff or dead letter.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ErrNotPaused: Resume named a source that is not paused.
var ErrNotPaused = errors.New("source not paused")

// Resume lifts the deletion guard's pause of source, for actor, and approves the
// deletions it held: they apply, and the guard counts afresh from now. The resumption is
// recorded (sync.resume) in the commit that makes it. ErrNotPaused when there is none.
func (q *Queue) Resume(ctx context.Context, actor lifecycle.Actor, source string) error {
	now := q.Now()
	if paused, err := q.paused(ctx, source); err != nil {
		return err
	} else if !paused {
		return fmt.Errorf("%w: %q", ErrNotPaused, source)
	}
	// The deletions queued until now are approved (AllowDelete) in the commit that lifts
	// the pause (ResumeSource): none is claimed, counted and paused again in between. The
	// mark by this replica's clock is for replicas of a version before that, during an
	// upgrade.
	if err := q.Store.MarkKeys(ctx, now, resumeMark(source)); err != nil {
		return err
	}
	ev := lifecycle.AdminEvent(now, actor, lifecycle.ActionSyncResume, "", "", "SUCCESS", source)
	ev.RequestID = lifecycle.RequestID(ctx) // none from the CLI
	err := q.Store.ResumeSource(ctx, source, ev)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %q", ErrNotPaused, source)
	}
	if err != nil {
		return err
	}
	q.Log.Warn("sync source resumed: the deletions it held are approved", "source", source, "actor", string(actor))
	q.Wake()
	return nil
}

// RetryDead queues dead letters again (seq 0: every one), for actor, and returns how
// many; a retry that queued any is recorded (sync.retry) in the commit that makes it.
func (q *Queue) RetryDead(ctx context.Context, actor lifecycle.Actor, seq int64) (int, error) {
	what := "every dead letter"
	if seq != 0 {
		what = fmt.Sprintf("dead letter %d", seq)
	}
	ev := lifecycle.AdminEvent(q.Now(), actor, lifecycle.ActionSyncRetry, "", "", "SUCCESS", what)
	ev.RequestID = lifecycle.RequestID(ctx) // none from the CLI
	n, err := q.Store.RetryDead(ctx, seq, q.now(), ev)
	if n > 0 {
		q.Wake()
	}
	return n, err
}

// DropPending gives up, for actor, the pending events of source that no worker holds
// (store.SyncQueue.DropPending): what is queued for a vendor removed from the
// configuration (source store.PropagationSource of its target), or a flood a source sent
// by mistake. It returns how many it dropped; a drop of any is recorded (sync.drop, with
// how many) in the commit that makes it.
func (q *Queue) DropPending(ctx context.Context, actor lifecycle.Actor, source string) (int, error) {
	q.init()
	if source == "" {
		return 0, errors.New("sync: a drop of pending events names their source")
	}
	at := q.Now() // the records' time, as this process dates its others
	return q.Store.DropPending(ctx, source, "dropped by "+string(actor)+": ", q.now(), func(n int) store.AuditEvent {
		ev := lifecycle.AdminEvent(at, actor, lifecycle.ActionSyncDrop, "", "", "SUCCESS", fmt.Sprintf("%d pending event(s) of %s", n, source))
		ev.RequestID = lifecycle.RequestID(ctx) // none from the CLI
		return ev
	})
}

// Status is the queue as an operator sees it.
type Status struct {
	Counts map[string]map[string]int `json:"counts"` // source → state → events
	Paused []store.SourcePause       `json:"paused"`
}

// Status reports the queue's counts and paused sources.
func (q *Queue) Status(ctx context.Context) (Status, error) {
	c, err := q.Store.CountEvents(ctx)
	if err != nil {
		return Status{}, err
	}
	p, err := q.Store.ListPauses(ctx)
	if err != nil {
		return Status{}, err
	}
	return Status{Counts: c, Paused: p}, nil
}
