-- A disable, a delete or a reset of a user ends its self-service sessions in the same
-- commit (DELETE ... WHERE user_id); without this index each of them, every user of an
-- import or a SCIM batch included, read the whole table, which anyone can grow with
-- anonymous sessions until the idle sweep.

-- +goose Up
CREATE INDEX selfservice_sessions_user ON selfservice_sessions (user_id);

-- +goose Down
DROP INDEX selfservice_sessions_user;
