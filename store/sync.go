package store

import (
	"context"
	"time"
)

// What directory sync keeps: a durable queue of lifecycle events that the sync worker
// applies one user at a time, the sources an operator paused, and the groups SCIM
// manages. It is a port of its own, beside Store, so that only the SQL backends (which
// every deployment uses) implement it.

// Queued event states.
const (
	QueuePending = "pending"
	QueueDone    = "done"
	QueueDead    = "dead"
)

// MaxFutureSkew is how far ahead of the clock of the process that reads it a time written
// by another process may be and be taken as written. One later is the writer's clock
// running ahead (the queue's rows are written by every replica and by the CLI): an event
// queued so is due at once (ClaimEvents), and a source's event dated so is ordered at the
// time it was received (sync.MaxFutureSkew).
const MaxFutureSkew = 5 * time.Minute

// ClockWitness is a store with a clock of its own that every process shares (PostgreSQL's):
// a serve compares its clock with it as it runs (the sync worker, each turn), not only at
// open, and a clock that drifts, or is set wrong, later is said in the log.
type ClockWitness interface {
	// CheckClock compares the process's clock with the store's, at most once every
	// ClockCheckEvery by the process's clock (it reads nothing in between), and says in
	// the log (WARN) once when they come to differ by more than MaxFutureSkew.
	CheckClock(ctx context.Context) error
}

// ClockCheckEvery is how often, at most, CheckClock reads the store's clock.
const ClockCheckEvery = 10 * time.Minute

// SharedClock is a store whose clock every process shares (PostgreSQL's) and which
// measures this process's clock against it: at open, and at each look of CheckClock. The
// sync queue writes and compares its times by the store's clock so measured (this
// process's, less how far it is ahead), not by each replica's own: a lease, a backoff, a
// vendor's hold or the wait for a user's create that one replica writes and another
// compares with its clock is then one clock's, whatever the replicas' clocks say.
type SharedClock interface {
	// ClockAhead is how far this process's clock was ahead of the store's at the last
	// look (negative: behind); 0 when they are within ClockTolerance, or the look could
	// not tell them apart (within its round trip).
	ClockAhead() time.Duration
}

// ClockTolerance is how far apart a process's clock and the store's (SharedClock) may be
// and be taken as one: a replica whose clock is less ahead holds the others less long
// than that, and what the tests compare to the millisecond is left as it was dated.
const ClockTolerance = time.Second

// DropPendingBatch is how many pending events DropPending gives up in one commit.
const DropPendingBatch = 500

