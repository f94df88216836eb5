-- The idempotency record's key compares by bytes (COLLATE "C"), as SQLite's BINARY does:
-- every validation with an X-Webhook-ID inserts a record, a descent of the key's index
-- comparing its three texts, and probes the index for the ID under another fingerprint.
-- Under the database's default collation each comparison went through strcoll or ICU,
-- for keys that are opaque IDs and digests nobody sorts. callgrind (BenchmarkSerial): the
-- server's instructions a validation 441.4k -> 439.3k in a C.UTF-8 database (-0.5 %),
-- 446.7k -> 440.4k under ICU's en-US (-1.4 %). Only the key's index is built again; the
-- table holds records until they expire.

-- +goose Up
ALTER TABLE idempotency
    ALTER COLUMN provider TYPE TEXT COLLATE "C",
    ALTER COLUMN webhook_id TYPE TEXT COLLATE "C",
    ALTER COLUMN fingerprint TYPE TEXT COLLATE "C";

-- +goose Down
ALTER TABLE idempotency
    ALTER COLUMN provider TYPE TEXT COLLATE "default",
    ALTER COLUMN webhook_id TYPE TEXT COLLATE "default",
    ALTER COLUMN fingerprint TYPE TEXT COLLATE "default";
