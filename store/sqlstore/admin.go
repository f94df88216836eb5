package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/store"
)

// The Directory half of the store (store/admin.go): profiles, groups, admin tokens,
// capability switches and the admin's audit queries.

// execer is what *sql.DB and *sql.Tx have in common.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// defaultPage applies when a query's Limit is <= 0.
const defaultPage = 100

// inChunk bounds the ids one IN (...) list carries, well under either database's limit
// on parameters.
const inChunk = 500

func (s *Store) ApplyUserChanges(ctx context.Context, changes []store.UserChange) []error {
	if s.holds != nil {
		return s.applyHeld(ctx, changes)
	}
	return s.applyUserChanges(ctx, changes)
}

// applyHeld is ApplyUserChanges on a database whose text cannot hold every string
// (TextLimits): a change that names a user or a factor by text no row can hold fails
// alone, as it does where the database finds no such row, and the others are applied.
// Sent to the database, its name failed the batch's first statement, and with it every
// change of the batch.
func (s *Store) applyHeld(ctx context.Context, changes []store.UserChange) []error {
	errs := make([]error, len(changes))
	var held []store.UserChange
	var at []int
	for i, c := range changes {
		c, err := s.namesNoRow(c)
		if err != nil {
			errs[i] = s.fail(fmt.Sprintf("change user %q", c.Name), err)
			continue
		}
		held, at = append(held, c), append(at, i)
	}
	if len(held) > 0 {
		for j, err := range s.applyUserChanges(ctx, held) {
			errs[at[j]] = err
		}
	}
	return errs
}

// namesNoRow is c, and the error of a change that names a user or a factor no row can
// hold (namesNothing), as the change-by-change path reports one that is gone. A reset's
// factor that is gone is reset already (writeChange skips it): it is dropped from c.
func (s *Store) namesNoRow(c store.UserChange) (store.UserChange, error) {
	if c.Create == nil && s.namesNothing(c.Name) {
		return c, store.ErrNotFound
	}
	for _, u := range c.UpdateFactors {
		if s.namesNothing(u.ID) {
			if u.IfPending {
				return c, fmt.Errorf("factor %s: %w", u.ID, store.ErrStale)
			}
			return c, fmt.Errorf("factor %s: %w", u.ID, store.ErrNotFound)
		}
	}
	if c.Reset != nil {
		c.StateChanges = slices.DeleteFunc(slices.Clone(c.StateChanges), func(sc store.FactorStateChange) bool { return s.namesNothing(sc.ID) })
		c.DeleteFactors = slices.DeleteFunc(slices.Clone(c.DeleteFactors), func(id string) bool { return s.namesNothing(id) })
		return c, nil
	}
	for _, sc := range c.StateChanges {
		if s.namesNothing(sc.ID) {
			return c, fmt.Errorf("factor %s: %w", sc.ID, store.ErrNotFound)
		}
	}
	for _, id := range c.DeleteFactors {
		if s.namesNothing(id) {
			return c, fmt.Errorf("factor %s: %w", id, store.ErrNotFound)
		}
	}
	return c, nil
}

