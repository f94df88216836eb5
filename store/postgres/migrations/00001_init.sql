-- The first schema, the same as store/sqlite's. Times are BIGINT unix milliseconds (0 is the
-- zero time, "never") rather than timestamptz, so both backends keep the same precision and
-- compare the same way. Names and ids sort with COLLATE "C" so that ListUsers and
-- ListFactors order by bytes whatever the database's locale, as SQLite does.

-- +goose Up
CREATE TABLE users (
    id         TEXT     PRIMARY KEY,
    name       TEXT     COLLATE "C" NOT NULL UNIQUE,
    disabled   BOOLEAN  NOT NULL DEFAULT false,
    created_at BIGINT   NOT NULL
);

CREATE TABLE factors (
    id           TEXT    COLLATE "C" PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    secret       BYTEA,
    key_id       TEXT    NOT NULL,
    params       JSONB   NOT NULL DEFAULT '{}', -- object of strings
    counter      BIGINT  NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT  NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

-- ListFactors, and the cascade from users, which would otherwise scan factors.
CREATE INDEX factors_user ON factors (user_id, created_at, id);

-- No foreign key to factors: a challenge may outlive its factor (an audit trail of a
-- deleted phone) and some capabilities have no factor at all.
CREATE TABLE transactions (
    id         TEXT    PRIMARY KEY,
    provider   TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    capability TEXT    NOT NULL,
    factor_id  TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    secret     BYTEA,
    attempts   INTEGER NOT NULL DEFAULT 0,
    data       BYTEA,
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE INDEX transactions_factor ON transactions (factor_id, status);
CREATE INDEX transactions_expires ON transactions (expires_at);

-- The identity breaks ties between events of the same millisecond. Under concurrent
-- appends it follows the order ids were drawn, not commit order; good enough for an audit
-- listing, which is ordered by time first.
CREATE TABLE audit (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time        BIGINT  NOT NULL,
    request_id  TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    capability  TEXT    NOT NULL,
    factor_id   TEXT    NOT NULL,
    resource    TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);

CREATE INDEX audit_username_time ON audit (username, time, id);
CREATE INDEX audit_time ON audit (time, id);

-- +goose Down
DROP TABLE audit;
DROP TABLE transactions;
DROP TABLE factors;
DROP TABLE users;
