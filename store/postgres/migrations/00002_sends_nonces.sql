-- Send limits and used nonces, as in store/sqlite. Both tables only grow between cleanups
-- (DeleteSendsBefore, DeleteExpiredNonces), whose ORDER BY ... LIMIT the *_at indexes serve.

-- +goose Up
-- One row per send per key; ReserveSend counts a key's rows within a window, under an
-- advisory lock on the key. Rows are never updated, so cleanup deletes them by ctid.
CREATE TABLE sends (
    key TEXT   NOT NULL,
    at  BIGINT NOT NULL
);

CREATE INDEX sends_key_at ON sends (key, at);
CREATE INDEX sends_at ON sends (at);

-- A nonce is used until expires_at; UseNonce replaces an expired row in place.
CREATE TABLE nonces (
    scope      TEXT   NOT NULL,
    nonce      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, nonce)
);

CREATE INDEX nonces_expires ON nonces (expires_at);

-- +goose Down
DROP TABLE nonces;
DROP TABLE sends;