func (s *Store) applyUserChanges(ctx context.Context, changes []store.UserChange) []error {
	errs := make([]error, len(changes))
	if len(changes) == 0 || s.applyPipelined(ctx, changes) {
		return errs
	}
	// One transaction for the batch (one commit, so one fsync, for a whole chunk of an
	// import), one savepoint per change, so a change that fails is undone alone. Its
	// statements run prepared where the store keeps them so (SQLite): parsing each
	// statement's text was a third of an import's CPU.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.on(s.w, tx)
		if err := s.lockFirst(ctx, tx, "", changes); err != nil {
			return err
		}
		for i, c := range changes {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT change`); err != nil {
				return err
			}
			if err := s.applyChange(ctx, q, c, ""); err != nil {
				errs[i] = s.fail(fmt.Sprintf("change user %q", c.Name), err)
				if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT change`); rerr != nil {
					return rerr
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT change`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Nothing was committed: every change failed, with the cause of the batch.
		err = s.fail("apply user changes", err)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// applyPipelined applies a batch of user changes (an import's, the admin API's, SCIM's)
// as one unit on a dialect that runs units pipelined (PostgreSQL): every statement goes
// out with the COMMIT, one round trip for the batch after one read of the existing users'
// ids. Change by change, each savepoint and statement is a round trip of its own, some
// seven a user: an import of 10,000 new users took 8-10 s, one changing 10,000 users 9 s.
// An existing user is assumed to be there still, under its name (sqlstore.Assumer), and
// is locked until the commit; a factor it updates or deletes, to be the user's (execOne).
//
// It reports whether it applied them. Any failure (a name that exists or that is gone, a
// fault) rolls all of it back, and the change-by-change path applies them and says which
// failed. (A COMMIT whose answer is lost with the connection is a failure too: the second
// path then finds every new name taken, as a retry of the whole call would.)
func (s *Store) applyPipelined(ctx context.Context, changes []store.UserChange) bool {
	r, ok := s.d.(UnitRunner)
	if !ok || s.g != nil {
		return false
	}
	var existing []string
	for _, c := range changes {
		if c.Create == nil {
			existing = append(existing, c.Name)
		}
	}
	ids, err := s.userIDs(ctx, existing)
	if err != nil || len(ids) != len(existing) {
		return false // a user not found, or changed twice: change by change
	}
	return r.RunUnit(ctx, s.w, func(e Execer) error {
		w := &writer{s: s, e: e, unit: true}
		if err := s.lockFirst(ctx, later{w}, "", changes); err != nil {
			return err
		}
		for _, c := range changes {
			id := ids[store.FoldName(c.Name)]
			if c.Create != nil {
				id = c.Create.ID
			} else if c.IfUser != "" && id != c.IfUser {
				return errNotPipelined // the change-by-change path refuses it
			} else if !w.assume(ctx, func() string {
				// The lock an UPDATE of the row takes: another batch changing the same
				// user waits here. Locked FOR SHARE, both went on to the UPDATE and
				// deadlocked, a second's stall (TestUserBatchesOnOneUserDoNotDeadlock).
				return assumption(`SELECT id FROM users WHERE id = $1 AND lower(name) = $2 FOR NO KEY UPDATE`, "")
			}, id, store.FoldName(c.Name)) {
				return errNotPipelined // the runner's careful run: the change-by-change path instead
			}
			if err := s.writeChange(ctx, later{w}, id, c, ""); err != nil {
				return err
			}
		}
		return nil
	}) == nil
}

// lockFirst takes, first in a transaction that changes users (PostgreSQL's; SQLite has one
// writer), the row locks its changes will take, in the one order every such transaction
// takes them: the SCIM groups whose revision they may move (the groups the users have and
// those their new profiles name, and groupID's, the group a SCIM write writes), by id,
// then the users, by id. Taken as each change came, in the order an import's file or a
// directory's member list gave, a group write and an import batch changing the same users
// each held a row the other waited for, and PostgreSQL aborted one (40P01).
func (s *Store) lockFirst(ctx context.Context, tx execContext, groupID string, changes []store.UserChange) error {
	if s.name != "postgres" || len(changes) == 0 {
		return nil
	}
	// A name no row can hold (namesNothing) has no row to lock, and would fail the
	// statement, and with it the batch: the change that gives it fails alone, later.
	names, groups := make([]string, 0, len(changes)), []string{}
	for _, c := range changes {
		if !s.namesNothing(c.Name) {
			names = append(names, store.FoldName(c.Name))
		}
		if c.Profile != nil {
			for _, g := range c.Profile.Groups {
				if !s.namesNothing(g) {
					groups = append(groups, g)
				}
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM sync_groups WHERE id = $3 OR name = ANY($2::text[])
		OR name IN (SELECT g.name FROM user_groups g JOIN users u ON u.id = g.user_id WHERE lower(u.name) = ANY($1::text[]))
		ORDER BY id FOR NO KEY UPDATE`, names, groups, groupID); err != nil {
		return fmt.Errorf("lock groups: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM users WHERE lower(name) = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`, names); err != nil {
		return fmt.Errorf("lock users: %w", err)
	}
	return nil
}

// errNotPipelined: the batch goes change by change.
var errNotPipelined = errors.New("not pipelined")

// userIDs maps names, folded (store.FoldName), to the ids of the users that have them.
func (s *Store) userIDs(ctx context.Context, names []string) (map[string]string, error) {
	ids := make(map[string]string, len(names))
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = store.FoldName(n)
	}
	type user struct{ name, id string }
	err := inChunks(keys, func(chunk []string) error {
		in, args := inList(chunk, 0)
		us, err := query(ctx, s.r, func(sc scanner) (user, error) {
			var u user
			return u, sc.Scan(&u.name, &u.id)
		}, `SELECT lower(name), id FROM users WHERE lower(name) IN (`+in+`)`, args...)
		for _, u := range us {
			ids[u.name] = u.id
		}
		return err
	})
	return ids, err
}

// later is a unit's writer as an execContext: each statement is sent Later, to go out
// with the next, and its result is not known. Only for statements whose result is not
// read: a RowsAffected fails. One that must change a row goes through execOne.
type later struct{ w *writer }

func (l later) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return unknownResult{}, l.w.e.Later(ctx, q, args...)
}

// execOne runs q, an UPDATE or DELETE that must change one row: store.ErrNotFound if it
// changes none. In a pipelined batch (later) it is the writer's changesOne: assumed to
// change one, it fails the unit if it does not, and the batch then goes change by
// change, which reports it.
func execOne(ctx context.Context, tx execContext, q string, args ...any) error {
	if l, ok := tx.(later); ok {
		return l.w.changesOne(ctx, q, args...)
	}
	return changedOne(tx.ExecContext(ctx, q, args...))
}

type unknownResult struct{}

func (unknownResult) LastInsertId() (int64, error) { return 0, errors.New("no insert id") }
func (unknownResult) RowsAffected() (int64, error) {
	return 0, errors.New("a statement sent later has no result yet")
}

