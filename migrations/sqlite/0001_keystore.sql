-- Keys, their versions and keystore metadata. Times are milliseconds since the Unix epoch.

CREATE TABLE keys (
    name                   TEXT   NOT NULL PRIMARY KEY,
    purpose                TEXT   NOT NULL,
    rotation_interval_secs BIGINT NOT NULL,
    grace_period_secs      BIGINT NOT NULL,
    primary_version        BIGINT NOT NULL,
    created_at             BIGINT NOT NULL
);

CREATE TABLE key_versions (
    key_name         TEXT   NOT NULL REFERENCES keys (name),
    version          BIGINT NOT NULL,
    state            TEXT   NOT NULL CHECK (state IN ('active', 'deprecated', 'retired')),
    wrapped_material BLOB   NOT NULL,
    check_value      TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    deprecated_at    BIGINT NULL,
    retired_at       BIGINT NULL,
    PRIMARY KEY (key_name, version)
);

-- At most one active version (the primary) per key.
CREATE UNIQUE INDEX key_versions_one_active ON key_versions (key_name) WHERE state = 'active';

CREATE TABLE keystore_meta (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
