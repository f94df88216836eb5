package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

// claimIdempotencySQL inserts a running record, or takes over one that expired or whose
// owner's lease passed: the upsert's WHERE is the whole decision, so one statement is the
// atomic step (SQLite has one writer; in PostgreSQL a concurrent claim waits on the row,
// then re-checks the WHERE against it). It returns a row when it claimed, telling whether
// the same provider and ID are recorded with another fingerprint: one round trip. Each
// parameter appears once (now is excluded.created_at, the key the row's own): SQLite's
// driver binds a parameter's argument again for each ? it takes (AnonymousParams), a C
// copy of a text, and grows its list of those copies with them.
const claimIdempotencySQL = `INSERT INTO idempotency
	    (provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at)
	VALUES ($1, $2, $3, $4, FALSE, 0, NULL, $5, $6, $7)
	ON CONFLICT (provider, webhook_id, fingerprint) DO UPDATE SET
	    owner = excluded.owner, done = FALSE, status = 0, body = NULL,
	    lease_until = excluded.lease_until, expires_at = excluded.expires_at, created_at = excluded.created_at
	WHERE idempotency.expires_at <= excluded.created_at OR (NOT idempotency.done AND idempotency.lease_until <= excluded.created_at)
	RETURNING EXISTS (SELECT 1 FROM idempotency AS o
	    WHERE o.provider = idempotency.provider AND o.webhook_id = idempotency.webhook_id AND o.fingerprint <> idempotency.fingerprint) AS other`

// recordIdempotencySQL is claimIdempotencySQL for an answer known already: the record is
// written done, with it, in the same one statement.
const recordIdempotencySQL = `INSERT INTO idempotency
	    (provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at)
	VALUES ($1, $2, $3, $4, TRUE, $8, $9, $5, $6, $7)
	ON CONFLICT (provider, webhook_id, fingerprint) DO UPDATE SET
	    owner = excluded.owner, done = TRUE, status = excluded.status, body = excluded.body,
	    lease_until = excluded.lease_until, expires_at = excluded.expires_at, created_at = excluded.created_at
	WHERE idempotency.expires_at <= excluded.created_at OR (NOT idempotency.done AND idempotency.lease_until <= excluded.created_at)
	RETURNING EXISTS (SELECT 1 FROM idempotency AS o
	    WHERE o.provider = idempotency.provider AND o.webhook_id = idempotency.webhook_id AND o.fingerprint <> idempotency.fingerprint) AS other`

// The claims as a speculating unit assumes them (claimed, with no other fingerprint),
// built once: PostgreSQL sends one with every recorded decision. It assumes the key is
// new, so the claim is a plain INSERT: a key recorded already fails it with a unique
// violation, which PostgreSQL's unit takes for an assumption that did not hold (as
// division by zero), and the careful run's upsert then takes over an expired record or
// reports the one held. ON CONFLICT's speculative insertion (the key's index probed
// before the insert, a confirmation WAL record after it) cost the server about 20 µs of
// a validation's ~290 for a conflict that a decision's fresh X-Webhook-ID seldom has.
// No other fingerprint is tested by otherFingerprintProbe on the claim's own arguments,
// an InitPlan run once, where the sub-select in the upsert's RETURNING, correlated with
// the row inserted, was a SubPlan set up and run for that row, with the RETURNING
// projection and a scan of its CTE to read it: about 14k of the server's ~467k
// instructions a validation. Both see the statement's snapshot, without the row it
// inserts.
var (
	claimIdempotencyAssumed  = assumedClaim(claimIdempotencySQL)
	recordIdempotencyAssumed = assumedClaim(recordIdempotencySQL)
)

// otherFingerprintProbe finds a record of the same provider and ID ($1, $2) under
// another fingerprint than $3.
const otherFingerprintProbe = `SELECT FROM idempotency AS o WHERE o.provider = $1 AND o.webhook_id = $2 AND o.fingerprint <> $3`

// assumedClaim is q, a claim's upsert, as a speculating unit assumes it: its INSERT
// alone (plainInsert), which runs to completion though nothing reads it, and a division
// by zero when another fingerprint holds the ID.
func assumedClaim(q string) string {
	return "WITH r AS (" + plainInsert(q) + ") SELECT 1/(NOT EXISTS (" + otherFingerprintProbe + "))::int"
}

