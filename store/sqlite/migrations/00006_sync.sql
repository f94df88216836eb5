-- Directory sync: the durable queue of lifecycle events (Okta event hooks, Verify
-- notifications, Auth0 log streams, SCIM), the last applied time of each user's state
-- (so a late, older event does not undo a newer one), paused sources, and the groups SCIM
-- names. Numbered 00006: 00005 is reserved for self-service.

-- +goose Up
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
    updated_at  INTEGER NOT NULL,
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
) STRICT;

-- +goose Down
DROP TABLE sync_groups;
DROP TABLE sync_pauses;
DROP TABLE sync_marks;
DROP TABLE sync_events;