// execContext runs a statement: *sql.Tx, *sql.DB, later.
type execContext interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// applyChange applies c; group names the SCIM group whose own write c is part of (""
// none): see writeChange.
func (s *Store) applyChange(ctx context.Context, tx querier, c store.UserChange, group string) error {
	var userID string
	if u := c.Create; u != nil {
		userID = u.ID
	} else if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE lower(name) = $1`, store.FoldName(c.Name)).Scan(&userID); err != nil {
		return notFound(err)
	} else if c.IfUser != "" && userID != c.IfUser {
		return store.ErrStale // another user of the name, created since
	}
	return s.writeChange(ctx, tx, userID, c, group)
}

// writeChange writes c for the user userID: its creation (c.Create), then the rest. The
// SCIM groups (sync_groups) whose members it changes move to their next revision in the
// same step, whichever path the change came by, except group, the group whose own write
// (ApplyGroupChange) c is part of: its record's write moves it, by one.
func (s *Store) writeChange(ctx context.Context, tx execContext, userID string, c store.UserChange, group string) error {
	if u := c.Create; u != nil {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4)`,
			u.ID, u.Name, u.Disabled, millis(u.CreatedAt))
		if errors.Is(s.d.Constraint(err), store.ErrExists) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
	}
	if c.Disabled != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = $2 WHERE id = $1`, userID, *c.Disabled); err != nil {
			return err
		}
	}
	if err := writeProfile(ctx, tx, userID, c, group); err != nil {
		return err
	}
	marksAt := c.Now
	if !c.MarksAt.IsZero() {
		marksAt = c.MarksAt
	}
	if len(c.IfMarks) > 0 {
		// After the change's lock of the groups' rows (lockFirst, on PostgreSQL) and its
		// update of them, which a group's deletion writes too: a deletion committed before
		// is seen here (store.UserChange.IfMarks). An UPDATE, to be sent pipelined, of a
		// column no trigger watches (the profile's moves its revision).
		in, inArgs := inList(c.IfMarks, 2)
		err := execOne(ctx, tx, `UPDATE users SET created_at = created_at WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM sync_marks WHERE key IN (`+in+`) AND event_time > $2)`,
			append([]any{userID, millis(marksAt)}, inArgs...)...)
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrStale
		}
		if err != nil {
			return err
		}
	}
	for i, f := range c.CreateFactors {
		f.UserID = userID
		if c.FactorsWithin > 0 {
			var alike store.Alike
			if i < len(c.FactorsAlike) {
				alike = c.FactorsAlike[i]
			}
			if err := s.factorWithin(ctx, tx, f, c.FactorsWithin, alike); err != nil {
				return fmt.Errorf("factor %s: %w", f.ID, err)
			}
		}
		if err := s.insertFactor(ctx, tx, f); err != nil {
			return fmt.Errorf("factor %s: %w", f.ID, err)
		}
	}
	for _, u := range c.UpdateFactors {
		if u.LabelOnly {
			if err := execOne(ctx, tx, `UPDATE factors SET label = $3, updated_at = $4 WHERE id = $1 AND user_id = $2`,
				u.ID, userID, u.Label, millis(c.Now)); err != nil {
				return fmt.Errorf("factor %s: %w", u.ID, err)
			}
			continue
		}
		p, err := encodeParams(u.Params)
		if err != nil {
			return err
		}
		q, args := `UPDATE factors SET label = $3, params = $4, updated_at = $5 WHERE id = $1 AND user_id = $2`, []any{u.ID, userID, u.Label, p, millis(c.Now)}
		if u.IfPending {
			q, args = q+` AND state = $6`, append(args, string(store.FactorPending))
			if u.Alike.Type {
				// Under the lock CreateFactorWithin takes: of this and an enrollment side by
				// side, the later sees the earlier's factor.
				if s.name == "postgres" {
					if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, userLockClass, userID); err != nil {
						return err
					}
				}
				same := ""
				if u.Alike.Param != "" {
					same = ` AND lower(o.params ->> CAST($7 AS TEXT)) = lower(CAST($8 AS TEXT))`
					args = append(args, u.Alike.Param, u.Params[u.Alike.Param])
				}
				q += ` AND NOT EXISTS (SELECT 1 FROM factors AS o WHERE o.user_id = $2 AND o.id <> $1 AND o.type = factors.type` + same + `)`
			}
		}
		if err := execOne(ctx, tx, q, args...); err != nil {
			if u.IfPending && errors.Is(err, store.ErrNotFound) {
				err = store.ErrStale // activated or deleted since it was read
			}
			return fmt.Errorf("factor %s: %w", u.ID, err)
		}
	}
	// A reset's factor that is gone (deleted, or expired by the sweeper, since the reset
	// listed them) is reset already: the rest of the reset still applies, rather than
	// failing whole as if the user were gone.
	factorWrite := execOne
	if c.Reset != nil {
		factorWrite = func(ctx context.Context, tx execContext, q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q, args...)
			return err
		}
	}
	for _, sc := range c.StateChanges {
		if sc.DeletePending && c.Reset != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM factors WHERE id = $1 AND user_id = $2 AND state = $3`,
				sc.ID, userID, string(store.FactorPending)); err != nil {
				return fmt.Errorf("factor %s: %w", sc.ID, err)
			}
		}
		if err := factorWrite(ctx, tx, `UPDATE factors SET state = $3, updated_at = $4 WHERE id = $1 AND user_id = $2`,
			sc.ID, userID, string(sc.State), millis(c.Now)); err != nil {
			return fmt.Errorf("factor %s: %w", sc.ID, err)
		}
	}
	for _, id := range c.DeleteFactors {
		if err := factorWrite(ctx, tx, `DELETE FROM factors WHERE id = $1 AND user_id = $2`, id, userID); err != nil {
			return fmt.Errorf("factor %s: %w", id, err)
		}
	}
	// In the change's commit: no request of a session finds trusted what the change ended.
	if err := endSessions(ctx, tx, userID, c); err != nil {
		return err
	}
	if c.Delete {
		// Its groups lose a member.
		if _, err := tx.ExecContext(ctx, `UPDATE sync_groups SET `+groupMoved+`
			WHERE name <> $3 AND name IN (SELECT name FROM user_groups WHERE user_id = $1)`, userID, millis(c.Now), group); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, userID); err != nil {
			return err
		}
	}
	for _, ev := range c.Audit {
		if err := insertAudit(ctx, tx, ev); err != nil {
			return err
		}
	}
	// As FinishApplied queues its propagations: in the change's commit, once each.
	for _, e := range c.Queue {
		if _, err := tx.ExecContext(ctx, insertEventSQL+` ON CONFLICT (source, event_id) DO NOTHING`, eventArgs(e, "", time.Time{}, c.Now)...); err != nil {
			return fmt.Errorf("queue %s: %w", e.Source, err)
		}
	}
	// As MarkKeys moves them: in the change's commit, never back.
	for _, key := range c.Marks {
		if _, err := tx.ExecContext(ctx, markKeySQL, key, millis(marksAt)); err != nil {
			return fmt.Errorf("mark %s: %w", key, err)
		}
	}
	return nil
}