// plainInsert is q, an INSERT … ON CONFLICT … DO UPDATE … RETURNING, without its ON
// CONFLICT and RETURNING clauses.
func plainInsert(q string) string {
	i := strings.Index(q, "\n\tON CONFLICT")
	if i < 0 || !strings.Contains(q[i:], "\n\tRETURNING") {
		panic("sqlstore: not an upsert: " + q)
	}
	return q[:i]
}

// On the group writer (SQLite's, in this process) a claim is two statements that return
// no row rather than one that does: the upsert without its RETURNING, which changes the
// record's one row when it claims, and otherFingerprintSQL, which changes no row unless
// the ID is recorded with another fingerprint. A statement run for its row in the
// writer's transaction costs database/sql's Rows, a goroutine watching the transaction's
// context until they close, and SQLite's RETURNING its ephemeral table; an Exec none of
// them. Nothing comes between the two in the writer's transaction. PostgreSQL's units
// keep the one statement: each is a round trip there.
var (
	claimIdempotencyPlain  = withoutReturning(claimIdempotencySQL)
	recordIdempotencyPlain = withoutReturning(recordIdempotencySQL)
)

// freshClaimSQL and freshRecordSQL are claimIdempotencyPlain and recordIdempotencyPlain
// for an ID new to the store, as the group writer tries them first: a plain insert, of no
// row when the key is held or recorded, or recorded with another fingerprint, whose count
// says what the upsert and otherFingerprintSQL would (claimed, no other fingerprint), in
// one statement of the two. No row, and those two run and find what stopped it.
const (
	freshClaimSQL = `INSERT INTO idempotency (` + idempotencyCols + `)
	SELECT $1, $2, $3, $4, FALSE, 0, NULL, $5, $6, $7` + freshWhere
	freshRecordSQL = `INSERT INTO idempotency (` + idempotencyCols + `)
	SELECT $1, $2, $3, $4, TRUE, $8, $9, $5, $6, $7` + freshWhere
	freshWhere = `
	WHERE NOT EXISTS (SELECT 1 FROM idempotency AS o WHERE o.provider = $1 AND o.webhook_id = $2 AND o.fingerprint <> $3)
	ON CONFLICT DO NOTHING`
)

// otherFingerprintSQL changes, without changing anything in them, the records of the
// same provider and ID under another fingerprint: how many there are, in the count of an
// Exec. There are none but when Verify reused an X-Webhook-ID for another request, and
// then the rewrite of their row is the whole cost.
const otherFingerprintSQL = `UPDATE idempotency SET owner = owner
	WHERE provider = $1 AND webhook_id = $2 AND fingerprint <> $3`

// withoutReturning is q, an INSERT … RETURNING, without its RETURNING clause.
func withoutReturning(q string) string {
	i := strings.Index(q, "\n\tRETURNING")
	if i < 0 {
		panic("sqlstore: no RETURNING: " + q)
	}
	return q[:i]
}

const idempotencyCols = `provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at`

func (s *Store) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	return result(ctx, s, func(w *writer) (store.IdempotencyClaim, error) {
		return w.claimIdempotency(w.c(ctx), key, owner, leaseUntil, expiresAt, now, nil)
	})
}

func (s *Store) RecordIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	return result(ctx, s, func(w *writer) (store.IdempotencyClaim, error) {
		return w.RecordIdempotency(ctx, key, owner, status, body, leaseUntil, expiresAt, now)
	})
}

// ClaimIdempotency claims key in w's unit (store.Writer).
func (w *writer) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	return w.claimIdempotency(w.c(ctx), key, owner, leaseUntil, expiresAt, now, nil)
}

// RecordIdempotency claims key and records its answer in w's unit (store.Writer).
func (w *writer) RecordIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	if body == nil {
		body = []byte{}
	}
	return w.claimIdempotency(w.c(ctx), key, owner, leaseUntil, expiresAt, now, &store.IdempotencyRecord{Done: true, Status: status, Body: body})
}

