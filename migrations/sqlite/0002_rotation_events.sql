-- Rotation events: every rotation and rollback, with the progress and checkpoint of the
-- migration of stored ciphertexts it starts. Times are milliseconds since the Unix epoch.

CREATE TABLE rotation_events (
    id               TEXT   PRIMARY KEY,
    key_name         TEXT   NOT NULL REFERENCES keys (name),
    from_version     BIGINT NOT NULL,
    to_version       BIGINT NOT NULL,
    trigger_kind     TEXT   NOT NULL,
    actor            TEXT   NOT NULL,
    status           TEXT   NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'rolled_back')),
    -- 1 while migrating records back to from_version after RollbackEvent.
    rolling_back     BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT NULL,
    finished_at      BIGINT NULL,
    batch_size       BIGINT NOT NULL,
    rate_limit       BIGINT NOT NULL DEFAULT 0,
    -- Time spent migrating, for records/second.
    active_millis    BIGINT NOT NULL DEFAULT 0,
    -- Full passes over the targets (a pass that skipped rows changed underneath is followed
    -- by another).
    pass             BIGINT NOT NULL DEFAULT 1,
    last_error       TEXT   NULL,
    -- The replica working the event, and until when its claim holds.
    lease_owner      TEXT   NULL,
    lease_expires_at BIGINT NULL
);

CREATE INDEX rotation_events_by_key ON rotation_events (key_name, created_at);

-- At most one unfinished event per key.
CREATE UNIQUE INDEX rotation_events_one_open ON rotation_events (key_name)
    WHERE status IN ('pending', 'in_progress');

CREATE TABLE rotation_event_targets (
    event_id        TEXT   NOT NULL REFERENCES rotation_events (id),
    target          TEXT   NOT NULL,
    total           BIGINT NOT NULL DEFAULT 0,
    migrated        BIGINT NOT NULL DEFAULT 0,
    already_current BIGINT NOT NULL DEFAULT 0,
    skipped         BIGINT NOT NULL DEFAULT 0,
    failed          BIGINT NOT NULL DEFAULT 0,
    -- Primary key of the last row processed in the current pass.
    checkpoint      TEXT   NULL,
    done            BIGINT NOT NULL DEFAULT 0,
    -- Primary keys of failed rows, newline-separated, at most 100.
    failed_ids      TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, target)
);
