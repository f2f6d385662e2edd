-- Keys, their versions and keystore metadata. Times are milliseconds since the Unix epoch.
-- Names use the "C" collation so that keys list in the same (byte) order as on SQLite,
-- whatever the database's default collation.

CREATE TABLE keys (
    name                   TEXT COLLATE "C" PRIMARY KEY,
    purpose                TEXT   NOT NULL,
    rotation_interval_secs BIGINT NOT NULL,
    grace_period_secs      BIGINT NOT NULL,
    primary_version        BIGINT NOT NULL,
    created_at             BIGINT NOT NULL
);

CREATE TABLE key_versions (
    key_name         TEXT COLLATE "C" NOT NULL REFERENCES keys (name),
    version          BIGINT NOT NULL,
    state            TEXT   NOT NULL
        CONSTRAINT key_versions_state_check CHECK (state IN ('active', 'deprecated', 'retired')),
    wrapped_material BYTEA  NOT NULL,
    check_value      TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    deprecated_at    BIGINT NULL,
    retired_at       BIGINT NULL,
    PRIMARY KEY (key_name, version)
);

-- At most one active version (the primary) per key.
CREATE UNIQUE INDEX key_versions_one_active ON key_versions (key_name) WHERE state = 'active';

CREATE TABLE keystore_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
