-- A factor's last successful use lives on its row, written in the same unit as the
-- validation that already changes that row, instead of being looked up in the audit
-- trail through an index on (factor_id, time). That index put a random page into every
-- validation's commit (one of four), and nothing else read it.

-- +goose Up
ALTER TABLE factors ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
UPDATE factors SET last_used_at = COALESCE((SELECT MAX(time) FROM audit
    WHERE audit.factor_id = factors.id AND outcome = 'SUCCESS' AND resource IN ('validate', 'result')), 0);
DROP INDEX audit_factor_time;

-- +goose Down
CREATE INDEX audit_factor_time ON audit (factor_id, time);
ALTER TABLE factors DROP COLUMN last_used_at;
