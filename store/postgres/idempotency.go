package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/store"
)

// claimIdempotency inserts a running record, or takes over one that expired or whose
// owner's lease passed; the WHERE of the upsert is the whole decision, so one statement
// is the atomic step (a concurrent claim waits on the row, then re-checks the WHERE).
const claimIdempotency = `INSERT INTO idempotency
	    (provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at)
	VALUES ($1, $2, $3, $4, FALSE, 0, NULL, $5, $6, $7)
	ON CONFLICT (provider, webhook_id, fingerprint) DO UPDATE SET
	    owner = excluded.owner, done = FALSE, status = 0, body = NULL,
	    lease_until = excluded.lease_until, expires_at = excluded.expires_at, created_at = excluded.created_at
	WHERE idempotency.expires_at <= $7 OR (NOT idempotency.done AND idempotency.lease_until <= $7)`

const idempotencyCols = `provider, webhook_id, fingerprint, owner, done, status, body, lease_until, expires_at, created_at`

func (s *Store) ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error) {
	// A record swept between the upsert and the read is claimed on the next round.
	for range 3 {
		tag, err := s.pool.Exec(ctx, claimIdempotency,
			key.Provider, key.WebhookID, key.Fingerprint, owner, millis(leaseUntil), millis(expiresAt), millis(now))
		if err != nil {
			return store.IdempotencyClaim{}, fmt.Errorf("postgres: claim idempotency record: %w", err)
		}
		if tag.RowsAffected() == 1 {
			var other bool
			err := s.pool.QueryRow(ctx,
				`SELECT EXISTS (SELECT 1 FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint <> $3)`,
				key.Provider, key.WebhookID, key.Fingerprint).Scan(&other)
			if err != nil {
				return store.IdempotencyClaim{}, fmt.Errorf("postgres: claim idempotency record: %w", err)
			}
			rec := store.IdempotencyRecord{Key: key, Owner: owner, LeaseUntil: leaseUntil, ExpiresAt: expiresAt, CreatedAt: now}
			return store.IdempotencyClaim{Claimed: true, Record: normalize(rec), OtherFingerprint: other}, nil
		}
		rec, err := s.GetIdempotency(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.IdempotencyClaim{}, err
		}
		return store.IdempotencyClaim{Record: rec}, nil
	}
	return store.IdempotencyClaim{}, errors.New("postgres: claim idempotency record: the record kept vanishing")
}

func (s *Store) GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error) {
	row := s.pool.QueryRow(ctx,
		`SELECT `+idempotencyCols+` FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3`,
		key.Provider, key.WebhookID, key.Fingerprint)
	var r store.IdempotencyRecord
	var lease, expires, created int64
	err := row.Scan(&r.Key.Provider, &r.Key.WebhookID, &r.Key.Fingerprint, &r.Owner, &r.Done, &r.Status, &r.Body, &lease, &expires, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.IdempotencyRecord{}, fmt.Errorf("postgres: idempotency record %s: %w", key.WebhookID, store.ErrNotFound)
	}
	if err != nil {
		return store.IdempotencyRecord{}, fmt.Errorf("postgres: get idempotency record: %w", err)
	}
	r.LeaseUntil, r.ExpiresAt, r.CreatedAt = fromMillis(lease), fromMillis(expires), fromMillis(created)
	return r, nil
}

func (s *Store) CompleteIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, now time.Time) error {
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE idempotency SET done = TRUE, status = $5, body = $6
		 WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`,
		key.Provider, key.WebhookID, key.Fingerprint, owner, status, body)
	if err := changedOne(tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = store.ErrConflict
		}
		return fmt.Errorf("postgres: complete idempotency record %s: %w", key.WebhookID, err)
	}
	return nil
}

func (s *Store) ReleaseIdempotency(ctx context.Context, key store.IdempotencyKey, owner string) error {
	_, err := s.pool.Exec(ctx,
		`DELETE FROM idempotency WHERE provider = $1 AND webhook_id = $2 AND fingerprint = $3 AND owner = $4 AND NOT done`,
		key.Provider, key.WebhookID, key.Fingerprint, owner)
	if err != nil {
		return fmt.Errorf("postgres: release idempotency record %s: %w", key.WebhookID, err)
	}
	return nil
}

func (s *Store) DeleteExpiredIdempotency(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: delete expired idempotency records: limit %d is not positive", limit)
	}
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM idempotency WHERE (provider, webhook_id, fingerprint) IN (
		     SELECT provider, webhook_id, fingerprint FROM idempotency WHERE expires_at <= $1
		     ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		millis(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired idempotency records: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// normalize gives a record the millisecond precision the store keeps.
func normalize(r store.IdempotencyRecord) store.IdempotencyRecord {
	r.LeaseUntil, r.ExpiresAt, r.CreatedAt = fromMillis(millis(r.LeaseUntil)), fromMillis(millis(r.ExpiresAt)), fromMillis(millis(r.CreatedAt))
	return r
}