// writeProfile stamps the user changed, one more on its revision, and replaces its
// profile when c sets one (its groups by replaceGroups). With c.IfRevision it changes
// nothing and answers store.ErrStale when the revision is no longer that one.
func writeProfile(ctx context.Context, tx execContext, userID string, c store.UserChange, group string) error {
	cols, vals := `user_id, updated_at, revision`, `$1, $2, 1`
	set := `updated_at = excluded.updated_at, revision = user_profiles.revision + 1`
	args := []any{userID, millis(c.Now)}
	if p := c.Profile; p != nil {
		attrs, err := encodeParams(p.Attributes)
		if err != nil {
			return err
		}
		cols, vals = cols+`, email, phone, display_name, attributes, country`, vals+`, $3, $4, $5, $6, $7`
		set += `, email = excluded.email, phone = excluded.phone, display_name = excluded.display_name, attributes = excluded.attributes, country = excluded.country`
		args = append(args, p.Email, p.Phone, p.DisplayName, attrs, p.Country)
	}
	q := `INSERT INTO user_profiles (` + cols + `) VALUES (` + vals + `) ON CONFLICT (user_id) DO UPDATE SET ` + set
	switch {
	case c.IfRevision == nil:
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	case *c.IfRevision == 0:
		// Revision 0 is a user without a profile row yet, or one whose row is at 0: every
		// row from before migration 12 (it gave them 0), and the rows an emfa from before
		// it still writes during a rolling upgrade (it never names the revision). The row
		// is made if there is none, or changed if it is still at 0; at any other revision
		// the upsert changes no row, and the change is stale. (DO NOTHING here left every
		// user of an upgraded database unchangeable: its row was never at "no row".)
		err := execOne(ctx, tx, q+` WHERE user_profiles.revision = 0`, args...)
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrStale
		}
		if err != nil {
			return err
		}
	default:
		// Any other revision is a row's: without the row, or at another revision, the
		// change is stale (an INSERT would make the row whatever the condition said).
		upd := `UPDATE user_profiles SET updated_at = $2, revision = revision + 1`
		if c.Profile != nil {
			upd += `, email = $3, phone = $4, display_name = $5, attributes = $6, country = $7`
		}
		args = append(args, *c.IfRevision)
		err := execOne(ctx, tx, upd+fmt.Sprintf(` WHERE user_id = $1 AND revision = $%d`, len(args)), args...)
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrStale
		}
		if err != nil {
			return err
		}
	}
	if c.Profile == nil {
		return nil
	}
	return replaceGroups(ctx, tx, userID, c.Profile.Groups, millis(c.Now), group)
}

// groupMoved is the SET of a SCIM group whose members changed at $2: its next revision,
// and its time of change unless it has a later one.
const groupMoved = `revision = revision + 1, updated_at = CASE WHEN updated_at < $2 THEN $2 ELSE updated_at END`

// replaceGroups makes groups the user's, first moving the SCIM groups it joins or leaves,
// but group, to their next revision at now (the statement reads the groups it had).
func replaceGroups(ctx context.Context, tx execContext, userID string, groups []string, now int64, group string) error {
	groups = slices.Compact(slices.Sorted(slices.Values(groups)))
	had := `name IN (SELECT name FROM user_groups WHERE user_id = $1)`
	moved := had // left, when it has none now
	args := []any{userID, now, group}
	if len(groups) > 0 {
		in, inArgs := inList(groups, len(args))
		args = append(args, inArgs...)
		moved = `(` + had + `) <> (name IN (` + in + `))` // joined or left
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_groups SET `+groupMoved+` WHERE name <> $3 AND `+moved, args...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if len(groups) == 0 {
		return nil
	}
	rows := make([]string, len(groups))
	args = []any{userID}
	for i, g := range groups {
		rows[i] = fmt.Sprintf("($1, $%d)", i+2)
		args = append(args, g)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, name) VALUES `+strings.Join(rows, ", "), args...)
	return err
}

// insertFactor inserts f; a constraint it breaks is returned as store.ErrExists (the id
// is taken) or store.ErrNotFound (no such user).
func (s *Store) insertFactor(ctx context.Context, db execContext, f store.Factor) error {
	params, err := encodeParams(f.Params)
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx,
		`INSERT INTO factors (`+factorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		f.ID, f.UserID, f.Type, f.Label, string(f.State), f.Secret, f.KeyID, params,
		f.Counter, f.Failures, millis(f.LockedUntil), millis(f.CreatedAt), millis(f.UpdatedAt))
	if c := s.d.Constraint(err); c != nil {
		return c
	}
	return err
}

