-- A migration target's key space, split into partitions that migrate concurrently, each with
-- its own checkpoint and lease: any replica takes a free partition (or one whose holder
-- stopped renewing its lease) and works it from its checkpoint. Written by the worker that
-- first takes the event up (it samples the target's table); kept across passes and rollback.
-- Counts are per partition and summed per target when read; rotation_event_targets keeps
-- the target list (and the counts of events started before partitions existed).
CREATE TABLE rotation_event_partitions (
    event_id         TEXT COLLATE "C"   NOT NULL REFERENCES rotation_events (id),
    target           TEXT COLLATE "C"   NOT NULL,
    idx              BIGINT NOT NULL,
    -- Keys in (lower_bound, upper_bound], as checkpoints; NULL = unbounded.
    lower_bound      TEXT   NULL,
    upper_bound      TEXT   NULL,
    -- Primary key of the last row processed in the current pass (NULL: from lower_bound).
    checkpoint       TEXT   NULL,
    done             BIGINT NOT NULL DEFAULT 0,
    total            BIGINT NOT NULL DEFAULT 0,
    migrated         BIGINT NOT NULL DEFAULT 0,
    already_current  BIGINT NOT NULL DEFAULT 0,
    skipped          BIGINT NOT NULL DEFAULT 0,
    failed           BIGINT NOT NULL DEFAULT 0,
    -- Rows skipped (changed underneath) in the current pass: another pass follows if any.
    pass_skipped     BIGINT NOT NULL DEFAULT 0,
    failed_ids       TEXT   NOT NULL DEFAULT '',
    -- Time spent on batches, for the event's work rate.
    active_millis    BIGINT NOT NULL DEFAULT 0,
    lease_owner      TEXT   NULL,
    lease_expires_at BIGINT NULL,
    PRIMARY KEY (event_id, target, idx)
);
