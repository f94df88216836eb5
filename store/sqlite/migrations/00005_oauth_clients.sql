-- The clients of emfa's own OAuth token endpoint (inbound OAuth client credentials).

-- +goose Up
-- The secret itself is never stored: secret_hash is its hex SHA-256.
CREATE TABLE oauth_clients (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- +goose Down
DROP TABLE oauth_clients;
