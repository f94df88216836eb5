-- Send limits and used nonces. Both tables only grow between cleanups
-- (DeleteSendsBefore, DeleteExpiredNonces), whose ORDER BY ... LIMIT the *_at indexes serve.

-- +goose Up
-- One row per send per key; ReserveSend counts a key's rows within a window.
CREATE TABLE sends (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;

CREATE INDEX sends_key_at ON sends (key, at);
CREATE INDEX sends_at ON sends (at);

-- A nonce is used until expires_at; UseNonce replaces an expired row in place.
CREATE TABLE nonces (
    scope      TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
) STRICT;

CREATE INDEX nonces_expires ON nonces (expires_at);

-- +goose Down
DROP TABLE nonces;
DROP TABLE sends;
