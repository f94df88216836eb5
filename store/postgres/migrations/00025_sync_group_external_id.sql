-- A group's externalId, indexed: a SCIM client looks its group up by it
-- (GET /Groups?filter=externalId eq "x", store.SyncQueue.GroupsByExternalID), which read
-- every group without it.

-- +goose Up
CREATE INDEX sync_groups_external_id ON sync_groups (external_id);

-- +goose Down
DROP INDEX sync_groups_external_id;
