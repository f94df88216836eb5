package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

var _ store.SyncQueue = (*Store)(nil)

const queueCols = `seq, source, event_id, order_key, type, event_time, body, applied, state, attempts, next_at, note, created_at, updated_at`

func scanQueued(r scanner) (store.QueuedEvent, error) {
	var e store.QueuedEvent
	var t, next, created, updated int64
	var body string
	err := r.Scan(&e.Seq, &e.Source, &e.EventID, &e.Key, &e.Type, &t, &body, &e.Applied, &e.State, &e.Attempts, &next, &e.Note, &created, &updated)
	e.Time, e.NextAt, e.CreatedAt, e.UpdatedAt = fromMillis(t), fromMillis(next), fromMillis(created), fromMillis(updated)
	e.Body = []byte(body)
	return e, err
}

func (s *Store) EnqueueEvents(ctx context.Context, evs []store.QueuedEvent, now time.Time) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	var added int
	var err error
	if len(evs) == 1 {
		// One statement, all or nothing by itself: on PostgreSQL a transaction's BEGIN
		// and COMMIT were two round trips of its three.
		added, err = queueEvents(ctx, s.on(s.w, nil), evs, now)
	} else {
		err = s.inTx(ctx, func(tx *sql.Tx) (err error) {
			added, err = queueEvents(ctx, s.on(s.w, tx), evs, now)
			return err
		})
	}
	if err != nil {
		return 0, s.fail("enqueue sync events", err)
	}
	return added, nil
}

