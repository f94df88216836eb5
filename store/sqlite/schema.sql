-- version 23
-- Written from the migrations by the schema snapshot test (snapshot.go): do not edit.
CREATE TABLE goose_db_version (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		version_id INTEGER NOT NULL,
		is_applied INTEGER NOT NULL,
		tstamp TIMESTAMP DEFAULT (datetime('now'))
	);
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
, last_used_at INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE INDEX factors_user ON factors (user_id, created_at, id);
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
, webhook_id TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL DEFAULT '') STRICT;
CREATE INDEX audit_time ON audit (time, id);
CREATE TABLE sends (
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sends_key_at ON sends (key, at);
CREATE INDEX sends_at ON sends (at);
CREATE TABLE nonces (
    scope      TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, nonce)
) STRICT;
CREATE INDEX nonces_expires ON nonces (expires_at);
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
CREATE TABLE user_profiles (
    user_id      TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT    NOT NULL DEFAULT '',
    phone        TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    attributes   TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    updated_at   INTEGER NOT NULL
, revision INTEGER NOT NULL DEFAULT 0, country TEXT NOT NULL DEFAULT '') STRICT;
CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) STRICT;
CREATE INDEX user_groups_name ON user_groups (name, user_id);
CREATE TABLE admin_tokens (
    name       TEXT    PRIMARY KEY,
    scope      TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE capability_switches (
    provider   TEXT    NOT NULL,
    capability TEXT    NOT NULL,
    disabled   INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (provider, capability)
) STRICT;
CREATE INDEX audit_resource_time ON audit (resource, time, id);
CREATE INDEX factors_state_created ON factors (state, created_at);
CREATE TABLE oauth_clients (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE sync_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    order_key   TEXT    NOT NULL, -- events of one key apply one at a time, in event_time order
    type        TEXT    NOT NULL,
    event_time  INTEGER NOT NULL,
    body        TEXT    NOT NULL, -- the event as JSON (no secret: a profile at most)
    applied     INTEGER NOT NULL DEFAULT 0, -- to emfa's store; propagation may remain
    state       TEXT    NOT NULL, -- pending, done, dead
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    owner       TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    note        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL, group_name TEXT, group_new TEXT,
    UNIQUE (source, event_id)
) STRICT;
CREATE INDEX sync_events_key ON sync_events (order_key, state, event_time, seq);
CREATE INDEX sync_events_claim ON sync_events (state, event_time, seq);
CREATE INDEX sync_events_deletes ON sync_events (source, type, state, updated_at);
CREATE TABLE sync_marks (
    key        TEXT    PRIMARY KEY,
    event_time INTEGER NOT NULL
) STRICT;
CREATE TABLE sync_pauses (
    source     TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE sync_groups (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    external_id TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
, revision INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE TABLE selfservice_links (
    user_id    TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE selfservice_sessions (
    hash       TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    link_hash  TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
, factor_id TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE INDEX selfservice_sessions_seen ON selfservice_sessions (seen_at);
CREATE UNIQUE INDEX users_name_folded ON users (lower(name));
CREATE INDEX audit_username_time ON audit (lower(username), time, id);
CREATE INDEX factors_key_id ON factors (key_id);
CREATE INDEX selfservice_sessions_user ON selfservice_sessions (user_id);
CREATE TRIGGER user_profiles_revision_insert AFTER INSERT ON user_profiles
FOR EACH ROW WHEN NEW.revision = 0
BEGIN
    UPDATE user_profiles SET revision = 1 WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER user_profiles_revision_update AFTER UPDATE ON user_profiles
FOR EACH ROW WHEN NEW.revision = OLD.revision
BEGIN
    UPDATE user_profiles SET revision = OLD.revision + 1 WHERE user_id = NEW.user_id;
END;
CREATE INDEX user_profiles_external_id ON user_profiles (json_extract(attributes, '$."scim.externalId"'));
CREATE INDEX user_profiles_email_folded ON user_profiles (lower(replace(replace(email, 'K', 'k'), 'ſ', 's')));
CREATE INDEX user_profiles_display_name_folded ON user_profiles (lower(replace(replace(display_name, 'K', 'k'), 'ſ', 's')));
CREATE INDEX sync_events_group ON sync_events (source, state, group_name);
CREATE INDEX sync_events_group_new ON sync_events (source, state, group_new);
CREATE INDEX sync_groups_external_id ON sync_groups (external_id);
CREATE INDEX sync_marks_event_time ON sync_marks (event_time);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (2, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (4, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (5, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (6, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (7, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (8, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (9, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (10, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (11, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (12, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (13, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (14, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (15, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (16, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (17, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (18, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (19, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (20, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (21, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (22, 1);
INSERT INTO goose_db_version (version_id, is_applied) VALUES (23, 1);
