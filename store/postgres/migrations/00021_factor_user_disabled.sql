-- A factor's row carries its user's disabled flag, kept by the database itself, so that the
-- statement deciding a code (AdvanceCounter, ClearFailuresUnlocked) tests it on the row it
-- updates. Under READ COMMITTED a statement that waited for the factor's row (a
-- concurrent attempt's unit) tests that row again as it is now, but a sub-select on users
-- as it was when the statement began: a disable committed during the wait went unseen, and
-- the code passed after the disable had returned. Locking the user's row in each decision
-- (FOR SHARE) closed that at a lock, a WAL record and a dirtied page of users per
-- validation; this costs a disable an UPDATE of the user's few factors instead, and the
-- decision nothing.
--
-- users' trigger copies a change of disabled to the user's factors (a disable made by an
-- emfa from before this migration too, during a rolling upgrade). factors' takes the flag
-- of the user a factor is inserted for, or moved to, holding that user's row FOR SHARE:
-- a disable in flight then waits for the insert's commit, or the insert for the disable's,
-- so neither misses the other.

-- +goose Up
ALTER TABLE factors ADD COLUMN user_disabled BOOLEAN NOT NULL DEFAULT false;

UPDATE factors f SET user_disabled = true FROM users u WHERE u.id = f.user_id AND u.disabled;

-- +goose StatementBegin
CREATE FUNCTION users_disabled_to_factors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE factors SET user_disabled = NEW.disabled WHERE user_id = NEW.id AND user_disabled <> NEW.disabled;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_disabled_to_factors AFTER UPDATE OF disabled ON users
    FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled)
    EXECUTE FUNCTION users_disabled_to_factors();

-- +goose StatementBegin
CREATE FUNCTION factors_user_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT disabled INTO NEW.user_disabled FROM users WHERE id = NEW.user_id FOR SHARE;
    NEW.user_disabled := coalesce(NEW.user_disabled, false);
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER factors_user_disabled BEFORE INSERT OR UPDATE OF user_id ON factors
    FOR EACH ROW EXECUTE FUNCTION factors_user_disabled();

-- +goose Down
DROP TRIGGER factors_user_disabled ON factors;
DROP FUNCTION factors_user_disabled();
DROP TRIGGER users_disabled_to_factors ON users;
DROP FUNCTION users_disabled_to_factors();
ALTER TABLE factors DROP COLUMN user_disabled;
