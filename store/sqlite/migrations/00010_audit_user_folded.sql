-- The audit trail keeps each name as its request gave it, and a query by user matches it
-- regardless of ASCII case, as every other lookup of a user's name does (migration 9): the
-- index by user is on the folded name.

-- +goose Up
DROP INDEX audit_username_time;
CREATE INDEX audit_username_time ON audit (lower(username), time, id);

-- +goose Down
DROP INDEX audit_username_time;
CREATE INDEX audit_username_time ON audit (username, time, id);
