-- A user's revision counts the changes made to it through ApplyUserChanges (its profile,
-- groups, state or factors; each stamps updated_at too). A change can be made on the
-- condition that the revision is still the one its caller read (UserChange.IfRevision),
-- so that two edits that each read a profile, change a field and write the whole profile
-- back do not lose one another's field. The users changed before this migration start at 0.

-- +goose Up
ALTER TABLE user_profiles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE user_profiles DROP COLUMN revision;
