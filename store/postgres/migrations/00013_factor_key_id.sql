-- Start-up refuses a keyring that lacks a key some factor's secret is sealed with
-- (Store.FactorKeyIDs); this index lets it find the distinct key ids with one probe
-- each instead of reading every factor.

-- +goose Up
CREATE INDEX factors_key_id ON factors (key_id);

-- +goose Down
DROP INDEX factors_key_id;
