-- The audit trail keeps each name as its request gave it, and a query by user matches it
-- regardless of ASCII case, as every other lookup of a user's name does (migration 9): the
-- index by user is on the folded name. COLLATE "C" makes lower() fold ASCII only, as
-- store.FoldName does, and not by the database's locale; it changes no stored byte, so the
-- table is not rewritten, only the index built again.

-- +goose Up
DROP INDEX audit_username_time;
ALTER TABLE audit ALTER COLUMN username TYPE TEXT COLLATE "C";
CREATE INDEX audit_username_time ON audit (lower(username), time, id);

-- +goose Down
DROP INDEX audit_username_time;
ALTER TABLE audit ALTER COLUMN username TYPE TEXT COLLATE "default";
CREATE INDEX audit_username_time ON audit (username, time, id);
