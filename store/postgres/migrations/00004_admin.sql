-- What the admin API keeps, as in store/sqlite: user profiles and groups, admin API
-- tokens, org-wide capability switches, the actor of an admin change in the audit trail,
-- and the indexes its queries need. Group names sort by bytes (COLLATE "C"), as SQLite's.

-- +goose Up
CREATE TABLE user_profiles (
    user_id      TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT    NOT NULL DEFAULT '',
    phone        TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    attributes   JSONB   NOT NULL DEFAULT '{}', -- object of strings
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE INDEX user_groups_name ON user_groups (name, user_id);

CREATE TABLE admin_tokens (
    name       TEXT    COLLATE "C" PRIMARY KEY,
    scope      TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE capability_switches (
    provider   TEXT    NOT NULL,
    capability TEXT    NOT NULL,
    disabled   BOOLEAN NOT NULL,
    reason     TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, capability)
);

ALTER TABLE audit ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_factor_time ON audit (factor_id, time);
CREATE INDEX audit_resource_time ON audit (resource, time, id);

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