// QueuedEvent is one lifecycle event in the queue.
type QueuedEvent struct {
	Seq     int64
	Source  string
	EventID string // the source's id: (Source, EventID) is enqueued once
	// Key orders events: those of one key are claimed one at a time, by Time then Seq.
	Key  string
	Type string
	Time time.Time
	Body []byte // the event, JSON
	// Applied: the event is in emfa's store; only its propagation remains.
	Applied bool
	// Groups are the names of the groups the event finds at a vendor by name, at most two
	// (a rename's old and new names), recorded so that a propagation lists the pending
	// ones of its groups (QueueFilter.Groups) without reading every other group's. They
	// are written, not listed back.
	Groups   []string
	State    string
	Attempts int
	NextAt   time.Time
	Note     string // the last error, or why it was skipped
	// CreatedAt, set on an event to queue, is the time it is queued at (its created_at,
	// and its next_at and updated_at: due then) rather than the now of the call that
	// queues it: the sync queue's clock (SharedClock), for a change that another clock
	// dates (an operator's user change, store.UserChange.Queue).
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Waits reports whether e, pending, waits for its NextAt at now, as the claim (ClaimEvents,
// ClaimPropagations) sees it: its NextAt is later than now, and it is not a row its last
// writer left due (NextAt at or before UpdatedAt) at a time past now + MaxFutureSkew,
// which the claim takes as due now (the writer's clock ran ahead).
func (e QueuedEvent) Waits(now time.Time) bool {
	return e.NextAt.After(now) && (e.NextAt.After(e.UpdatedAt) || !e.NextAt.After(now.Add(MaxFutureSkew)))
}

// QueueFilter selects queued events, oldest first.
type QueueFilter struct {
	State  string   // "" any
	Source string   // "" any
	Key    string   // "" any
	Keys   []string // nil any: those of one of these keys (with Key, of both)
	Types  []string // nil any: those of one of these types
	// AfterSeq, when positive, lists those of seq above it: the page after one whose
	// last event it is (events are listed by seq).
	AfterSeq int64
	// UpTo, when set, lists those of event time at or before it.
	UpTo time.Time
	// Groups, when set, lists those that name one of these groups (QueuedEvent.Groups),
	// and those queued by a version that recorded no names (before them).
	Groups []string
	Limit  int // <= 0: 100
}

// Propagations. An event applied to emfa's store is carried to each vendor by an event of
// its own in the queue, queued in the commit that finishes the applied one (FinishApplied):
// of source PropagationSource(target), keyed by PropagationKey(target, the event's key), so
// that a vendor's failure holds back only that user's later propagations to that vendor,
// never an apply, and a process killed in between loses none.
const propagationPrefix = "propagate:"

// PropagationSource is the source of the queue's propagations to target.
func PropagationSource(target string) string { return propagationPrefix + target }

// PropagationKey orders the propagations of one key to target.
func PropagationKey(target, key string) string { return propagationPrefix + target + "/" + key }

// SourceStats is what the metrics show of one source's events in the queue (a source,
// or the propagations to a target as PropagationSource(target)): how many are pending and
// dead, when the oldest pending one was enqueued, and whether the source is paused. Done
// events are not counted: they are many, and are deleted after a while.
type SourceStats struct {
	Source        string
	Pending, Dead int
	OldestPending time.Time // the zero time when none is pending
	Paused        bool
}

// SourcePause is a source an operator must resume (the deletion guard stopped it).
type SourcePause struct {
	Source    string
	Reason    string
	CreatedAt time.Time
}

// Group is a group as SCIM names it; membership lives on the users' profiles.
type Group struct {
	ID         string
	Name       string
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Revision counts the writes to the group's record (UpdateGroup, ApplyGroupChange):
	// each adds one, and so does a change of its members made otherwise (a user change
	// through ApplyUserChanges that adds or removes the group, or deletes a member). A
	// write made on the condition that the group is still what its caller read
	// (GroupChange.IfRevision) compares it.
	Revision int64
}

// GroupChange is everything one write of a group (a SCIM POST, PUT, PATCH or DELETE)
// does, applied by ApplyGroupChange as one atomic step: all of it, or nothing.
type GroupChange struct {
	ID         string // the group written
	Name       string // its name after the write
	ExternalID string // its external id after the write
	UpdatedAt  time.Time
	// Create creates the group instead, at revision 0 (created and updated at UpdatedAt),
	// with Users its members' changes: ErrExists when its name or id is taken. A
	// create has no revision to be conditional on: IfRevision and Delete are refused with
	// it.
	Create bool
	// Delete deletes the group instead (on the same condition), with Users its members'
	// changes.
	Delete bool
	// IfRevision, when set, makes the write on the condition that the group's revision is
	// still this one: ErrStale when another write came between.
	IfRevision *int64
	// Users are the changes of the users the write makes members, or no longer members,
	// or (renamed) carries to the new name; each may be conditional on the user's
	// revision (UserChange.IfRevision), ErrStale when it changed. A change that fails
	// fails the whole write.
	Users []UserChange
	// Events are the queue's events of the write (their seqs), leased to Owner: they are
	// recorded applied in the write's commit, so that a worker that takes them over after
	// the writer's process ended knows whether the write committed, whatever changed
	// since. One no longer Owner's (another worker took it over) fails the write
	// (ErrConflict).
	Events []int64
	Owner  string
	// Marks are ordering marks (SyncQueue.MarkKeys) the write's commit moves, each to its
	// Time, as MarkKeys moves them (never back): those of its events, so that a write of
	// thousands of members orders the events after it in its one commit, and a write that
	// fails moves none.
	Marks []Mark
}

// AppliedEvent is one event FinishAppliedEvents finishes: its seq, note and propagations,
// as FinishApplied takes them.
type AppliedEvent struct {
	Seq   int64
	Note  string
	Props []QueuedEvent
}

// Mark is an ordering mark (SyncQueue.MarkKeys): key and the time an event applied moves
// it to.
type Mark struct {
	Key  string
	Time time.Time
}

// SyncQueue is the durable queue and the state directory sync keeps.
type SyncQueue interface {
	// EnqueueEvents adds the events not enqueued before (by Source and EventID) and
	// returns how many it added; all or none are written.
	EnqueueEvents(ctx context.Context, evs []QueuedEvent, now time.Time) (int, error)
	// EnqueueLeased adds evs, pending, leased to owner until leaseUntil, and returns their
	// seqs in order; all or none are written, and an event enqueued before (by Source and
	// EventID) is ErrExists. They are events owner applies at once (SCIM answers with the
	// result), queued before it applies them: if owner dies first, a worker claims them
	// once the lease passes and applies them, so nothing a source said is lost.
	EnqueueLeased(ctx context.Context, evs []QueuedEvent, owner string, leaseUntil, now time.Time) ([]int64, error)
	// ClaimEvents leases at most limit pending events to owner until leaseUntil: each the
	// first pending event of its key, due (NextAt <= now), enqueued at or before
	// settledBefore, not a user.delete of a paused source, not a propagation, and not
	// leased by another. Of concurrent claims, across processes too, one gets an event.
	ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil, settledBefore time.Time) ([]QueuedEvent, error)
	// ClaimPropagations leases, as ClaimEvents does, at most limit pending propagations to
	// target (of source PropagationSource(target)), each the first pending one of its key.
	ClaimPropagations(ctx context.Context, target, owner string, limit int, now, leaseUntil time.Time) ([]QueuedEvent, error)
	// FinishApplied ends owner's lease of an event applied to emfa's store: done, applied,
	// with note, and props (its propagations, pending) queued in the same commit; a
	// propagation queued before (by Source and EventID) is not queued again. ErrConflict
	// when owner lost the lease, and nothing is written.
	FinishApplied(ctx context.Context, seq int64, owner, note string, props []QueuedEvent, now time.Time) error
	// FinishAppliedEvents finishes owner's events evs as FinishApplied finishes each, in one
	// commit, all of them or none: ErrConflict when owner lost the lease of one, and nothing
	// is written. The events a request applied at once (a SCIM group write's thousands)
	// are finished so, not in a commit each.
	FinishAppliedEvents(ctx context.Context, owner string, evs []AppliedEvent, now time.Time) error
	// SetEventApplied records that owner's event is in emfa's store.
	SetEventApplied(ctx context.Context, seq int64, owner string, now time.Time) error
	// FinishEvent ends owner's lease: state done (note says why if skipped) or dead, or
	// pending again at nextAt with one more attempt; applied records the event in emfa's
	// store (never unset). ErrConflict when owner lost the lease.
	FinishEvent(ctx context.Context, seq int64, owner, state, note string, applied bool, nextAt, now time.Time) error
	// ReleaseEvent gives owner's lease back without counting an attempt; applied records
	// the event in emfa's store (never unset), as FinishEvent's does.
	ReleaseEvent(ctx context.Context, seq int64, owner string, applied bool) error
	// RenewEvent takes owner's lease of a pending event again, until leaseUntil, as a
	// worker does before it begins one event of the batch it claimed: ErrConflict when the
	// event is no longer owner's (the lease passed and another worker claimed it, or it
	// finished), and nothing is written.
	RenewEvent(ctx context.Context, seq int64, owner string, leaseUntil, now time.Time) error
	// HoldEvent gives owner's lease back without counting an attempt, the event pending
	// again at nextAt with note saying what it waits for. ErrConflict when owner lost the
	// lease.
	HoldEvent(ctx context.Context, seq int64, owner, note string, nextAt, now time.Time) error
	// MarkKeys records, in one commit, that an event of each of keys at t was applied; a
	// key's mark never goes back.
	MarkKeys(ctx context.Context, t time.Time, keys ...string) error
	// DeleteMarks deletes at most limit marks (MarkKeys) older than before and than every
	// pending or dead event, and returns how many: such a mark skips none of the events the
	// queue holds, nor one dated after before, so the table of marks is bounded by the
	// changes of a while rather than grow with every user and membership ever changed.
	// The seqs ResumeSource records among them are kept.
	DeleteMarks(ctx context.Context, before time.Time, limit int) (int, error)
	// KeyMark returns the mark of key, the zero time when none.
	KeyMark(ctx context.Context, key string) (time.Time, error)
	// LatestMark returns the latest mark of keys in one read, the zero time when none has one.
	LatestMark(ctx context.Context, keys []string) (time.Time, error)
	// KeyMarks returns the marks of those of keys that have one, by key, in one read (of a
	// few keys to a query): the marks of the thousands of events of a group write.
	KeyMarks(ctx context.Context, keys []string) (map[string]time.Time, error)
	ListEvents(ctx context.Context, f QueueFilter) ([]QueuedEvent, error)
	// RetryDead makes dead events pending again (seq 0: every one) and returns how many;
	// when there were any, ev, the record of the retry, is appended in the same commit.
	RetryDead(ctx context.Context, seq int64, now time.Time, ev AuditEvent) (int, error)
	// DropDead gives up the dead letter seq: it is done, not applied, its note prefix
	// followed by its last error, and ev, the record of the drop, is appended in the same
	// commit; it returns the event as it is then. ErrNotFound when seq is not a dead
	// letter (pending, done, or no event), and nothing is written.
	DropDead(ctx context.Context, seq int64, prefix string, now time.Time, ev AuditEvent) (QueuedEvent, error)
	// DropPending gives up the pending events of source that no worker holds (not leased,
	// or their lease passed): done, their note prefix followed by their last error, their
	// applied flag as it was; a leased one is left to its worker. It drops them oldest
	// first, DropPendingBatch to a commit, so that a backlog of millions never holds the
	// writer (SQLite's one, which every decision waits for) longer than a batch takes;
	// each commit appends record(n), the record of its n. It returns how many it dropped
	// in all, and on an error how many its earlier commits dropped. An operator drops
	// what is queued for a vendor removed from the configuration (source
	// PropagationSource(target)), or a flood a source sent by mistake.
	DropPending(ctx context.Context, source, prefix string, now time.Time, record func(n int) AuditEvent) (int, error)
	// SyncStats returns, in one read, each source's stats (SourceStats) by source: the
	// sources with a pending or dead event, and the paused ones.
	SyncStats(ctx context.Context) ([]SourceStats, error)
	// CountEvents counts events by source and state.
	CountEvents(ctx context.Context) (map[string]map[string]int, error)
	// CountApplied counts events of source and type applied since and queued after the
	// event afterSeq (by seq: in the order the store took them).
	CountApplied(ctx context.Context, source, typ string, since time.Time, afterSeq int64) (int, error)
	// AllowApplying is the deletion guard's count and its record in one commit, taken one
	// after the other by replicas counting at once: it counts the events of source and
	// typ queued after afterSeq that were applied since, or were allowed since (their
	// apply under way), and when there are fewer than max it records event seq, leased to
	// owner, allowed at now (its note says so, until it is finished or tried again), and
	// returns true. An event allowed since already is allowed again, not counted twice.
	// ErrConflict: seq is not pending under owner's lease.
	AllowApplying(ctx context.Context, seq int64, owner, source, typ string, since time.Time, afterSeq int64, max int, now time.Time) (int, bool, error)
	// DeleteDoneEvents deletes at most limit done events updated before before, but for a
	// group rename's while a membership of the same source queued before it is dead or
	// pending (the rename is what its retry follows).
	DeleteDoneEvents(ctx context.Context, before time.Time, limit int) (int, error)

	// PauseSource pauses p.Source and appends ev, the record of the pause, in the same
	// commit; a source paused already keeps its pause, and nothing is recorded.
	PauseSource(ctx context.Context, p SourcePause, ev AuditEvent) error
	// ResumeSource lifts a pause and appends ev, the record of the resumption, in the same
	// commit; ErrNotFound when the source is not paused. The same commit records the seq
	// of the last event queued then (ResumedAfter): the deletions the resumption approves
	// are those queued up to it, in the order the store took them, whatever the clocks of
	// the replicas that queued them and the one that resumed.
	ResumeSource(ctx context.Context, source string, ev AuditEvent) error
	// ResumedAfter is the seq of the last event queued when source was last resumed
	// (ResumeSource), 0 when it never was.
	ResumedAfter(ctx context.Context, source string) (int64, error)
	ListPauses(ctx context.Context) ([]SourcePause, error)

	// Groups: names and ids are unique (ErrExists).
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, id string) (Group, error)
	GetGroupByName(ctx context.Context, name string) (Group, error)
	// GetGroupsByName returns the groups of names that exist, by name, in one read (a
	// user's groups).
	GetGroupsByName(ctx context.Context, names []string) ([]Group, error)
	ListGroups(ctx context.Context) ([]Group, error) // by name
	// GroupPage returns limit groups of ListGroups' from offset (0-based), and the
	// number of groups: a page by its position, as SCIM asks for one (startIndex),
	// without reading the others.
	GroupPage(ctx context.Context, offset, limit int) ([]Group, int, error)
	// GroupsByExternalID returns the groups whose external id is externalID (exactly), by
	// name, reading those alone (an index): SCIM's filter externalId eq.
	GroupsByExternalID(ctx context.Context, externalID string) ([]Group, error)
	// GroupMembers returns the members of groups (their ID and Name), by group name, in
	// one read, each group's in the order of ListUserRecords (name regardless of ASCII
	// case); a group without members has none in the map.
	GroupMembers(ctx context.Context, groups []string) (map[string][]User, error)
	UpdateGroup(ctx context.Context, g Group) error // name and external id, by id; one more on its revision
	// ApplyGroupChange applies c, all of it or nothing: ErrNotFound when the group does
	// not exist, ErrStale when c.IfRevision (or a user change's) no longer holds, ErrExists
	// when the new name is another group's (or, c.Create, the group's id is taken). The
	// group's revision goes up by one. Of concurrent changes on the same revision, or
	// creates of one name, across processes too, exactly one applies.
	ApplyGroupChange(ctx context.Context, c GroupChange) error
	DeleteGroup(ctx context.Context, id string) error
	// UserNameByID finds a user's name by its id; ErrNotFound.
	UserNameByID(ctx context.Context, id string) (string, error)
	// UserNamesByID finds the names of the users of ids, by id, reading them at once (a
	// group's members, however many): an id that names no user is not in the map.
	UserNamesByID(ctx context.Context, ids []string) (map[string]string, error)
}
