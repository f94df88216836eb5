-- Idempotency records for Verify's retries (X-Webhook-ID), and the ID in the audit trail.

-- +goose Up
-- One row per request executed with an X-Webhook-ID: running under owner until
-- lease_until, then its answer (status, body) until expires_at.
CREATE TABLE idempotency (
    provider    TEXT    NOT NULL,
    webhook_id  TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    done        INTEGER NOT NULL DEFAULT 0,
    status      INTEGER NOT NULL DEFAULT 0,
    body        BLOB,
    lease_until INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, webhook_id, fingerprint)
) STRICT;

CREATE INDEX idempotency_expires ON idempotency (expires_at);

ALTER TABLE audit ADD COLUMN webhook_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit DROP COLUMN webhook_id;
DROP TABLE idempotency;
