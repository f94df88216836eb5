package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

var _ store.SelfService = (*Store)(nil)

func (s *Store) PutLink(ctx context.Context, l store.SelfServiceLink, ev store.AuditEvent) error {
	// One unit with its record, as a credential's issue (createRecorded).
	return s.unit(ctx, func(w *writer) error {
		_, err := w.exec(w.c(ctx), `INSERT INTO selfservice_links (user_id, hash, created_at, expires_at, spent_at)
			VALUES ($1, $2, $3, $4, 0)
			ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at,
				expires_at = excluded.expires_at, spent_at = 0`,
			l.UserID, l.Hash, millis(l.CreatedAt), millis(l.ExpiresAt))
		if c := s.d.Constraint(err); c != nil {
			err = c
		}
		if err != nil {
			return s.fail("put self-service link", err)
		}
		return w.AppendAudit(ctx, ev)
	})
}

func (s *Store) GetLink(ctx context.Context, hash string) (store.SelfServiceLink, error) {
	var l store.SelfServiceLink
	var created, expires, spent int64
	err := s.w.QueryRowContext(ctx, `SELECT l.user_id, u.name, l.hash, l.created_at, l.expires_at, l.spent_at
		FROM selfservice_links l JOIN users u ON u.id = l.user_id WHERE l.hash = $1`, hash).
		Scan(&l.UserID, &l.UserName, &l.Hash, &created, &expires, &spent)
	if err != nil {
		return l, s.fail("get self-service link", notFound(err))
	}
	l.CreatedAt, l.ExpiresAt, l.SpentAt = fromMillis(created), fromMillis(expires), fromMillis(spent)
	return l, nil
}

func (s *Store) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.SpendLink(ctx, hash, now) })
}

func (w *writer) SpendLink(ctx context.Context, hash string, now time.Time) error {
	ctx = w.c(ctx)
	// A link past its end is not spent: whatever enrolls with it is refused, though the
	// sweeper has not removed it yet.
	res, err := w.exec(ctx, `UPDATE selfservice_links SET spent_at = $2 WHERE hash = $1 AND spent_at = 0 AND expires_at > $2`, hash, millis(now))
	if err := changedOne(res, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			var spent int64
			if w.e.QueryRow(ctx, `SELECT spent_at FROM selfservice_links WHERE hash = $1`, hash).Scan(&spent) == nil {
				err = fmt.Errorf("link spent already: %w", store.ErrConflict)
				if spent == 0 {
					err = fmt.Errorf("link expired: %w", store.ErrConflict)
				}
			}
		}
		return w.s.fail("spend self-service link", err)
	}
	return nil
}