// factorWithin is CreateFactorWithin's condition, checked before a change's factor f is
// inserted: on PostgreSQL under the same lock of the user, so that of a change and an
// enrollment side by side the later sees the earlier's factor.
func (s *Store) factorWithin(ctx context.Context, tx execContext, f store.Factor, most int, alike store.Alike) error {
	if s.name == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, userLockClass, f.UserID); err != nil {
			return err
		}
	}
	q, args := countWithin(f, alike)
	if l, ok := tx.(later); ok {
		// Assumed within; when not, the batch goes change by change, which says why.
		if l.w.assume(ctx, func() string {
			return assumption(`SELECT 1 FROM (`+q+`) AS c WHERE c.n < $`+strconv.Itoa(len(args)+1)+` AND c.alike = 0`, "")
		}, append(args, most)...) {
			return nil
		}
		return errNotPipelined
	}
	r, ok := tx.(interface {
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	})
	if !ok {
		return fmt.Errorf("factor %s: a bound cannot be read here", f.ID)
	}
	var n, alikeN int
	if err := r.QueryRowContext(ctx, q, args...).Scan(&n, &alikeN); err != nil {
		return err
	}
	if n >= most {
		return fmt.Errorf("user %s has %d factors: %w", f.UserID, n, store.ErrTooMany)
	}
	if alikeN > 0 {
		return fmt.Errorf("user %s: %w", f.UserID, store.ErrAlike)
	}
	return nil
}

func insertAudit(ctx context.Context, db execContext, e store.AuditEvent) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO audit (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		millis(e.Time), e.RequestID, e.Provider, e.Username, e.Capability, e.FactorID, e.Resource, e.Outcome, e.Reason, e.WebhookID, e.Actor)
	return err
}

// --- user records ---

const recordCols = `u.id, u.name, u.disabled, u.created_at,
	COALESCE(p.email, ''), COALESCE(p.phone, ''), COALESCE(p.display_name, ''), COALESCE(p.attributes, '{}'), COALESCE(p.updated_at, 0), COALESCE(p.revision, 0), COALESCE(p.country, '')`

const recordFrom = ` FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id`

func scanRecord(sc scanner) (store.UserRecord, error) {
	var r store.UserRecord
	var created, updated int64
	var attrs string
	err := sc.Scan(&r.ID, &r.Name, &r.Disabled, &created, &r.Profile.Email, &r.Profile.Phone,
		&r.Profile.DisplayName, &attrs, &updated, &r.Profile.Revision, &r.Profile.Country)
	if err != nil {
		return store.UserRecord{}, err
	}
	if r.Profile.Attributes, err = decodeParams(attrs); err != nil {
		return store.UserRecord{}, fmt.Errorf("user %q: attributes: %w", r.Name, err)
	}
	r.CreatedAt, r.Profile.UpdatedAt = fromMillis(created), fromMillis(updated)
	return r, nil
}

func (s *Store) GetUserRecord(ctx context.Context, name string) (store.UserRecord, error) {
	if s.namesNothing(name) {
		return store.UserRecord{}, s.fail(fmt.Sprintf("get user record %q", name), store.ErrNotFound)
	}
	r, err := scanRecord(s.r.QueryRowContext(ctx, `SELECT `+recordCols+recordFrom+` WHERE lower(u.name) = $1`, store.FoldName(name)))
	if err != nil {
		return store.UserRecord{}, s.fail(fmt.Sprintf("get user record %q", name), notFound(err))
	}
	recs := []store.UserRecord{r}
	if err := s.addGroups(ctx, recs); err != nil {
		return store.UserRecord{}, s.fail(fmt.Sprintf("get user record %q", name), err)
	}
	return recs[0], nil
}

func (s *Store) GetUserRecords(ctx context.Context, names []string) (map[string]store.UserRecord, error) {
	// Folded and distinct already (the contract): only those no row could hold are left out.
	keys := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return s.namesNothing(n) })
	out := make(map[string]store.UserRecord, len(keys))
	err := inChunks(keys, func(chunk []string) error {
		in, args := inList(chunk, 0)
		recs, err := query(ctx, s.r, scanRecord, `SELECT `+recordCols+recordFrom+` WHERE lower(u.name) IN (`+in+`)`, args...)
		if err == nil {
			err = s.addGroups(ctx, recs)
		}
		for _, r := range recs {
			out[store.FoldName(r.Name)] = r
		}
		return err
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("get %d user records", len(keys)), err)
	}
	return out, nil
}

