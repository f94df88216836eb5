-- A queued event's group names (store.QueuedEvent.Groups: a rename's old and new names,
-- another group event's one; '' for none), indexed: a group's propagation waits for an
-- older pending one naming a group it names (sync's groupAhead), and without them it read
-- and decoded every older pending group propagation of its vendor, each, n²/2 rows a
-- retry round of a vendor's n. NULL: a group event queued before them (or by a replica not
-- yet upgraded), listed with every group's and decoded as before. The other events not
-- done are given '' here, so that those a vendor down holds pending are not searched too.

-- +goose Up
ALTER TABLE sync_events ADD COLUMN group_name TEXT;
ALTER TABLE sync_events ADD COLUMN group_new TEXT;
UPDATE sync_events SET group_name = '', group_new = ''
    WHERE state <> 'done' AND type NOT IN ('group.create', 'group.rename', 'group.delete', 'group.member.add', 'group.member.remove');
CREATE INDEX sync_events_group ON sync_events (source, state, group_name);
CREATE INDEX sync_events_group_new ON sync_events (source, state, group_new);

-- +goose Down
DROP INDEX sync_events_group_new;
DROP INDEX sync_events_group;
ALTER TABLE sync_events DROP COLUMN group_new;
ALTER TABLE sync_events DROP COLUMN group_name;
