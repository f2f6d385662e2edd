-- The rotation event an audit row is about (the one a rotation or rollback created, or the
-- one an ExecuteEvent, RetryEvent or RollbackEvent acted on). NULL on rows written before it
-- existed and on rows about no event; the row hash covers it only when it is set, so those
-- rows keep verifying (see record_hash in src/audit/chain.rs).
ALTER TABLE audit_log ADD COLUMN event_id TEXT NULL;
