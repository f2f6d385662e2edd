-- The audit log: append-only and hash-chained (see src/audit). Each row's `hash` is SHA-256
-- over its content, its seq and time, and `prev_hash`, the hash of the row before it (64
-- zeros for row 1). Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
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

-- The newest row's seq and hash. An append updates it first (`UPDATE … RETURNING`), which
-- takes its row lock until the append commits: appends from every replica queue there and
-- form one chain. Verification compares the log's last row with it, so deleting the newest
-- rows is detected too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT   NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: UPDATE, DELETE and TRUNCATE of audit_log are refused, and audit_head may only
-- move forward. This stops mistakes and ordinary roles, not an attacker: the table owner or a
-- superuser can disable the triggers (ALTER TABLE audit_log DISABLE TRIGGER …) or drop them.
-- That is why every row is hash-chained: `rekey audit verify` reveals what was changed.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_head only moves forward: this % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_head_forward_only
    BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();

CREATE TRIGGER audit_head_no_truncate
    BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
