-- The database keeps a user's revision (migration 12) up itself, so that the changes an
-- emfa from before that migration makes during a rolling upgrade count too: it writes the
-- profile row (on every change of the user: its profile, groups, state or factors) without
-- naming the revision, and a change made through a newer replica on the condition of the
-- revision it read (If-Match) overwrote the older replica's edit without seeing it. (One
-- server per SQLite file makes that upgrade rare here; the schema is kept the same as
-- PostgreSQL's.)
--
-- A row inserted at revision 0 (an old emfa's: it takes the default) starts at 1, as a new
-- emfa's does; a row updated without a change of its revision moves to the next one. A new
-- emfa names the revision it writes (1, revision + 1), so its changes move it once, not
-- twice. SQLite's triggers cannot change the row they fire for, so they update it after;
-- that update changes the revision, and so fires neither again.

-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER user_profiles_revision_insert AFTER INSERT ON user_profiles
FOR EACH ROW WHEN NEW.revision = 0
BEGIN
    UPDATE user_profiles SET revision = 1 WHERE user_id = NEW.user_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER user_profiles_revision_update AFTER UPDATE ON user_profiles
FOR EACH ROW WHEN NEW.revision = OLD.revision
BEGIN
    UPDATE user_profiles SET revision = OLD.revision + 1 WHERE user_id = NEW.user_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER user_profiles_revision_update;
DROP TRIGGER user_profiles_revision_insert;
