-- The database keeps a user's revision (migration 12) up itself, so that the changes an
-- emfa from before that migration makes during a rolling upgrade count too: it writes the
-- profile row (on every change of the user: its profile, groups, state or factors) without
-- naming the revision, and a change made through a newer replica on the condition of the
-- revision it read (If-Match) overwrote the older replica's edit without seeing it.
--
-- A row inserted at revision 0 (an old emfa's: it takes the default) starts at 1, as a new
-- emfa's does; a row updated without a change of its revision moves to the next one. A new
-- emfa names the revision it writes (1, revision + 1), so its changes move it once, not twice.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION user_profiles_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.revision = 0 THEN
            NEW.revision := 1;
        END IF;
    ELSIF NEW.revision = OLD.revision THEN
        NEW.revision := OLD.revision + 1;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER user_profiles_revision BEFORE INSERT OR UPDATE ON user_profiles
    FOR EACH ROW EXECUTE FUNCTION user_profiles_revision();

-- +goose Down
DROP TRIGGER user_profiles_revision ON user_profiles;
DROP FUNCTION user_profiles_revision();
