-- What the admin API keeps: user profiles and groups, admin API tokens, org-wide
-- capability switches, the actor of an admin change in the audit trail, and the indexes
-- its queries need.

-- +goose Up
-- A user created by `emfa users add` has no profile row; one appears with the first
-- profile written.
CREATE TABLE user_profiles (
    user_id      TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT    NOT NULL DEFAULT '',
    phone        TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    attributes   TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) STRICT;

-- Listing a group's members in name order.
CREATE INDEX user_groups_name ON user_groups (name, user_id);

-- The token itself is never stored: hash is its hex SHA-256.
CREATE TABLE admin_tokens (
    name       TEXT    PRIMARY KEY,
    scope      TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A handful of rows, read by every replica every few seconds.
CREATE TABLE capability_switches (
    provider   TEXT    NOT NULL,
    capability TEXT    NOT NULL,
    disabled   INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, capability)
) STRICT;

ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
-- A factor's last use, and the admin's audit queries by action.
CREATE INDEX audit_factor_time ON audit (factor_id, time);
CREATE INDEX audit_resource_time ON audit (resource, time, id);

-- The sweep of expired activations.
CREATE INDEX factors_state_created ON factors (state, created_at);

-- +goose Down
DROP INDEX factors_state_created;
DROP INDEX audit_resource_time;
DROP INDEX audit_factor_time;
ALTER TABLE audit DROP COLUMN actor;
DROP TABLE capability_switches;
DROP TABLE admin_tokens;
DROP TABLE user_groups;
DROP TABLE user_profiles;
