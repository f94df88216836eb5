-- A session remembers what it rests on, so that a change ends only the sessions it takes
-- the ground from: factor_id, the factor a sign-in proved itself with ('' for an
-- anonymous or a link session), ends with that factor when it is disabled or deleted;
-- created_at lets a directory's reset delivered late end the sessions begun before it
-- happened and keep those begun since. A session from before this has neither: 0 began
-- before any reset, which ends it as every reset did. Both are read with user_id, whose
-- index (00015) finds a user's few sessions: they need no index of their own.

-- +goose Up
ALTER TABLE selfservice_sessions ADD COLUMN factor_id TEXT NOT NULL DEFAULT '';
ALTER TABLE selfservice_sessions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE selfservice_sessions DROP COLUMN created_at;
ALTER TABLE selfservice_sessions DROP COLUMN factor_id;