func (s *Store) EnqueueLeased(ctx context.Context, evs []store.QueuedEvent, owner string, leaseUntil, now time.Time) ([]int64, error) {
	seqs := make([]int64, 0, len(evs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.on(s.w, tx)
		// A batch an INSERT: an event already queued (or twice in evs) is left out of
		// what it returns, and named, rather than failing the statement unnamed.
		return inBatches(evs, func(batch []store.QueuedEvent) error {
			type queued struct {
				seq        int64
				source, id string
			}
			rows, err := query(ctx, q, func(sc scanner) (queued, error) {
				var r queued
				return r, sc.Scan(&r.seq, &r.source, &r.id)
			}, insertEventsSQL(len(batch))+` ON CONFLICT (source, event_id) DO NOTHING RETURNING seq, source, event_id`,
				eventsArgs(batch, owner, leaseUntil, now)...)
			if err != nil {
				return err
			}
			// By source and id: RETURNING's order is not the VALUES'.
			added := make(map[[2]string]int64, len(rows))
			for _, r := range rows {
				added[[2]string{r.source, r.id}] = r.seq
			}
			for _, e := range batch {
				k := [2]string{e.Source, e.EventID}
				seq, ok := added[k]
				if !ok {
					return fmt.Errorf("event %q of %s: %w", e.EventID, e.Source, store.ErrExists)
				}
				delete(added, k) // the same source and id again is a second event, not added
				seqs = append(seqs, seq)
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.fail("enqueue leased sync events", err)
	}
	return seqs, nil
}

// insertEventSQL adds an event, pending unless the event says otherwise, leased to $10
// until $11 (an empty owner and 0: no lease), with eventArgs' arguments.
// group_name and group_new are QueuedEvent.Groups, the empty string for none; NULL is a row queued by
// a version that recorded no names.
const insertEventSQL = insertEventsHead + insertEventRow

const insertEventsHead = `INSERT INTO sync_events
	(source, event_id, order_key, type, event_time, body, applied, state, attempts, next_at, note, created_at, updated_at, owner, lease_until,
	 group_name, group_new)
	VALUES `

// insertEventRow is the row of one event, eventArgs' eventWidth arguments.
const (
	insertEventRow = `($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, '', $9, $9, $10, $11, $12, $13)`
	eventWidth     = 13
)

// insertEventsSQL adds n events, as insertEventSQL adds one, with eventsArgs' arguments.
func insertEventsSQL(n int) string {
	return insertEventsHead + valueRows(insertEventRow, eventWidth, n, 0)
}

// eventsArgs are the arguments of evs' rows in turn (eventArgs').
func eventsArgs(evs []store.QueuedEvent, owner string, leaseUntil, now time.Time) []any {
	args := make([]any, 0, len(evs)*eventWidth)
	for _, e := range evs {
		args = append(args, eventArgs(e, owner, leaseUntil, now)...)
	}
	return args
}

func eventArgs(e store.QueuedEvent, owner string, leaseUntil, now time.Time) []any {
	if !e.CreatedAt.IsZero() {
		now = e.CreatedAt // queued by the queue's clock (store.QueuedEvent.CreatedAt)
	}
	state := e.State
	if state == "" {
		state = store.QueuePending
	}
	var groups [2]string
	copy(groups[:], e.Groups)
	return []any{e.Source, e.EventID, e.Key, e.Type, millis(e.Time), string(e.Body), e.Applied, state, millis(now), owner, millis(leaseUntil),
		groups[0], groups[1]}
}

// claimSQL picks the head of each key's pending events that its first verb (claimEvents,
// claimPropagations) selects; a leased head stays pending, so its key's later events wait
// for it. PostgreSQL skips rows another claim has locked; SQLite has one writer.
//
// A row its last writer left due (queued, or a dead letter retried: next_at is then its
// updated_at; claimed and given back: next_at at or before the claim's updated_at) at a
// time later than $6 (now + store.MaxFutureSkew) was written by a clock running ahead of
// the claimer's: it is due, and settled, now, rather than once the claimer's clock
// catches up with the writer's (an hour's skew held a CLI's disable from the vendor an
// hour). A wait a worker set (a backoff, a hold: next_at later than its updated_at) is
// kept, however long. The claim brings next_at back to now, so that a row claimed and
// given back is due again at once.
const claimSQL = `UPDATE sync_events SET owner = $1, lease_until = $2, updated_at = $3,
	  next_at = CASE WHEN next_at > $3 THEN $3 ELSE next_at END
	WHERE seq IN (
	  SELECT e.seq FROM sync_events e
	  WHERE e.state = 'pending' AND e.lease_until <= $3
	    AND (e.next_at <= $3 OR (e.next_at <= e.updated_at AND e.next_at > $6))
	    AND (e.created_at <= $4 OR e.created_at > $6)
	    AND %s
	    AND NOT EXISTS (SELECT 1 FROM sync_events p WHERE p.order_key = e.order_key AND p.state = 'pending'
	      AND (p.event_time < e.event_time OR (p.event_time = e.event_time AND p.seq < e.seq)))
	  ORDER BY e.event_time, e.seq LIMIT $5 %s)
	RETURNING ` + queueCols

// claimEvents: the events to apply, not the propagations; a paused source's deletions
// wait (the deletion guard), its other events do not.
var claimEvents = `e.source NOT LIKE '` + store.PropagationSource("") + `%' AND NOT (e.type = 'user.delete' AND e.source IN (SELECT source FROM sync_pauses))`

// claimPropagations: one target's propagations ($7 its source).
const claimPropagations = `e.source = $7`

func (s *Store) ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil, settledBefore time.Time) ([]store.QueuedEvent, error) {
	evs, err := s.claim(ctx, claimEvents, owner, millis(leaseUntil), millis(now), millis(settledBefore), limit, millis(now.Add(store.MaxFutureSkew)))
	if err != nil {
		return nil, s.fail("claim sync events", err)
	}
	return evs, nil
}

func (s *Store) ClaimPropagations(ctx context.Context, target, owner string, limit int, now, leaseUntil time.Time) ([]store.QueuedEvent, error) {
	evs, err := s.claim(ctx, claimPropagations, owner, millis(leaseUntil), millis(now), millis(now), limit, millis(now.Add(store.MaxFutureSkew)),
		store.PropagationSource(target))
	if err != nil {
		return nil, s.fail("claim sync propagations to "+target, err)
	}
	return evs, nil
}

func (s *Store) claim(ctx context.Context, which string, args ...any) ([]store.QueuedEvent, error) {
	lock := ""
	if s.name == "postgres" {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	evs, err := query(ctx, s.w, scanQueued, fmt.Sprintf(claimSQL, which, lock), args...)
	// RETURNING's order is not the subquery's.
	sortQueued(evs)
	return evs, err
}

func sortQueued(evs []store.QueuedEvent) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && less(evs[j], evs[j-1]); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func less(a, b store.QueuedEvent) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Seq < b.Seq
}

func (s *Store) SetEventApplied(ctx context.Context, seq int64, owner string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sync_events SET applied = TRUE, updated_at = $3 WHERE seq = $1 AND owner = $2 AND state = 'pending'`,
		seq, owner, millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return s.fail(fmt.Sprintf("sync event %d applied", seq), err)
	}
	return nil
}

func (s *Store) FinishEvent(ctx context.Context, seq int64, owner, state, note string, applied bool, nextAt, now time.Time) error {
	attempts := "attempts"
	if state == store.QueuePending || state == store.QueueDead {
		attempts = "attempts + 1"
	}
	res, err := s.w.ExecContext(ctx, `UPDATE sync_events SET state = $3, note = $4, next_at = $5, updated_at = $6,
		attempts = `+attempts+`, owner = '', lease_until = 0, applied = (applied OR $7)
		WHERE seq = $1 AND owner = $2 AND state = 'pending'`, seq, owner, state, note, millis(nextAt), millis(now), applied)
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return s.fail(fmt.Sprintf("finish sync event %d", seq), err)
	}
	return nil
}

func (s *Store) FinishApplied(ctx context.Context, seq int64, owner, note string, props []store.QueuedEvent, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return finishApplied(ctx, tx, owner, store.AppliedEvent{Seq: seq, Note: note, Props: props}, now)
	})
	if err != nil {
		return s.fail(fmt.Sprintf("finish applied sync event %d", seq), err)
	}
	return nil
}

func (s *Store) FinishAppliedEvents(ctx context.Context, owner string, evs []store.AppliedEvent, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return finishAppliedEvents(ctx, s.on(s.w, tx), owner, evs, now) })
	if err != nil {
		return s.fail(fmt.Sprintf("finish %d applied sync events", len(evs)), err)
	}
	return nil
}

// finishAppliedEvents ends owner's lease of each of evs, as finishApplied ends one, on
// q, in a statement for each batch of the events of one note (a group write's have
// none) and one for each batch of their propagations, not two an event: a group write's
// 5,000 were 10,000 round trips to PostgreSQL. One not leased to owner, or finished
// already (by its first in evs), fails all, the first of evs so named.
func finishAppliedEvents(ctx context.Context, q querier, owner string, evs []store.AppliedEvent, now time.Time) error {
	byNote := map[string][]int64{}
	var notes []string
	var props []store.QueuedEvent
	for _, e := range evs {
		if _, ok := byNote[e.Note]; !ok {
			notes = append(notes, e.Note)
		}
		byNote[e.Note] = append(byNote[e.Note], e.Seq)
		props = append(props, e.Props...)
	}
	finished := make(map[int64]bool, len(evs))
	for _, note := range notes {
		err := updateLeased(ctx, q, `state = 'done', note = $1, next_at = 0, updated_at = $2, owner = '', lease_until = 0, applied = TRUE`,
			[]any{note, millis(now)}, owner, byNote[note], finished)
		if err != nil {
			return err
		}
	}
	for _, e := range evs {
		if !finished[e.Seq] {
			return fmt.Errorf("sync event %d: %w", e.Seq, store.ErrConflict)
		}
		delete(finished, e.Seq) // finished once: a second of it in evs is finished again
	}
	_, err := queueEvents(ctx, q, props, now)
	return err
}

// updateLeased sets set (its parameters args) on the events of seqs still owner's and
// pending, a statement a batch of them, and records in done those it set.
func updateLeased(ctx context.Context, q querier, set string, args []any, owner string, seqs []int64, done map[int64]bool) error {
	return inBatches(seqs, func(batch []int64) error {
		a := append(slices.Clip(args), owner)
		for _, seq := range batch {
			a = append(a, seq)
		}
		n := len(args) + 1
		got, err := query(ctx, q, scanSeq, `UPDATE sync_events SET `+set+` WHERE owner = $`+strconv.Itoa(n)+
			` AND state = 'pending' AND seq IN (`+valueRows("$1", 1, len(batch), n)+`) RETURNING seq`, a...)
		for _, seq := range got {
			done[seq] = true
		}
		return err
	})
}

func scanSeq(sc scanner) (int64, error) {
	var seq int64
	return seq, sc.Scan(&seq)
}

// finishApplied ends owner's lease of e, applied, and queues its propagations, in tx.
func finishApplied(ctx context.Context, tx *sql.Tx, owner string, e store.AppliedEvent, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE sync_events SET state = 'done', note = $3, next_at = 0, updated_at = $4,
		owner = '', lease_until = 0, applied = TRUE
		WHERE seq = $1 AND owner = $2 AND state = 'pending'`, e.Seq, owner, e.Note, millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return err
	}
	_, err = queueEvents(ctx, tx, e.Props, now)
	return err
}

func (s *Store) ReleaseEvent(ctx context.Context, seq int64, owner string, applied bool) error {
	_, err := s.w.ExecContext(ctx, `UPDATE sync_events SET owner = '', lease_until = 0, applied = (applied OR $3)
		WHERE seq = $1 AND owner = $2 AND state = 'pending'`, seq, owner, applied)
	if err != nil {
		return s.fail(fmt.Sprintf("release sync event %d", seq), err)
	}
	return nil
}

func (s *Store) RenewEvent(ctx context.Context, seq int64, owner string, leaseUntil, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sync_events SET lease_until = $3, updated_at = $4
		WHERE seq = $1 AND owner = $2 AND state = 'pending'`, seq, owner, millis(leaseUntil), millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return s.fail(fmt.Sprintf("renew the lease of sync event %d", seq), err)
	}
	return nil
}

func (s *Store) HoldEvent(ctx context.Context, seq int64, owner, note string, nextAt, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sync_events SET note = $3, next_at = $4, updated_at = $5, owner = '', lease_until = 0
		WHERE seq = $1 AND owner = $2 AND state = 'pending'`, seq, owner, note, millis(nextAt), millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return s.fail(fmt.Sprintf("hold sync event %d", seq), err)
	}
	return nil
}

// markKeySQL moves the mark of key ($1) to the time $2, unless it is later already.
const markKeySQL = `INSERT INTO sync_marks (key, event_time) VALUES ($1, $2)
	ON CONFLICT (key) DO UPDATE SET event_time = excluded.event_time WHERE sync_marks.event_time < excluded.event_time`

func (s *Store) MarkKeys(ctx context.Context, t time.Time, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	marks := make([]store.Mark, len(keys))
	for i, key := range keys {
		marks[i] = store.Mark{Key: key, Time: t}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return markKeys(ctx, s.on(s.w, tx), marks) })
	if err != nil {
		return s.fail("mark sync keys", err)
	}
	return nil
}