// claimIdempotency claims key for owner; with answer, the record is written done with it.
func (w *writer) claimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time, answer *store.IdempotencyRecord) (store.IdempotencyClaim, error) {
	s := w.s
	// A running record expires no sooner than its lease ends (RenewIdempotency keeps it
	// so): past expires_at a claim takes the record over and the sweeper deletes it. With
	// the shortest TTL allowed (twice a request's deadline), an attempt still running, its
	// writes bounded by the deadline and WriteGrace, outlived it: a retry then ran the call
	// beside it (a second code sent), and its own answer, not recordable, went out as 503.
	expiresAt = latest(expiresAt, leaseUntil)
	// Room for the answer's two from the start: growing the slice for them was an
	// allocation of a decision's.
	args := append(make([]any, 0, 9), key.Provider, key.WebhookID, key.Fingerprint, owner, millis(leaseUntil), millis(expiresAt), millis(now))
	query, assumed := claimIdempotencySQL, claimIdempotencyAssumed
	if answer != nil {
		query, assumed, args = recordIdempotencySQL, recordIdempotencyAssumed, append(args, answer.Status, answer.Body)
	}
	mine := store.IdempotencyRecord{Key: key, Owner: owner,
		LeaseUntil: fromMillis(millis(leaseUntil)), ExpiresAt: fromMillis(millis(expiresAt)), CreatedAt: fromMillis(millis(now))}
	if answer != nil {
		mine.Done, mine.Status, mine.Body = true, answer.Status, answer.Body
	}
	audited, by := w.audited, w.auditedBy
	w.audited, w.auditedBy = nil, nil
	// A speculating unit assumes the usual: claimed, with no other fingerprint; in the
	// statement of the compare-and-set queued last, where it may (advanceCounterSQL.recorded).
	if a, ok := w.e.(Amender); ok && answer != nil && audited != nil && by.recorded != "" &&
		a.Amend(by.audited, by.recorded, append(audited, args...)...) {
		return store.IdempotencyClaim{Claimed: true, Record: mine}, nil
	}
	if w.assume(ctx, func() string { return assumed }, args...) {
		return store.IdempotencyClaim{Claimed: true, Record: mine}, nil
	}
	if s.g != nil {
		return w.claimOnWriter(ctx, key, mine, answer != nil, args)
	}
	// A record swept between the upsert and the read is claimed on the next round (on
	// the pool: in a unit's transaction nothing comes between them).
	for range 3 {
		var other bool
		err := w.e.QueryRow(ctx, query, args...).Scan(&other)
		switch {
		case err == nil:
			return store.IdempotencyClaim{Claimed: true, Record: mine, OtherFingerprint: other}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return store.IdempotencyClaim{}, s.fail("claim idempotency record", err)
		}
		held, err := getIdempotency(ctx, s, w.e, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.IdempotencyClaim{}, err
		}
		return store.IdempotencyClaim{Record: held}, nil
	}
	return store.IdempotencyClaim{}, s.fail("claim idempotency record", errors.New("the record kept vanishing"))
}

// claimOnWriter is claimIdempotency on the group writer: the upsert and the count of other
// fingerprints as two Execs (claimIdempotencyPlain).
func (w *writer) claimOnWriter(ctx context.Context, key store.IdempotencyKey, mine store.IdempotencyRecord, done bool, args []any) (store.IdempotencyClaim, error) {
	s := w.s
	fresh, q := freshClaimSQL, claimIdempotencyPlain
	if done {
		fresh, q = freshRecordSQL, recordIdempotencyPlain
	}
	// The usual case first: an ID new to the store, claimed by one insert.
	n, err := w.e.Exec(ctx, fresh, args...)
	if err != nil {
		return store.IdempotencyClaim{}, s.fail("claim idempotency record", err)
	}
	if n == 1 {
		return store.IdempotencyClaim{Claimed: true, Record: mine}, nil
	}
	n, err = w.e.Exec(ctx, q, args...)
	if err != nil {
		return store.IdempotencyClaim{}, s.fail("claim idempotency record", err)
	}
	if n == 0 {
		// Held by another attempt, or recorded: nothing comes between the upsert and this
		// read in the writer's transaction.
		held, err := getIdempotency(ctx, s, w.e, key)
		if err != nil {
			return store.IdempotencyClaim{}, err
		}
		return store.IdempotencyClaim{Record: held}, nil
	}
	others, err := w.e.Exec(ctx, otherFingerprintSQL, args[:3]...)
	if err != nil {
		return store.IdempotencyClaim{}, s.fail("claim idempotency record", err)
	}
	return store.IdempotencyClaim{Claimed: true, Record: mine, OtherFingerprint: others > 0}, nil
}

