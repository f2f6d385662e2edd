//! Settings that were top-level keys before the file had sections: naming the new place turns
//! an old config file's "unknown field" into an instruction.

/// Old top-level key → its place now (as a dotted TOML key).
const MOVED: [(&str, &str); 16] = [
    ("database_url", "database.url"),
    ("database_max_connections", "database.max_connections"),
    ("master_key", "keystore.master_key"),
    ("master_key_file", "keystore.master_key_file"),
    ("max_plaintext_bytes", "keystore.max_plaintext_bytes"),
    (
        "key_refresh_interval_secs",
        "keystore.refresh_interval_secs",
    ),
    ("rotation_enabled", "rotation.enabled"),
    ("min_rotation_interval_secs", "rotation.min_interval_secs"),
    ("schedule_enabled", "rotation.schedule_enabled"),
    ("schedule_cron", "rotation.schedule_cron"),
    ("migration_batch_size", "rotation.batch_size"),
    ("migration_lease_secs", "rotation.lease_secs"),
    (
        "worker_poll_interval_ms",
        "rotation.worker_poll_interval_ms",
    ),
    ("log_format", "telemetry.log_format"),
    ("otlp_endpoint", "telemetry.otlp_endpoint"),
    ("trace_sample_ratio", "telemetry.trace_sample_ratio"),
];

/// The first old-style top-level key of `text` and where it lives now, e.g.
/// `("migration_batch_size", "rotation.batch_size")`. None when the file is not TOML (the
/// real parse reports that) or has no old key.
pub(super) fn first_moved_key(text: &str) -> Option<(&'static str, &'static str)> {
    let table: toml::Table = text.parse().ok()?;
    MOVED.into_iter().find(|(old, _)| table.contains_key(*old))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_flat_key_names_its_new_place() {
        assert_eq!(
            first_moved_key("listen = \"127.0.0.1:1\"\nmigration_batch_size = 10\n"),
            Some(("migration_batch_size", "rotation.batch_size"))
        );
        assert_eq!(first_moved_key("[rotation]\nbatch_size = 10\n"), None);
        assert_eq!(first_moved_key("not = = toml"), None);
    }
}
