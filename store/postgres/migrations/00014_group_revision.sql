-- A group's revision counts the writes made to its record through ApplyGroupChange (its
-- name, external id and the members that write adds or removes) and UpdateGroup. A write
-- can be made on the condition that the revision is still the one its caller read
-- (GroupChange.IfRevision), so that of concurrent SCIM writes that each name the version
-- they read (If-Match), one applies and the others are refused. The groups written
-- before this migration start at 0.

-- +goose Up
ALTER TABLE sync_groups ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sync_groups DROP COLUMN revision;
