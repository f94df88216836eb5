-- The first schema. Times are INTEGER unix milliseconds (0 is the zero time, "never"), so
-- comparisons in SQL are plain integer comparisons and both backends agree to the millisecond.
-- STRICT makes SQLite refuse a value of the wrong type instead of storing it anyway.

-- +goose Up
CREATE TABLE users (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    disabled   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE factors (
    id           TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    secret       BLOB,
    key_id       TEXT    NOT NULL,
    params       TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    counter      INTEGER NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

-- ListFactors, and the cascade from users, which would otherwise scan factors.
CREATE INDEX factors_user ON factors (user_id, created_at, id);

-- No foreign key to factors: a challenge may outlive its factor (an audit trail of a
-- deleted phone) and some capabilities have no factor at all.
CREATE TABLE transactions (
    id         TEXT    PRIMARY KEY,
    provider   TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    capability TEXT    NOT NULL,
    factor_id  TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    secret     BLOB,
    attempts   INTEGER NOT NULL DEFAULT 0,
    data       BLOB,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX transactions_factor ON transactions (factor_id, status);
CREATE INDEX transactions_expires ON transactions (expires_at);

-- AUTOINCREMENT: ids never reused, so id breaks ties between events of the same millisecond
-- in the order they were appended.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    capability  TEXT    NOT NULL,
    factor_id   TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_username_time ON audit (username, time, id);
CREATE INDEX audit_time ON audit (time, id);

-- +goose Down
DROP TABLE audit;
DROP TABLE transactions;
DROP TABLE factors;
DROP TABLE users;
