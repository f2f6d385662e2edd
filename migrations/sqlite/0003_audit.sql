-- The audit log: append-only and hash-chained (see src/audit). Each row's `hash` is SHA-256
-- over its content, its seq and time, and `prev_hash`, the hash of the row before it (64
-- zeros for row 1). Times are milliseconds since the Unix epoch, UTC.
--
-- SQLite has no privileges to enforce append-only: whoever can write the file can change
-- anything, which the hash chain (`rekey audit verify`) then reveals.

CREATE TABLE audit_log (
    -- INTEGER PRIMARY KEY: the rowid itself (a 64-bit integer), so rows are stored in seq order.
    seq         INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    principal   TEXT   NOT NULL,
    operation   TEXT   NOT NULL,
    key_name    TEXT   NULL,
    key_version BIGINT NULL,
    outcome     TEXT   NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    records     BIGINT NULL,
    detail      TEXT   NOT NULL,
    request_id  TEXT   NULL,
    prev_hash   TEXT   NOT NULL,
    hash        TEXT   NOT NULL
);

CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_key ON audit_log (key_name, seq);
CREATE INDEX audit_log_by_principal ON audit_log (principal, seq);
CREATE INDEX audit_log_by_operation ON audit_log (operation, seq);

-- The newest row's seq and hash. Appends update it in the same (BEGIN IMMEDIATE) transaction
-- as their insert, so they serialize on it and form one chain; verification compares the
-- log's last row with it, so deleting the newest rows is detected too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
