-- Idempotency records for Verify's retries (X-Webhook-ID), and the ID in the audit trail,
-- as in store/sqlite.

-- +goose Up
CREATE TABLE idempotency (
    provider    TEXT    NOT NULL,
    webhook_id  TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    done        BOOLEAN NOT NULL DEFAULT FALSE,
    status      INTEGER NOT NULL DEFAULT 0,
    body        BYTEA,
    lease_until BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (provider, webhook_id, fingerprint)
);

CREATE INDEX idempotency_expires ON idempotency (expires_at);

ALTER TABLE audit ADD COLUMN webhook_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit DROP COLUMN webhook_id;
DROP TABLE idempotency;