// markKeys moves marks as markKeySQL moves one, a statement a batch of them. A key is
// written once, at the latest of its times (PostgreSQL fails a statement that updates a
// row twice), and the keys in order, so that two writers lock their common marks in the
// same order.
func markKeys(ctx context.Context, e execContext, marks []store.Mark) error {
	latest := make(map[string]int64, len(marks))
	for _, m := range marks {
		if t, ok := latest[m.Key]; !ok || millis(m.Time) > t {
			latest[m.Key] = millis(m.Time)
		}
	}
	keys := slices.Sorted(maps.Keys(latest))
	return inBatches(keys, func(batch []string) error {
		args := make([]any, 0, 2*len(batch))
		for _, key := range batch {
			args = append(args, key, latest[key])
		}
		_, err := e.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES `+valueRows("($1, $2)", 2, len(batch), 0)+`
			ON CONFLICT (key) DO UPDATE SET event_time = excluded.event_time WHERE sync_marks.event_time < excluded.event_time`, args...)
		if err != nil {
			return fmt.Errorf("marks %s to %s: %w", batch[0], batch[len(batch)-1], err)
		}
		return nil
	})
}

// deleteMarksSQL deletes the marks before $1 and before the oldest pending and the oldest
// dead event (each read once, the first row of sync_events_claim for its state), at most
// $2 of them, but for resumedKey's, whose event_time is a seq. The marks are found by
// sync_marks_event_time: only the old ones are read, not every mark there is (a large
// directory's millions, once an hour on each replica). The two states apart: MIN over
// both at once read every pending and dead event, not the first of each.
const deleteMarksSQL = `DELETE FROM sync_marks WHERE key IN (
	SELECT key FROM sync_marks WHERE event_time < $1
	  AND event_time < COALESCE((SELECT MIN(event_time) FROM sync_events WHERE state = 'pending'), $1)
	  AND event_time < COALESCE((SELECT MIN(event_time) FROM sync_events WHERE state = 'dead'), $1)
	  AND key NOT LIKE 'resumed-after#%' LIMIT $2)`

func (s *Store) DeleteMarks(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, s.fail("delete sync marks", fmt.Errorf("limit %d is not positive", limit))
	}
	n, err := affected(s.w.ExecContext(ctx, deleteMarksSQL, millis(before), limit))
	if err != nil {
		return 0, s.fail("delete sync marks", err)
	}
	return n, nil
}

func (s *Store) KeyMark(ctx context.Context, key string) (time.Time, error) {
	var ms int64
	err := s.r.QueryRowContext(ctx, `SELECT event_time FROM sync_marks WHERE key = $1`, key).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, s.fail("sync key mark", err)
	}
	return fromMillis(ms), nil
}

func (s *Store) LatestMark(ctx context.Context, keys []string) (time.Time, error) {
	if len(keys) == 0 {
		return time.Time{}, nil
	}
	in, args := inList(keys, 0)
	var ms sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(event_time) FROM sync_marks WHERE key IN (`+in+`)`, args...).Scan(&ms); err != nil {
		return time.Time{}, s.fail("sync key marks", err)
	}
	if !ms.Valid {
		return time.Time{}, nil
	}
	return fromMillis(ms.Int64), nil
}

func (s *Store) KeyMarks(ctx context.Context, keys []string) (map[string]time.Time, error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	out := make(map[string]time.Time, len(keys))
	err := inChunks(keys, func(chunk []string) error {
		in, args := inList(chunk, 0)
		type keyMark struct {
			key string
			ms  int64
		}
		rows, err := query(ctx, s.r, func(sc scanner) (keyMark, error) {
			var r keyMark
			return r, sc.Scan(&r.key, &r.ms)
		}, `SELECT key, event_time FROM sync_marks WHERE key IN (`+in+`)`, args...)
		for _, r := range rows {
			out[r.key] = fromMillis(r.ms)
		}
		return err
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("sync marks of %d keys", len(keys)), err)
	}
	return out, nil
}

func (s *Store) ListEvents(ctx context.Context, f store.QueueFilter) ([]store.QueuedEvent, error) {
	var where []string
	var args []any
	if f.State != "" {
		args = append(args, f.State)
		where = append(where, fmt.Sprintf("state = $%d", len(args)))
	}
	if f.Source != "" {
		args = append(args, f.Source)
		where = append(where, fmt.Sprintf("source = $%d", len(args)))
	}
	n := len(where)
	if f.Key != "" {
		args = append(args, f.Key)
		where = append(where, fmt.Sprintf("order_key = $%d", len(args)))
	}
	if len(f.Keys) > 0 {
		in := make([]string, len(f.Keys))
		for i, k := range f.Keys {
			args = append(args, k)
			in[i] = fmt.Sprintf("$%d", len(args))
		}
		where = append(where, "order_key IN ("+strings.Join(in, ", ")+")")
	}
	if len(f.Types) > 0 {
		in := make([]string, len(f.Types))
		for i, t := range f.Types {
			args = append(args, t)
			in[i] = fmt.Sprintf("$%d", len(args))
		}
		where = append(where, "type IN ("+strings.Join(in, ", ")+")")
	}
	if f.AfterSeq > 0 {
		args = append(args, f.AfterSeq)
		where = append(where, fmt.Sprintf("seq > $%d", len(args)))
	}
	if !f.UpTo.IsZero() {
		args = append(args, millis(f.UpTo))
		where = append(where, fmt.Sprintf("event_time <= $%d", len(args)))
	}
	if len(f.Groups) > 0 {
		// The rows of each of the names' columns, and those without names, each a search
		// of sync_events_group or sync_events_group_new under the source and state, which
		// are left out of the outer terms: as an OR of them, or with the state's term
		// outside too, SQLite's planner (no ANALYZE) scanned every pending row instead.
		under := strings.Join(where[:n], " AND ") // the state's and source's
		if under != "" {
			under += " AND "
		}
		where = where[n:]
		in := make([]string, len(f.Groups))
		for i, g := range f.Groups {
			args = append(args, g)
			in[i] = fmt.Sprintf("$%d", len(args))
		}
		names := strings.Join(in, ", ")
		where = append(where, "seq IN (SELECT seq FROM sync_events WHERE "+under+"group_name IN ("+names+")"+
			" UNION ALL SELECT seq FROM sync_events WHERE "+under+"group_new IN ("+names+")"+
			" UNION ALL SELECT seq FROM sync_events WHERE "+under+"group_name IS NULL)")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	args = append(args, f.Limit)
	q := `SELECT ` + queueCols + ` FROM sync_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY seq LIMIT $%d`, len(args))
	evs, err := query(ctx, s.r, scanQueued, q, args...)
	if err != nil {
		return nil, s.fail("list sync events", err)
	}
	return evs, nil
}

func (s *Store) RetryDead(ctx context.Context, seq int64, now time.Time, ev store.AuditEvent) (int, error) {
	var n int
	err := s.unit(ctx, func(w *writer) error {
		res, err := w.exec(w.c(ctx), `UPDATE sync_events SET state = 'pending', attempts = 0, next_at = $2, updated_at = $2
			WHERE state = 'dead' AND ($1 = 0 OR seq = $1)`, seq, millis(now))
		if n, err = affected(res, err); err != nil || n == 0 {
			return err
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		return 0, s.fail("retry dead sync events", err)
	}
	return n, nil
}

func (s *Store) DropDead(ctx context.Context, seq int64, prefix string, now time.Time, ev store.AuditEvent) (store.QueuedEvent, error) {
	var e store.QueuedEvent
	err := s.unit(ctx, func(w *writer) error {
		var err error
		e, err = scanQueued(w.e.QueryRow(w.c(ctx), `UPDATE sync_events SET state = 'done', note = substr($2 || note, 1, 500), updated_at = $3
			WHERE seq = $1 AND state = 'dead' RETURNING `+queueCols, seq, prefix, millis(now)))
		if err != nil {
			return notFound(err)
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		return store.QueuedEvent{}, s.fail(fmt.Sprintf("drop dead sync event %d", seq), err)
	}
	return e, nil
}

func (s *Store) DropPending(ctx context.Context, source, prefix string, now time.Time, record func(n int) store.AuditEvent) (int, error) {
	// By seq alone: "|| ''" keeps the planners off the indexes on source and state (the
	// claim index would walk every pending event for each batch, the backlog again and
	// again) and on the key, a range of seq after the last batch's.
	const pending = `seq > $3 AND source || '' = $1 AND state || '' = 'pending' AND lease_until <= $2`
	total, after := 0, int64(0)
	for {
		var n int
		var last bool
		var end int64 // the batch's last seq, set by the unit's run that commits
		err := s.unit(ctx, func(w *writer) error {
			last = true
			// The batch is a range of seq after the last one's: each finds its first event
			// by the key, not past those dropped before it.
			upto := int64(math.MaxInt64)
			err := w.e.QueryRow(w.c(ctx), `SELECT seq FROM sync_events WHERE `+pending+` ORDER BY seq LIMIT 1 OFFSET $4`,
				source, millis(now), after, store.DropPendingBatch-1).Scan(&upto)
			switch {
			case err == nil:
				last = false
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			res, err := w.exec(w.c(ctx), `UPDATE sync_events SET state = 'done', note = substr($5 || note, 1, 500), updated_at = $2,
				owner = '', lease_until = 0 WHERE `+pending+` AND seq <= $4`, source, millis(now), after, upto, prefix)
			end = upto
			if n, err = affected(res, err); err != nil || n == 0 {
				return err
			}
			return w.AppendAudit(ctx, record(n))
		})
		if err != nil {
			return total, s.fail("drop pending sync events of "+source, err)
		}
		total, after = total+n, end
		if last {
			return total, nil
		}
	}
}

// syncStatsSQL reads the pending and dead events by source and state, with the oldest
// pending one's enqueue time, and the paused sources (state 'paused'), in one query: the
// claim index (state first) finds them among the done events.
const syncStatsSQL = `SELECT source, state, COUNT(*), MIN(created_at) FROM sync_events WHERE state IN ('pending', 'dead') GROUP BY source, state
	UNION ALL SELECT source, 'paused', 0, created_at FROM sync_pauses`

func (s *Store) SyncStats(ctx context.Context) ([]store.SourceStats, error) {
	type row struct {
		source, state string
		n             int
		oldest        int64
	}
	rows, err := query(ctx, s.r, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.source, &x.state, &x.n, &x.oldest)
	}, syncStatsSQL)
	if err != nil {
		return nil, s.fail("sync stats", err)
	}
	by := map[string]*store.SourceStats{}
	for _, x := range rows {
		st := by[x.source]
		if st == nil {
			st = &store.SourceStats{Source: x.source}
			by[x.source] = st
		}
		switch x.state {
		case store.QueuePending:
			st.Pending, st.OldestPending = x.n, fromMillis(x.oldest)
		case store.QueueDead:
			st.Dead = x.n
		case "paused":
			st.Paused = true
		}
	}
	out := make([]store.SourceStats, 0, len(by))
	for _, st := range by {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b store.SourceStats) int { return strings.Compare(a.Source, b.Source) })
	return out, nil
}

func (s *Store) CountEvents(ctx context.Context) (map[string]map[string]int, error) {
	type row struct {
		source, state string
		n             int
	}
	rows, err := query(ctx, s.r, func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.source, &x.state, &x.n)
	}, `SELECT source, state, COUNT(*) FROM sync_events GROUP BY source, state`)
	if err != nil {
		return nil, s.fail("count sync events", err)
	}
	out := map[string]map[string]int{}
	for _, x := range rows {
		if out[x.source] == nil {
			out[x.source] = map[string]int{}
		}
		out[x.source][x.state] = x.n
	}
	return out, nil
}

func (s *Store) CountApplied(ctx context.Context, source, typ string, since time.Time, afterSeq int64) (int, error) {
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_events WHERE source = $1 AND type = $2 AND applied AND updated_at >= $3
		AND seq > $4`, source, typ, millis(since), afterSeq).Scan(&n)
	if err != nil {
		return 0, s.fail("count applied sync events", err)
	}
	return n, nil
}

// AllowedNote is the note of an event AllowApplying allowed, while its apply is under way.
const AllowedNote = "allowed by the deletion guard; being applied"

// guardKey is the key, among the sync marks, whose row AllowApplying locks for source:
// the counts of one source are taken one at a time (PostgreSQL; SQLite's writer is one
// already). No key sync names holds a '#'.
func guardKey(source string) string { return "deletion-guard#" + source }

func (s *Store) AllowApplying(ctx context.Context, seq int64, owner, source, typ string, since time.Time, afterSeq int64, max int, now time.Time) (int, bool, error) {
	var n int
	ok := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The lock first: under it, the count reads what the counts before committed.
		if _, err := tx.ExecContext(ctx, `INSERT INTO sync_marks (key, event_time) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET event_time = excluded.event_time`, guardKey(source), millis(now)); err != nil {
			return err
		}
		var note string
		var updated int64
		err := tx.QueryRowContext(ctx, `SELECT note, updated_at FROM sync_events WHERE seq = $1 AND owner = $2 AND state = 'pending'`,
			seq, owner).Scan(&note, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM sync_events WHERE source = $1 AND type = $2
			AND (applied OR note = $3) AND updated_at >= $4 AND seq > $5 AND seq <> $6`,
			source, typ, AllowedNote, millis(since), afterSeq, seq).Scan(&n); err != nil {
			return err
		}
		if note == AllowedNote && updated >= millis(since) {
			ok = true // allowed already: a retry of its apply
			return nil
		}
		if n >= max {
			return nil
		}
		ok = true
		_, err = tx.ExecContext(ctx, `UPDATE sync_events SET note = $3, updated_at = $4 WHERE seq = $1 AND owner = $2 AND state = 'pending'`,
			seq, owner, AllowedNote, millis(now))
		return err
	})
	if err != nil {
		return 0, false, s.fail(fmt.Sprintf("deletion guard: allow sync event %d", seq), err)
	}
	return n, ok, nil
}