const getIdempotencySQL = `SELECT ` + idempotencyCols + ` FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3`

// GetIdempotency reads the record on the read pool; on SQLite (DetachedKeyedReads) as
// a keyed read, on the reader's driver connection: through database/sql (its Stmt on
// the pool, Rows, the goroutine watching the context) a read of an ID new to the store
// cost 81k instructions and 62 allocations, as a keyed read 41k and 47. A retry waiting
// for its first attempt reads the record so at each poll (Idempotency.wait).
func (s *Store) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	if s.detachReads {
		return scanIdempotency(s, key, &keyedRow{s: s, ctx: ctx, q: getIdempotencySQL, args: []any{key.Provider, key.WebhookID, key.Fingerprint}})
	}
	return getIdempotency(ctx, s, sqlExecer{s.rq}, key)
}

func getIdempotency(ctx context.Context, s *Store, e Execer, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	return scanIdempotency(s, key, e.QueryRow(ctx, getIdempotencySQL, key.Provider, key.WebhookID, key.Fingerprint))
}

// scanIdempotency scans row, getIdempotencySQL's, into a record.
func scanIdempotency(s *Store, key store.IdempotencyKey, row Row) (store.IdempotencyRecord, error) {
	var r store.IdempotencyRecord
	var lease, expires, created int64
	err := row.Scan(&r.Key.Provider, &r.Key.WebhookID, &r.Key.Fingerprint, &r.Owner, &r.Done, &r.Status, &r.Body, &lease, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.IdempotencyRecord{}, s.fail("idempotency record "+key.WebhookID, err)
	}
	r.LeaseUntil, r.ExpiresAt, r.CreatedAt = fromMillis(lease), fromMillis(expires), fromMillis(created)
	return r, nil
}

func (s *Store) CompleteIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, now time.Time) error {
	return s.write(ctx, func(w *writer) error { return w.completeIdempotency(w.c(ctx), key, owner, status, body) })
}

// CompleteIdempotency records the answer in w's unit (store.Writer).
func (w *writer) CompleteIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, _ time.Time) error {
	return w.completeIdempotency(w.c(ctx), key, owner, status, body)
}

func (w *writer) completeIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte) error {
	s := w.s
	if body == nil {
		body = []byte{}
	}
	err := w.changesOne(ctx,
		`UPDATE idempotency SET done = TRUE, status = $5, body = $6
		 WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`,
		key.Provider, key.WebhookID, key.Fingerprint, owner, status, body)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return s.fail("complete idempotency record "+key.WebhookID, err)
	}
	return nil
}

func (s *Store) ReleaseIdempotency(ctx context.Context, key store.IdempotencyKey, owner string) error {
	return s.write(ctx, func(w *writer) error {
		_, err := w.exec(w.c(ctx),
			`DELETE FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`,
			key.Provider, key.WebhookID, key.Fingerprint, owner)
		if err != nil {
			return s.fail("release idempotency record "+key.WebhookID, err)
		}
		return nil
	})
}

func (s *Store) RenewIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil time.Time) (bool, error) {
	return result(ctx, s, func(w *writer) (bool, error) {
		// expires_at moves with the lease, never before it (claimIdempotency).
		r, err := w.exec(w.c(ctx),
			`UPDATE idempotency SET lease_until = $5, expires_at = CASE WHEN expires_at < $5 THEN $5 ELSE expires_at END
			 WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`,
			key.Provider, key.WebhookID, key.Fingerprint, owner, millis(leaseUntil))
		if err != nil {
			return false, s.fail("renew idempotency record "+key.WebhookID, err)
		}
		n, err := r.RowsAffected()
		return n == 1, err
	})
}

func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := result(ctx, s, func(w *writer) (int, error) {
		return w.deleteOldest(w.c(ctx), "idempotency", "provider, webhook_id, fingerprint", "expires_at <= $1", "expires_at", millis(before), limit)
	})
	if err != nil {
		return 0, s.fail("delete expired idempotency records", err)
	}
	return n, nil
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
