-- +goose NO TRANSACTION
-- The ordering marks by their time: the queue's hourly purge (sqlstore's DeleteMarks,
-- every replica) deletes the marks older than sync's KeepMarks, which read the whole of
-- sync_marks to find them, one row for every user, membership and group changed in the
-- last 90 days and more: a large directory's millions, most of them not old enough, once
-- an hour on every replica (on SQLite under the one writer every decision waits for).
-- The index finds the old ones alone. Only an index added: an emfa from before it runs on
-- the schema (storage.allowNewerSchema), and its marks are indexed as they are written.
--
-- Built CONCURRENTLY, outside a transaction: the upgrade runs beside the older replicas,
-- which write marks in every user change's commit (and the deletion guard's), and a plain
-- CREATE INDEX held each of those writes for the whole build of a large sync_marks. A
-- concurrent build waits instead for the transactions under way (on sync_marks, and any
-- holding an older snapshot, a pg_dump's), and one that fails part-way (a start killed
-- during it, a statement_timeout) leaves an INVALID index of the name, never read and
-- kept up on every write. This migration is recorded
-- only once it has succeeded, so an index of the name is an earlier try's: dropped first
-- (CREATE INDEX IF NOT EXISTS would take an INVALID one for built).

-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS sync_marks_event_time;
CREATE INDEX CONCURRENTLY sync_marks_event_time ON sync_marks (event_time);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS sync_marks_event_time;