// keptRename is the part of DeleteDoneEvents' condition that keeps a done group rename's
// propagation while a membership propagation of the same target queued before it is dead
// or pending (a dead letter retried): the retried membership follows the rename to the
// name the group has at the vendor now (sync's renamedSince), and without the row it
// would go under the old name, which an add creates anew for the member alone. Waits
// hold no other membership behind a rename (sync's groupAhead), so the rows kept are
// those of dead letters. The types are sync's (provider.EventGroupRename and the
// memberships').
const keptRename = ` AND NOT (type = 'group.rename' AND EXISTS (SELECT 1 FROM sync_events d
	WHERE d.source = sync_events.source AND d.type IN ('group.member.add', 'group.member.remove')
	AND d.state IN ('dead', 'pending')
	AND (d.event_time < sync_events.event_time OR d.event_time = sync_events.event_time AND d.seq < sync_events.seq)))`

func (s *Store) DeleteDoneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := result(ctx, s, func(w *writer) (int, error) {
		return w.deleteOldest(w.c(ctx), "sync_events", "seq", "state = 'done' AND updated_at < $1"+keptRename, "updated_at", millis(before), limit)
	})
	if err != nil {
		return 0, s.fail("delete done sync events", err)
	}
	return n, nil
}

func (s *Store) PauseSource(ctx context.Context, p store.SourcePause, ev store.AuditEvent) error {
	err := s.unit(ctx, func(w *writer) error {
		res, err := w.exec(w.c(ctx), `INSERT INTO sync_pauses (source, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT (source) DO NOTHING`,
			p.Source, p.Reason, millis(p.CreatedAt))
		if n, err := affected(res, err); err != nil || n == 0 {
			return err
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		return s.fail("pause sync source "+p.Source, err)
	}
	return nil
}

// resumedKey is the key, among the sync marks, of the seq of the last event queued when
// source was last resumed (ResumedAfter): its event_time holds that seq, not a time. No
// key sync names holds a '#'.
func resumedKey(source string) string { return "resumed-after#" + source }

func (s *Store) ResumeSource(ctx context.Context, source string, ev store.AuditEvent) error {
	err := s.unit(ctx, func(w *writer) error {
		res, err := w.exec(w.c(ctx), `DELETE FROM sync_pauses WHERE source = $1`, source)
		if err := changedOne(res, err); err != nil {
			return err
		}
		// PostgreSQL's seqs are handed out before their commit: an event whose insert
		// commits after this read with a lower seq counts as queued before, as one that
		// raced the resumption either way. (WHERE true: SQLite reads ON CONFLICT after a
		// bare FROM as a join's.)
		if _, err := w.exec(w.c(ctx), `INSERT INTO sync_marks (key, event_time)
			SELECT $1, COALESCE(MAX(seq), 0) FROM sync_events WHERE true
			ON CONFLICT (key) DO UPDATE SET event_time = excluded.event_time WHERE sync_marks.event_time < excluded.event_time`,
			resumedKey(source)); err != nil {
			return err
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		return s.fail("resume sync source "+source, err)
	}
	return nil
}

func (s *Store) ResumedAfter(ctx context.Context, source string) (int64, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT event_time FROM sync_marks WHERE key = $1`, resumedKey(source)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("sync source resumed after", err)
	}
	return seq, nil
}

func (s *Store) ListPauses(ctx context.Context) ([]store.SourcePause, error) {
	ps, err := query(ctx, s.r, func(r scanner) (store.SourcePause, error) {
		var p store.SourcePause
		var at int64
		err := r.Scan(&p.Source, &p.Reason, &at)
		p.CreatedAt = fromMillis(at)
		return p, err
	}, `SELECT source, reason, created_at FROM sync_pauses ORDER BY source`)
	if err != nil {
		return nil, s.fail("list sync pauses", err)
	}
	return ps, nil
}

const groupCols = `id, name, external_id, created_at, updated_at, revision`

func scanGroup(r scanner) (store.Group, error) {
	var g store.Group
	var c, u int64
	err := r.Scan(&g.ID, &g.Name, &g.ExternalID, &c, &u, &g.Revision)
	g.CreatedAt, g.UpdatedAt = fromMillis(c), fromMillis(u)
	return g, err
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sync_groups (`+groupCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		g.ID, g.Name, g.ExternalID, millis(g.CreatedAt), millis(g.UpdatedAt), g.Revision)
	if errors.Is(s.d.Constraint(err), store.ErrExists) {
		err = store.ErrExists
	}
	if err != nil {
		return s.fail(fmt.Sprintf("create group %q", g.Name), err)
	}
	return nil
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	if s.namesNothing(id) {
		return store.Group{}, s.fail(fmt.Sprintf("get group %q", id), store.ErrNotFound)
	}
	g, err := scanGroup(s.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM sync_groups WHERE id = $1`, id))
	if err != nil {
		return store.Group{}, s.fail(fmt.Sprintf("get group %q", id), notFound(err))
	}
	return g, nil
}

func (s *Store) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	if s.namesNothing(name) {
		return store.Group{}, s.fail(fmt.Sprintf("get group %q", name), store.ErrNotFound)
	}
	g, err := scanGroup(s.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM sync_groups WHERE name = $1`, name))
	if err != nil {
		return store.Group{}, s.fail(fmt.Sprintf("get group %q", name), notFound(err))
	}
	return g, nil
}

func (s *Store) GetGroupsByName(ctx context.Context, names []string) ([]store.Group, error) {
	var out []store.Group
	err := inChunks(slices.Compact(slices.Sorted(slices.Values(names))), func(chunk []string) error {
		in, args := inList(chunk, 0)
		gs, err := query(ctx, s.r, scanGroup, `SELECT `+groupCols+` FROM sync_groups WHERE name IN (`+in+`)`, args...)
		out = append(out, gs...)
		return err
	})
	if err != nil {
		return nil, s.fail("get groups by name", err)
	}
	slices.SortFunc(out, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := query(ctx, s.r, scanGroup, `SELECT `+groupCols+` FROM sync_groups ORDER BY name`)
	if err != nil {
		return nil, s.fail("list groups", err)
	}
	return gs, nil
}

func (s *Store) GroupsByExternalID(ctx context.Context, externalID string) ([]store.Group, error) {
	if s.namesNothing(externalID) {
		return []store.Group{}, nil
	}
	gs, err := query(ctx, s.r, scanGroup, `SELECT `+groupCols+` FROM sync_groups WHERE external_id = $1 ORDER BY name`, externalID)
	if err != nil {
		return nil, s.fail("list groups by external id", err)
	}
	return gs, nil
}

func (s *Store) GroupPage(ctx context.Context, offset, limit int) ([]store.Group, int, error) {
	var n int
	if limit <= 0 {
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sync_groups`).Scan(&n); err != nil {
			return nil, 0, s.fail("count groups", err)
		}
		return []store.Group{}, n, nil
	}
	// The count and the page in one statement, so of one state of the groups (a count
	// then a read was off by the groups created or deleted between them: SCIM's
	// totalResults against its Resources). The page is ordered as ListGroups orders them;
	// the database steps over those before offset along the index on name. Past the last
	// group the count comes alone, with a group of NULLs.
	gs := []store.Group{}
	err := func() (err error) {
		rows, err := s.r.QueryContext(ctx, `SELECT n.total, g.id, g.name, g.external_id, g.created_at, g.updated_at, g.revision
		    FROM (SELECT count(*) AS total FROM sync_groups) n
		    LEFT JOIN (SELECT `+groupCols+` FROM sync_groups ORDER BY name LIMIT $1 OFFSET $2) g ON 1 = 1
		    ORDER BY g.name`, limit, max(offset, 0))
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, rows.Close()) }()
		for rows.Next() {
			var id, name, ext sql.NullString
			var c, u, rev sql.NullInt64
			if err := rows.Scan(&n, &id, &name, &ext, &c, &u, &rev); err != nil {
				return err
			}
			if id.Valid {
				gs = append(gs, store.Group{ID: id.String, Name: name.String, ExternalID: ext.String,
					CreatedAt: fromMillis(c.Int64), UpdatedAt: fromMillis(u.Int64), Revision: rev.Int64})
			}
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, 0, s.fail("list a page of groups", err)
	}
	return gs, n, nil
}

func (s *Store) GroupMembers(ctx context.Context, groups []string) (map[string][]store.User, error) {
	names := slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(groups))), func(n string) bool { return s.namesNothing(n) })
	out := make(map[string][]store.User, len(names))
	type member struct {
		group string
		u     store.User
	}
	err := inChunks(names, func(chunk []string) error {
		in, args := inList(chunk, 0)
		ms, err := query(ctx, s.r, func(sc scanner) (member, error) {
			var m member
			return m, sc.Scan(&m.group, &m.u.ID, &m.u.Name)
		}, `SELECT g.name, u.id, u.name FROM user_groups g JOIN users u ON u.id = g.user_id WHERE g.name IN (`+in+`) ORDER BY lower(u.name)`, args...)
		for _, m := range ms {
			out[m.group] = append(out[m.group], m.u)
		}
		return err
	})
	if err != nil {
		return nil, s.fail("list members of groups", err)
	}
	return out, nil
}

func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sync_groups SET name = $2, external_id = $3, updated_at = $4, revision = revision + 1 WHERE id = $1`,
		g.ID, g.Name, g.ExternalID, millis(g.UpdatedAt))
	if errors.Is(s.d.Constraint(err), store.ErrExists) {
		err = store.ErrExists
	}
	if err := changedOne(res, err); err != nil {
		return s.fail(fmt.Sprintf("update group %q", g.ID), err)
	}
	return nil
}

// ApplyGroupChange writes (or creates, or deletes) the group's record first, on its
// revision when c names one, then its users' changes, in one transaction: the group's row
// is locked (PostgreSQL) or the database is (SQLite) from the conditional UPDATE (or the
// INSERT) to the commit, so a concurrent change on the same revision finds it changed, a
// concurrent create of the same name waits and finds it taken, and a user change that
// fails (a refusal, a revision gone) rolls back the group's write with it.
func (s *Store) ApplyGroupChange(ctx context.Context, c store.GroupChange) error {
	if c.Create && (c.Delete || c.IfRevision != nil) {
		return s.fail(fmt.Sprintf("change group %q", c.ID), errors.New("a create is neither a delete nor on a revision"))
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.on(s.w, tx)
		if err := s.lockFirst(ctx, q, c.ID, c.Users); err != nil {
			return err
		}
		upd := `UPDATE sync_groups SET name = $2, external_id = $3, updated_at = $4, revision = revision + 1 WHERE id = $1`
		args := []any{c.ID, c.Name, c.ExternalID, millis(c.UpdatedAt)}
		switch {
		case c.Create:
			upd = `INSERT INTO sync_groups (` + groupCols + `) VALUES ($1, $2, $3, $4, $4, 0)`
		case c.Delete:
			upd, args = `DELETE FROM sync_groups WHERE id = $1`, []any{c.ID}
		}
		if c.IfRevision != nil {
			args = append(args, *c.IfRevision)
			upd += fmt.Sprintf(` AND revision = $%d`, len(args))
		}
		res, err := q.ExecContext(ctx, upd, args...)
		if errors.Is(s.d.Constraint(err), store.ErrExists) {
			return store.ErrExists
		}
		if err := changedOne(res, err); err != nil {
			if errors.Is(err, store.ErrNotFound) && c.IfRevision != nil {
				// Gone, or at another revision: which one the caller is told.
				var one int
				if qerr := q.QueryRowContext(ctx, `SELECT 1 FROM sync_groups WHERE id = $1`, c.ID).Scan(&one); qerr == nil {
					return store.ErrStale
				}
			}
			return err
		}
		ids, err := s.memberIDs(ctx, q, c.Users)
		if err != nil {
			return err
		}
		for _, uc := range c.Users {
			id, ok := ids[store.FoldName(uc.Name)]
			switch {
			case !ok:
				err = s.applyChange(ctx, q, uc, c.Name) // it reads the id, and says why there is none
			case uc.IfUser != "" && id != uc.IfUser:
				err = store.ErrStale // another user of the name, created since
			default:
				err = s.writeChange(ctx, q, id, uc, c.Name)
			}
			if err != nil {
				return fmt.Errorf("user %q: %w", uc.Name, err)
			}
		}
		if err := setApplied(ctx, q, c.Events, c.Owner, c.UpdatedAt); err != nil {
			return err
		}
		// As MarkKeys moves them: in the write's commit, never back.
		return markKeys(ctx, q, c.Marks)
	})
	if err != nil {
		return s.fail(fmt.Sprintf("change group %q", c.ID), err)
	}
	return nil
}

// memberIDs reads the ids of the users changes change, by folded name, a statement a
// batch of them, for applyChange's read of each (a round trip a member on PostgreSQL).
// None when a change creates or deletes a user: a later change of its name reads what
// the earlier made, and so reads it then. A name without a user is left out, for
// applyChange to read, and fail, as ever.
func (s *Store) memberIDs(ctx context.Context, q querier, changes []store.UserChange) (map[string]string, error) {
	names := make([]string, 0, len(changes))
	for _, c := range changes {
		if c.Create != nil || c.Delete {
			return nil, nil
		}
		if !s.namesNothing(c.Name) {
			names = append(names, store.FoldName(c.Name))
		}
	}
	ids := make(map[string]string, len(names))
	err := inBatches(slices.Compact(slices.Sorted(slices.Values(names))), func(batch []string) error {
		in, args := inList(batch, 0)
		type idName struct{ id, folded string }
		rows, err := query(ctx, q, func(sc scanner) (idName, error) {
			var r idName
			return r, sc.Scan(&r.id, &r.folded)
		}, `SELECT id, lower(name) FROM users WHERE lower(name) IN (`+in+`)`, args...)
		for _, r := range rows {
			ids[r.folded] = r.id
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("member ids: %w", err)
	}
	return ids, nil
}

// setApplied records owner's events seqs applied, a statement a batch of them, not one
// an event; one no longer owner's fails it (store.ErrConflict), the first of seqs so
// named.
func setApplied(ctx context.Context, q querier, seqs []int64, owner string, now time.Time) error {
	applied := make(map[int64]bool, len(seqs))
	if err := updateLeased(ctx, q, `applied = TRUE, updated_at = $1`, []any{millis(now)}, owner, seqs, applied); err != nil {
		return err
	}
	for _, seq := range seqs {
		if !applied[seq] {
			return fmt.Errorf("sync event %d no longer leased to this write: %w", seq, store.ErrConflict)
		}
	}
	return nil
}

func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sync_groups WHERE id = $1`, id)
	if err := changedOne(res, err); err != nil {
		return s.fail(fmt.Sprintf("delete group %q", id), err)
	}
	return nil
}

func (s *Store) UserNamesByID(ctx context.Context, ids []string) (map[string]string, error) {
	keys := slices.DeleteFunc(slices.Compact(slices.Sorted(slices.Values(ids))), func(id string) bool { return s.namesNothing(id) })
	out := make(map[string]string, len(keys))
	err := inChunks(keys, func(chunk []string) error {
		in, args := inList(chunk, 0)
		type idName struct{ id, name string }
		rows, err := query(ctx, s.r, func(sc scanner) (idName, error) {
			var r idName
			return r, sc.Scan(&r.id, &r.name)
		}, `SELECT id, name FROM users WHERE id IN (`+in+`)`, args...)
		for _, r := range rows {
			out[r.id] = r.name
		}
		return err
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("names of %d user ids", len(keys)), err)
	}
	return out, nil
}

func (s *Store) UserNameByID(ctx context.Context, id string) (string, error) {
	if s.namesNothing(id) {
		return "", s.fail(fmt.Sprintf("user id %q", id), store.ErrNotFound)
	}
	var name string
	err := s.r.QueryRowContext(ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&name)
	if err != nil {
		return "", s.fail(fmt.Sprintf("user id %q", id), notFound(err))
	}
	return name, nil
}
