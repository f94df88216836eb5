-- A user's name is matched regardless of ASCII letter case (store.FoldName): SCIM's
-- userName is case-insensitive, and a directory that created "Dana@Example.com" and then
-- looked for "dana@example.com" got a second user. lower() folds ASCII only here (SQLite's
-- built-in lower; PostgreSQL's under users.name's COLLATE "C"), as FoldName does. The
-- names stay as they were created. Where two users already differ only by case, the index
-- cannot be made, nothing changes, and emfa says which users they are.

-- +goose Up
CREATE UNIQUE INDEX users_name_folded ON users (lower(name));

-- +goose Down
DROP INDEX users_name_folded;
