-- Directory sync orders a user's events by a key, "user:" and the name, and keeps the time
-- of the last one applied (sync_marks) so that an older event arriving later is skipped.
-- Since names match regardless of ASCII case (migration 9) the key holds the folded name
-- (store.FoldName, which lower() matches under COLLATE "C"): the marks and the unfinished
-- events of the keys written before move to it, a name's latest mark kept, so that a late
-- event is still compared with what was applied before the upgrade. Group keys are not
-- folded.

-- +goose Up
INSERT INTO sync_marks (key, event_time)
    SELECT lower(key COLLATE "C"), MAX(event_time) FROM sync_marks
    WHERE key LIKE 'user:%' AND key <> lower(key COLLATE "C") GROUP BY lower(key COLLATE "C")
    ON CONFLICT (key) DO UPDATE SET event_time = GREATEST(sync_marks.event_time, excluded.event_time);
DELETE FROM sync_marks WHERE key LIKE 'user:%' AND key <> lower(key COLLATE "C");
UPDATE sync_events SET order_key = lower(order_key COLLATE "C")
    WHERE order_key LIKE 'user:%' AND order_key <> lower(order_key COLLATE "C") AND state <> 'done';

-- +goose Down
-- Nothing to undo: the folded keys are keys an older emfa may write too.