func (s *Store) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	if s.namesNothing(q.Prefix, q.Group, q.ExternalID) {
		return []store.UserRecord{}, nil
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := s.userWhere(q, arg)
	if q.After != "" {
		where = append(where, "lower(u.name) > "+arg(store.FoldName(q.After)))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	sqlq := `SELECT ` + recordCols + recordFrom
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY lower(u.name) LIMIT ` + arg(limit)
	if q.Offset > 0 {
		sqlq += ` OFFSET ` + arg(q.Offset)
	}
	recs, err := query(ctx, s.r, scanRecord, sqlq, args...)
	if err == nil {
		err = s.addGroups(ctx, recs)
	}
	if err != nil {
		return nil, s.fail("list user records", err)
	}
	return recs, nil
}

func (s *Store) CountUserRecords(ctx context.Context, q store.UserQuery) (int, error) {
	if s.namesNothing(q.Prefix, q.Group, q.ExternalID) {
		return 0, nil
	}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	sqlq := `SELECT count(*) FROM users u`
	if where := s.userWhere(q, arg); len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	var n int
	if err := s.r.QueryRowContext(ctx, sqlq, args...).Scan(&n); err != nil {
		return 0, s.fail("count user records", err)
	}
	return n, nil
}

// userWhere is the conditions on users u of q's Prefix, Group, Disabled, ExternalID,
// Emails and DisplayNames and their prefixes, their values added by arg.
func (s *Store) userWhere(q store.UserQuery, arg func(any) string) []string {
	var where []string
	// By folded name (users_name_folded's key, unique): the order, the prefix and the
	// cursor all ignore ASCII case, as every other lookup by name does.
	if q.Prefix != "" {
		// The range lets the index start at the prefix; substr decides.
		p := store.FoldName(q.Prefix)
		where = append(where, fmt.Sprintf("lower(u.name) >= %s AND substr(lower(u.name), 1, %s) = %s",
			arg(p), arg(utf8.RuneCountInString(p)), arg(p)))
	}
	if q.Disabled != nil {
		where = append(where, "u.disabled = "+arg(*q.Disabled))
	}
	if q.Group != "" {
		where = append(where, "EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = u.id AND g.name = "+arg(q.Group)+")")
	}
	if q.ExternalID != "" {
		// The attribute unqualified, as user_profiles_external_id names it.
		where = append(where, "u.id IN (SELECT user_id FROM user_profiles WHERE "+s.d.ExternalIDOf("attributes")+" = "+arg(q.ExternalID)+")")
	}
	// The columns folded as user_profiles_email_folded and _display_name_folded have them.
	for _, by := range []struct {
		col  string
		keys []string
	}{{"email", q.Emails}, {"display_name", q.DisplayNames}} {
		if by.keys == nil {
			continue
		}
		var in []string
		for _, k := range by.keys {
			if !s.namesNothing(k) { // a key no text column holds matches none
				in = append(in, arg(k))
			}
		}
		if len(in) == 0 {
			where = append(where, "1 = 0")
			continue
		}
		where = append(where, "u.id IN (SELECT user_id FROM user_profiles WHERE "+s.d.FoldedOf(by.col)+" IN ("+strings.Join(in, ", ")+"))")
	}
	// By prefix: a range of the same index each, from the prefix to the text after
	// every one starting with it (byte order: the index's).
	for _, by := range []struct {
		col      string
		prefixes []string
	}{{"email", q.EmailPrefixes}, {"display_name", q.DisplayNamePrefixes}} {
		if by.prefixes == nil {
			continue
		}
		folded := s.d.FoldedOf(by.col)
		var ranges []string
		for _, p := range by.prefixes {
			switch end, ok := prefixEnd(p); {
			case s.namesNothing(p):
			case p == "" || !ok:
				ranges = append(ranges, folded+" >= "+arg(p))
			default:
				ranges = append(ranges, "("+folded+" >= "+arg(p)+" AND "+folded+" < "+arg(end)+")")
			}
		}
		if len(ranges) == 0 {
			where = append(where, "1 = 0")
			continue
		}
		where = append(where, "u.id IN (SELECT user_id FROM user_profiles WHERE "+strings.Join(ranges, " OR ")+")")
	}
	return where
}

// prefixEnd is the least text after every one starting with p, in byte order (UTF-8's
// is the code points'): p with its last code point short of U+10FFFF one up, what
// follows it dropped (an invalid byte is, too: a later end); ok is false when there is
// none (p is "" or all U+10FFFF).
func prefixEnd(p string) (end string, ok bool) {
	for p != "" {
		r, n := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-n]
		switch {
		case r == utf8.MaxRune || r == utf8.RuneError && n == 1:
			continue
		case r == 0xD7FF: // the surrogates are no code points
			return p + "\uE000", true
		}
		return p + string(r+1), true
	}
	return "", false
}

// addGroups fills in the groups of recs.
func (s *Store) addGroups(ctx context.Context, recs []store.UserRecord) error {
	byID := make(map[string]*store.UserRecord, len(recs))
	ids := make([]string, len(recs))
	for i := range recs {
		byID[recs[i].ID] = &recs[i]
		ids[i] = recs[i].ID
	}
	type membership struct{ user, group string }
	return inChunks(ids, func(chunk []string) error {
		in, args := inList(chunk, 0)
		ms, err := query(ctx, s.r, func(sc scanner) (membership, error) {
			var m membership
			return m, sc.Scan(&m.user, &m.group)
		}, `SELECT user_id, name FROM user_groups WHERE user_id IN (`+in+`) ORDER BY user_id, `+s.d.ByteOrder("name"), args...)
		for _, m := range ms {
			r := byID[m.user]
			r.Profile.Groups = append(r.Profile.Groups, m.group)
		}
		return err
	})
}

func (s *Store) ListFactorsOf(ctx context.Context, userIDs []string) (map[string][]store.Factor, error) {
	out := map[string][]store.Factor{}
	err := inChunks(userIDs, func(chunk []string) error {
		in, args := inList(chunk, 0)
		fs, err := query(ctx, s.r, scanFactor,
			`SELECT `+factorCols+` FROM factors WHERE user_id IN (`+in+`) ORDER BY created_at, id`, args...)
		for _, f := range fs {
			out[f.UserID] = append(out[f.UserID], f)
		}
		return err
	})
	if err != nil {
		return nil, s.fail("list factors of users", err)
	}
	return out, nil
}

func (s *Store) LastUsed(ctx context.Context, factorIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	type use struct {
		id string
		at int64
	}
	err := inChunks(factorIDs, func(chunk []string) error {
		in, args := inList(chunk, 0)
		uses, err := query(ctx, s.r, func(sc scanner) (use, error) {
			var u use
			return u, sc.Scan(&u.id, &u.at)
		}, `SELECT id, last_used_at FROM factors WHERE id IN (`+in+`) AND last_used_at > 0`, args...)
		for _, u := range uses {
			out[u.id] = fromMillis(u.at)
		}
		return err
	})
	if err != nil {
		return nil, s.fail("last use of factors", err)
	}
	return out, nil
}

func (s *Store) ExpireFactor(ctx context.Context, id string, createdBefore time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.ExpireFactor(ctx, id, createdBefore) })
}

// ExpireFactor deletes a factor whose activation waited too long, in w's unit
// (store.Writer): the state test and the delete are one statement, so a factor activated
// since it was listed stays.
func (w *writer) ExpireFactor(ctx context.Context, id string, createdBefore time.Time) error {
	res, err := w.exec(w.c(ctx), `DELETE FROM factors WHERE id = $1 AND state = $2 AND created_at < $3`,
		id, string(store.FactorPending), millis(createdBefore))
	if err := changedOne(res, err); err != nil {
		return w.s.fail("expire factor "+id, err)
	}
	return nil
}

func (s *Store) ListPendingFactors(ctx context.Context, before time.Time, afterID string, limit int) ([]store.Factor, error) {
	if limit <= 0 {
		return nil, s.fail("list pending factors", fmt.Errorf("limit %d is not positive", limit))
	}
	fs, err := query(ctx, s.r, scanFactor,
		`SELECT `+factorCols+` FROM factors WHERE state = $1 AND created_at < $2 AND id > $3 ORDER BY id LIMIT $4`,
		string(store.FactorPending), millis(before), afterID, limit)
	if err != nil {
		return nil, s.fail("list pending factors", err)
	}
	return fs, nil
}

// inChunks calls fn with ids in chunks of at most inChunk.
func inChunks(ids []string, fn func([]string) error) error {
	for chunk := range slices.Chunk(ids, inChunk) {
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

// inList returns "$n+1, $n+2, ..." for vals, and vals as arguments.
func inList(vals []string, n int) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return valueRows("$1", 1, len(vals), n), args
}

// --- admin tokens ---

const tokenCols = `name, scope, hash, created_at, revoked_at`

func scanToken(sc scanner) (store.AdminToken, error) {
	var t store.AdminToken
	var created, revoked int64
	if err := sc.Scan(&t.Name, &t.Scope, &t.Hash, &created, &revoked); err != nil {
		return store.AdminToken{}, err
	}
	t.CreatedAt, t.RevokedAt = fromMillis(created), fromMillis(revoked)
	return t, nil
}

func (s *Store) CreateAdminToken(ctx context.Context, t store.AdminToken, ev store.AuditEvent) error {
	return s.createRecorded(ctx, fmt.Sprintf("admin token %q", t.Name),
		`INSERT INTO admin_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5)`, ev,
		t.Name, t.Scope, t.Hash, millis(t.CreatedAt), millis(t.RevokedAt))
}

func (s *Store) GetAdminToken(ctx context.Context, hash string) (store.AdminToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM admin_tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.AdminToken{}, s.fail("get admin token", notFound(err))
	}
	return t, nil
}

func (s *Store) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	ts, err := query(ctx, s.r, scanToken, `SELECT `+tokenCols+` FROM admin_tokens ORDER BY `+s.d.ByteOrder("name"))
	if err != nil {
		return nil, s.fail("list admin tokens", err)
	}
	return ts, nil
}

func (s *Store) RevokeAdminToken(ctx context.Context, name string, now time.Time, ev store.AuditEvent) error {
	return s.revokeRecorded(ctx, "admin_tokens", fmt.Sprintf("admin token %q", name), name, now, ev)
}

// createRecorded inserts a credential (an admin token, an OAuth client) and appends ev,
// the record of its issue, in one unit; ErrExists for a name, id or hash in use.
func (s *Store) createRecorded(ctx context.Context, what, insert string, ev store.AuditEvent, args ...any) error {
	return s.unit(ctx, func(w *writer) error {
		_, err := w.exec(w.c(ctx), insert, args...)
		if errors.Is(s.d.Constraint(err), store.ErrExists) {
			err = store.ErrExists
		}
		if err != nil {
			return s.fail("create "+what, err)
		}
		return w.AppendAudit(ctx, ev)
	})
}

// revokeRecorded revokes the credential of table named name and appends ev, the record of
// its revocation, in one unit.
func (s *Store) revokeRecorded(ctx context.Context, table, what, name string, now time.Time, ev store.AuditEvent) error {
	return s.unit(ctx, func(w *writer) error {
		if err := w.revokeNamed(w.c(ctx), table, name, now); err != nil {
			return s.fail("revoke "+what, err)
		}
		return w.AppendAudit(ctx, ev)
	})
}

// revokeNamed sets revoked_at on the row of table (a credential's: admin_tokens,
// oauth_clients) with name, if it is not revoked yet: ErrNotFound for no such row,
// ErrConflict for one revoked already.
func (w *writer) revokeNamed(ctx context.Context, table, name string, now time.Time) error {
	res, err := w.exec(ctx, `UPDATE `+table+` SET revoked_at = $2 WHERE name = $1 AND revoked_at = 0`, name, millis(now))
	err = changedOne(res, err)
	if errors.Is(err, store.ErrNotFound) {
		var one int
		if w.e.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE name = $1`, name).Scan(&one) == nil {
			err = fmt.Errorf("already revoked: %w", store.ErrConflict)
		}
	}
	return err
}

