-- The ordering marks by their time: the queue's hourly purge (sqlstore's DeleteMarks,
-- every replica) deletes the marks older than sync's KeepMarks, which read the whole of
-- sync_marks to find them, one row for every user, membership and group changed in the
-- last 90 days and more: a large directory's millions, most of them not old enough, once
-- an hour on every replica (on SQLite under the one writer every decision waits for).
-- The index finds the old ones alone. Only an index added: an emfa from before it runs on
-- the schema (storage.allowNewerSchema), and its marks are indexed as they are written.

-- +goose Up
CREATE INDEX sync_marks_event_time ON sync_marks (event_time);

-- +goose Down
DROP INDEX sync_marks_event_time;
