-- The self-service page: each user's activation link (its token's hash only; one per
-- user, a newer one replaces it) and the browser sessions every replica must see.

-- +goose Up
CREATE TABLE selfservice_links (
    user_id    TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- No foreign key on user_id: a session exists before its sign-in, and every request
-- checks its user again (deleted or disabled: refused).
CREATE TABLE selfservice_sessions (
    hash       TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    link_hash  TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX selfservice_sessions_seen ON selfservice_sessions (seen_at);

-- +goose Down
DROP INDEX selfservice_sessions_seen;
DROP TABLE selfservice_sessions;
DROP TABLE selfservice_links;