// --- capability switches ---

func (s *Store) SetCapabilitySwitch(ctx context.Context, sw store.CapabilitySwitch, ev store.AuditEvent) error {
	// One unit with its record, as a credential's issue (createRecorded).
	err := s.unit(ctx, func(w *writer) error {
		_, err := w.exec(w.c(ctx),
			`INSERT INTO capability_switches (provider, capability, disabled, reason, actor, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			 ON CONFLICT (provider, capability) DO UPDATE SET disabled = excluded.disabled, reason = excluded.reason,
			     actor = excluded.actor, updated_at = excluded.updated_at`,
			sw.Provider, sw.Capability, sw.Disabled, sw.Reason, sw.Actor, millis(sw.UpdatedAt))
		if err != nil {
			return err
		}
		return w.AppendAudit(ctx, ev)
	})
	if err != nil {
		return s.fail(fmt.Sprintf("set switch %s:%s", sw.Provider, sw.Capability), err)
	}
	return nil
}

func (s *Store) ListCapabilitySwitches(ctx context.Context) ([]store.CapabilitySwitch, error) {
	sws, err := query(ctx, s.r, func(sc scanner) (store.CapabilitySwitch, error) {
		var sw store.CapabilitySwitch
		var at int64
		err := sc.Scan(&sw.Provider, &sw.Capability, &sw.Disabled, &sw.Reason, &sw.Actor, &at)
		sw.UpdatedAt = fromMillis(at)
		return sw, err
	}, `SELECT provider, capability, disabled, reason, actor, updated_at FROM capability_switches ORDER BY provider, capability`)
	if err != nil {
		return nil, s.fail("list capability switches", err)
	}
	return sws, nil
}