func (s *Store) PutSession(ctx context.Context, ss store.SelfServiceSession, audit ...store.AuditEvent) error {
	// An INSERT alone: a session that was deleted is never written back.
	const put = `INSERT INTO selfservice_sessions (hash, user_id, kind, link_hash, csrf, data, seen_at, expires_at, factor_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	args := []any{ss.Hash, ss.UserID, ss.Kind, ss.LinkHash, ss.CSRF, ss.Data, millis(ss.SeenAt), millis(ss.ExpiresAt), ss.Factor, millis(ss.CreatedAt)}
	write := func(w *writer) error {
		if ss.Factor != "" {
			// The factor the sign-in proved itself with, still active, and locked until the
			// commit: a change that disabled or deleted it first leaves it unchanged here
			// (PostgreSQL waits for that commit, then finds it changed); one that comes
			// after waits for this commit, and its end of the factor's sessions (a
			// statement after its change of the factor, so reading what committed since)
			// finds this one.
			q, args := `UPDATE factors SET state = state WHERE id = $1 AND user_id = $2 AND state = $3`,
				[]any{ss.Factor, ss.UserID, string(store.FactorActive)}
			if used, ok := useOf(ss.Factor, audit); ok {
				// Its record's use of the factor, in the same UPDATE (AppendAudit leaves it):
				// a second UPDATE of the row has PostgreSQL check factors.user_id's foreign
				// key again, the user's row locked after the factor's, the order a delete
				// of the user takes the other way round (40P01).
				q = strings.Replace(q, "state = state", "last_used_at = "+w.s.greatest("last_used_at", "$4"), 1)
				args = append(args, used)
				w.used, w.usedAt = ss.Factor, used
			}
			res, err := w.exec(w.c(ctx), q, args...)
			if err := changedOne(res, err); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("put self-service session: factor %s is no longer active: %w", ss.Factor, store.ErrConflict)
			} else if err != nil {
				return s.fail("put self-service session", err)
			}
		}
		if ss.LinkHash != "" {
			// The link that opened the session, still there, locked the same way: a reset
			// deletes the link, then the sessions whose link is gone.
			res, err := w.exec(w.c(ctx), `UPDATE selfservice_links SET spent_at = spent_at WHERE hash = $1 AND user_id = $2`, ss.LinkHash, ss.UserID)
			if err := changedOne(res, err); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("put self-service session: its link is gone: %w", store.ErrConflict)
			} else if err != nil {
				return s.fail("put self-service session", err)
			}
		}
		_, err := w.exec(w.c(ctx), put, args...)
		if c := s.d.Constraint(err); c != nil {
			err = c
		}
		if err != nil {
			return s.fail("put self-service session", err)
		}
		for _, ev := range audit {
			if err := w.AppendAudit(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	}
	if len(audit) == 0 && ss.Factor == "" && ss.LinkHash == "" {
		return s.write(ctx, write)
	}
	return s.unit(ctx, write)
}

// useOf is the latest time one of audit records a use of factor (recordsUse), in
// milliseconds.
func useOf(factor string, audit []store.AuditEvent) (int64, bool) {
	var at int64
	var ok bool
	for _, e := range audit {
		if e.FactorID == factor && recordsUse(e) {
			at, ok = max(at, millis(e.Time)), true
		}
	}
	return at, ok
}

func (s *Store) UpdateSession(ctx context.Context, ss store.SelfServiceSession) error {
	// An UPDATE alone: of a request refreshing a session and a sign-out (or an admin
	// ending it) at once, the delete wins, whichever commits first. What the session
	// rests on (its factor, its start) stays as PutSession stored it.
	return s.write(ctx, func(w *writer) error {
		res, err := w.exec(w.c(ctx), `UPDATE selfservice_sessions SET user_id = $2, kind = $3, link_hash = $4, csrf = $5,
				data = $6, seen_at = $7, expires_at = $8 WHERE hash = $1`,
			ss.Hash, ss.UserID, ss.Kind, ss.LinkHash, ss.CSRF, ss.Data, millis(ss.SeenAt), millis(ss.ExpiresAt))
		if err := changedOne(res, err); err != nil {
			return s.fail("update self-service session", err)
		}
		return nil
	})
}

func (s *Store) TouchSession(ctx context.Context, hash string, seen time.Time) error {
	return s.write(ctx, func(w *writer) error {
		res, err := w.exec(w.c(ctx), `UPDATE selfservice_sessions SET seen_at = $2 WHERE hash = $1`, hash, millis(seen))
		if err := changedOne(res, err); err != nil {
			return s.fail("touch self-service session", err)
		}
		return nil
	})
}

func (s *Store) GetSession(ctx context.Context, hash string) (store.SelfServiceSession, error) {
	var ss store.SelfServiceSession
	var seen, expires, created int64
	err := s.w.QueryRowContext(ctx, `SELECT hash, user_id, kind, link_hash, csrf, data, seen_at, expires_at, factor_id, created_at
		FROM selfservice_sessions WHERE hash = $1`, hash).
		Scan(&ss.Hash, &ss.UserID, &ss.Kind, &ss.LinkHash, &ss.CSRF, &ss.Data, &seen, &expires, &ss.Factor, &created)
	if err != nil {
		return ss, s.fail("get self-service session", notFound(err))
	}
	ss.SeenAt, ss.ExpiresAt, ss.CreatedAt = fromMillis(seen), fromMillis(expires), fromMillis(created)
	return ss, nil
}

// endSessions ends, in c's commit, what the self-service page trusted that c takes away
// (store.UserChange): the user's link from before a reset, then the sessions resting on
// what c ended. It runs after c's statements on the factors and the link, each of which
// waits for a PutSession holding that row: a session such a PutSession stored is then
// committed, and this statement, reading afresh, finds it.
func endSessions(ctx context.Context, tx execContext, userID string, c store.UserChange) error {
	all := c.Delete || (c.Disabled != nil && *c.Disabled)
	var cond []string
	args := []any{userID}
	if r := c.Reset; r != nil {
		revoke, revokeArgs := `DELETE FROM selfservice_links WHERE user_id = $1`, []any{userID}
		if r.At.IsZero() {
			all = true
		} else {
			revoke, revokeArgs = revoke+` AND created_at < $2`, append(revokeArgs, millis(r.At))
			args = append(args, millis(r.At))
			// Begun before the reset (0: stored before sessions kept their start), or
			// opened by a link it revoked, whenever: its link is gone.
			cond = append(cond, `created_at < $2`, `(link_hash <> '' AND NOT EXISTS
				(SELECT 1 FROM selfservice_links l WHERE l.hash = selfservice_sessions.link_hash))`)
		}
		res, err := tx.ExecContext(ctx, revoke, revokeArgs...)
		if err != nil {
			return err
		}
		// The link revoked, the minute's limit it set goes with it (a late reset that
		// left a newer link leaves its limit too).
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sends WHERE key = $1`, store.LinkSendKey(userID)); err != nil {
				return err
			}
		}
	}
	var ended []string
	ended = append(ended, c.DeleteFactors...)
	for _, sc := range c.StateChanges {
		if sc.State != store.FactorActive {
			ended = append(ended, sc.ID)
		}
	}
	if len(ended) > 0 {
		// A user's factors are few (builtin.maxFactorsPerUser): one list.
		in, inArgs := inList(ended, len(args))
		args = append(args, inArgs...)
		cond = append(cond, `factor_id IN (`+in+`)`)
	}
	q := `DELETE FROM selfservice_sessions WHERE user_id = $1`
	switch {
	case all:
		args = args[:1]
	case len(cond) == 0:
		return nil
	default:
		q += ` AND (` + strings.Join(cond, ` OR `) + `)`
	}
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// endFactorSessions ends, in w's unit, the sessions of userID signed in with factor, after
// the statement that disabled or deleted it (endSessions says why after).
func (w *writer) endFactorSessions(ctx context.Context, userID, factor string) error {
	return w.e.Later(ctx, `DELETE FROM selfservice_sessions WHERE user_id = $1 AND factor_id = $2`, userID, factor)
}

func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM selfservice_sessions WHERE hash = $1`, hash); err != nil {
		return s.fail("delete self-service session", err)
	}
	return nil
}

func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM selfservice_sessions WHERE seen_at < $1 OR expires_at < $2`, millis(idleBefore), millis(now))
	if err != nil {
		return 0, s.fail("delete expired self-service sessions", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (s *Store) DeleteExpiredLinks(ctx context.Context, spentBefore, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM selfservice_links WHERE expires_at <= $1 OR (spent_at > 0 AND spent_at < $2)`,
		millis(now), millis(spentBefore))
	if err != nil {
		return 0, s.fail("delete expired self-service links", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
