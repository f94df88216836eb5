-- Migration 21's trigger on factors fired BEFORE INSERT OR UPDATE OF user_id. PostgreSQL
-- locks the row an UPDATE is about to change whenever the table has a BEFORE UPDATE row
-- trigger, before it looks at the trigger's column list: every UPDATE of factors (each
-- validation's counter, each failure) locked the factor's row first, a WAL record (a
-- heap LOCK, 54 bytes) and a lock left on the new row version, for a trigger that then
-- did not fire. A factor moved to another user now takes that user's flag AFTER the
-- UPDATE, whose column list and WHEN clause are tested without a lock; an insert still
-- takes it BEFORE. Either holds the user's row FOR SHARE, as before: a disable in flight
-- waits for the move's commit, or the move for the disable's.

-- +goose Up
DROP TRIGGER factors_user_disabled ON factors;

CREATE TRIGGER factors_user_disabled BEFORE INSERT ON factors
    FOR EACH ROW EXECUTE FUNCTION factors_user_disabled();

-- +goose StatementBegin
CREATE FUNCTION factors_user_disabled_moved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d BOOLEAN;
BEGIN
    SELECT disabled INTO d FROM users WHERE id = NEW.user_id FOR SHARE;
    d := coalesce(d, false);
    UPDATE factors SET user_disabled = d WHERE id = NEW.id AND user_disabled <> d;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER factors_user_disabled_moved AFTER UPDATE OF user_id ON factors
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION factors_user_disabled_moved();

-- +goose Down
DROP TRIGGER factors_user_disabled_moved ON factors;
DROP FUNCTION factors_user_disabled_moved();
DROP TRIGGER factors_user_disabled ON factors;
CREATE TRIGGER factors_user_disabled BEFORE INSERT OR UPDATE OF user_id ON factors
    FOR EACH ROW EXECUTE FUNCTION factors_user_disabled();
