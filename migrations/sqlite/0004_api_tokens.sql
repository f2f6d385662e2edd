-- Bearer tokens of the gRPC and HTTP APIs. Only a SHA-256 hash of each token is stored; the
-- token itself is shown once, when it is created.

CREATE TABLE api_tokens (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'client')),
    -- Comma-separated key names a client token may use; empty means every key.
    key_names   TEXT   NOT NULL DEFAULT '',
    -- Comma-separated data-plane operations a client token may perform; empty means all.
    operations  TEXT   NOT NULL DEFAULT '',
    secret_hash TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL,
    expires_at  BIGINT NULL,
    revoked_at  BIGINT NULL
);
