-- The order transactions were created in the store, whatever the clock of the replica
-- that created them said: CancelOlder withdraws the factor's challenges created before the
-- one kept. By created_at, a resend on a replica whose clock is a second behind looked
-- older than the challenge it replaces and withdrew nothing, and two challenges of one
-- millisecond were ordered by their random ids. Existing rows are numbered as the
-- column is added; an emfa from before this migration inserts without naming it.

-- +goose Up
ALTER TABLE transactions ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;

-- +goose Down
ALTER TABLE transactions DROP COLUMN seq;