// --- audit queries ---

// millisUp is t in milliseconds since the epoch, rounded up.
func millisUp(t time.Time) int64 {
	ms := millis(t)
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}

func (s *Store) QueryAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	var users []string // folded, those a row could hold
	if q.Username != "" {
		for _, n := range append([]string{q.Username}, q.UsernameForms...) {
			if !s.namesNothing(n) {
				users = append(users, store.FoldName(n))
			}
		}
		users = slices.Compact(slices.Sorted(slices.Values(users)))
	}
	if (q.Username != "" && len(users) == 0) || s.namesNothing(q.Resource, q.Outcome, q.Actor, q.RequestID) {
		return []store.AuditEntry{}, nil
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if len(users) == 1 {
		where = append(where, "lower(username) = "+arg(users[0]))
	} else if len(users) > 1 {
		in, more := inList(users, len(args))
		args = append(args, more...)
		where = append(where, "lower(username) IN ("+in+")")
	}
	for col, v := range map[string]string{"resource": q.Resource, "outcome": q.Outcome, "actor": q.Actor, "request_id": q.RequestID} {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	// The trail keeps, and shows, times to the millisecond; a bound finer than that is
	// rounded up, so that an event is selected exactly when the time it is shown with is
	// in [Since, Until): truncated, until=…00.0005Z left out the event at …00.000Z.
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(millisUp(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < "+arg(millisUp(q.Until)))
	}
	if c := q.Before; c != nil {
		t := arg(millis(c.Time))
		where = append(where, fmt.Sprintf("(time < %s OR (time = %s AND id < %s))", t, t, arg(c.Seq)))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	sqlq := `SELECT id, ` + auditCols + ` FROM audit`
	if len(where) > 0 {
		sqlq += ` WHERE ` + strings.Join(where, " AND ")
	}
	sqlq += ` ORDER BY time DESC, id DESC LIMIT ` + arg(limit)
	entries, err := query(ctx, s.r, func(sc scanner) (store.AuditEntry, error) {
		var e store.AuditEntry
		var t int64
		err := sc.Scan(&e.Seq, &t, &e.RequestID, &e.Provider, &e.Username, &e.Capability, &e.FactorID,
			&e.Resource, &e.Outcome, &e.Reason, &e.WebhookID, &e.Actor)
		e.Time = fromMillis(t)
		return e, err
	}, sqlq, args...)
	if err != nil {
		return nil, s.fail("query audit", err)
	}
	return entries, nil
}

// inTx runs fn in a database/sql transaction on the writer and commits it if fn returns
// nil: the Directory's batches (an import's chunk of users, one savepoint each), which are
// larger than a decision's unit and run outside the group commit. On SQLite the writer's
// one connection serialises them with the group's batches.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if s.stmts != nil {
		// The statements fn ran as text, not prepared yet, are prepared once the
		// transaction has given the writer's connection back.
		defer s.stmts.prepareMissed(context.WithoutCancel(ctx), s.w)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // gone either way
		return err
	}
	return tx.Commit()
}
