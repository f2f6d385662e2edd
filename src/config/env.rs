//! The environment overlay: every variable the server reads, as one table of name → setter.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

use super::{Config, ConfigError};
use crate::audit::DataPlaneAudit;

/// Sets a field of `Config` from a variable's (trimmed, non-empty) value, or says why not.
type Apply = fn(&mut Config, &str) -> Result<(), String>;

/// Every environment variable, in the order applied: a later variable overrides an earlier
/// one that sets the same field (so `REKEY_OTLP_ENDPOINT` wins over the standard OTEL names).
pub(super) const VARIABLES: &[(&str, Apply)] = &[
    ("REKEY_LISTEN", |c, v| set(&mut c.listen, v)),
    ("REKEY_HTTP_LISTEN", |c, v| {
        c.http_listen = match v {
            "off" | "none" => None,
            addr => Some(parse(addr)?),
        };
        Ok(())
    }),
    ("REKEY_DATA_DIR", |c, v| set(&mut c.data_dir, v)),
    ("REKEY_ADMIN_TOKEN", |c, v| secret(&mut c.admin_token, v)),
    ("REKEY_DATA_PLANE_AUDIT", |c, v| {
        c.data_plane_audit =
            DataPlaneAudit::parse(v).ok_or("expected off, counts or every_call")?;
        Ok(())
    }),
    ("REKEY_DATABASE_URL", |c, v| secret(&mut c.database.url, v)),
    ("REKEY_DATABASE_MAX_CONNECTIONS", |c, v| {
        set(&mut c.database.max_connections, v)
    }),
    ("REKEY_MASTER_KEY", |c, v| {
        secret(&mut c.keystore.master_key, v)
    }),
    ("REKEY_MASTER_KEY_FILE", |c, v| {
        set_some(&mut c.keystore.master_key_file, v)
    }),
    ("REKEY_ROOT_KEY_PROVIDER", |c, v| {
        set(&mut c.keystore.root_key_provider, v)
    }),
    ("REKEY_PKCS11_MODULE", |c, v| {
        set_some(&mut c.keystore.pkcs11.module, v)
    }),
    ("REKEY_PKCS11_TOKEN_LABEL", |c, v| {
        set_some(&mut c.keystore.pkcs11.token_label, v)
    }),
    ("REKEY_PKCS11_SLOT", |c, v| {
        set_some(&mut c.keystore.pkcs11.slot, v)
    }),
    ("REKEY_PKCS11_KEY_LABEL", |c, v| {
        set(&mut c.keystore.pkcs11.key_label, v)
    }),
    ("REKEY_PKCS11_PIN", |c, v| {
        secret(&mut c.keystore.pkcs11.pin_env, v)
    }),
    ("REKEY_PKCS11_PIN_FILE", |c, v| {
        set_some(&mut c.keystore.pkcs11.pin_file, v)
    }),
    ("REKEY_MAX_PLAINTEXT_BYTES", |c, v| {
        set(&mut c.keystore.max_plaintext_bytes, v)
    }),
    ("REKEY_MAX_BATCH_ITEMS", |c, v| {
        set(&mut c.keystore.max_batch_items, v)
    }),
    ("REKEY_MAX_BATCH_BYTES", |c, v| {
        set(&mut c.keystore.max_batch_bytes, v)
    }),
    ("REKEY_KEY_REFRESH_INTERVAL_SECS", |c, v| {
        set(&mut c.keystore.refresh_interval_secs, v)
    }),
    ("KEY_ROTATION_ENABLED", |c, v| {
        flag(&mut c.rotation.enabled, v)
    }),
    ("REKEY_MIN_ROTATION_INTERVAL_SECS", |c, v| {
        set(&mut c.rotation.min_interval_secs, v)
    }),
    ("KEY_ROTATION_SCHEDULE_ENABLED", |c, v| {
        flag(&mut c.rotation.schedule_enabled, v)
    }),
    ("REKEY_SCHEDULE_CRON", |c, v| {
        set(&mut c.rotation.schedule_cron, v)
    }),
    ("REKEY_MIGRATION_PARALLELISM", |c, v| {
        set(&mut c.rotation.parallelism, v)
    }),
    ("REKEY_MIGRATION_WORKER_LANES", |c, v| {
        set_some(&mut c.rotation.worker_lanes, v)
    }),
    ("REKEY_TRANSIT_ENABLED", |c, v| {
        flag(&mut c.transit.enabled, v)
    }),
    ("REKEY_TRANSIT_MOUNT", |c, v| set(&mut c.transit.mount, v)),
    ("REKEY_LOG_FORMAT", |c, v| {
        set(&mut c.telemetry.log_format, v)
    }),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", |c, v| {
        set_some(&mut c.telemetry.otlp_endpoint, v)
    }),
    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", |c, v| {
        set_some(&mut c.telemetry.otlp_endpoint, v)
    }),
    ("REKEY_OTLP_ENDPOINT", |c, v| {
        set_some(&mut c.telemetry.otlp_endpoint, v)
    }),
    ("REKEY_TRACE_SAMPLE_RATIO", |c, v| {
        set(&mut c.telemetry.trace_sample_ratio, v)
    }),
];

/// The runbook's legacy key variables (`TOKEN_ENCRYPTION_KEY`, …): the key they seed.
const LEGACY_KEYS: [&str; 2] = ["TOKEN_ENCRYPTION", "DATABASE_ENCRYPTION"];

/// Applies every variable of [`VARIABLES`] that `env` sets, then the legacy key variables.
pub(super) fn apply(config: &mut Config, env: &HashMap<String, String>) -> Result<(), ConfigError> {
    for &(name, apply) in VARIABLES {
        let value = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(value) = value {
            apply(config, value).map_err(|reason| ConfigError::Env {
                name,
                value: quoted(name, value),
                reason,
            })?;
        }
    }
    for name in LEGACY_KEYS {
        // Deliberately not trimmed: a raw 32-character key may contain spaces.
        if let Some(v) = env.get(&format!("{name}_KEY")).filter(|v| !v.is_empty()) {
            config
                .legacy_keys
                .0
                .insert(name.to_owned(), SecretString::from(v.as_str()));
        }
    }
    Ok(())
}

/// Variables whose value is a secret: a message never quotes it.
const SECRET_VARIABLES: [&str; 4] = [
    "REKEY_ADMIN_TOKEN",
    "REKEY_DATABASE_URL",
    "REKEY_MASTER_KEY",
    "REKEY_PKCS11_PIN",
];

/// A rejected value as a message quotes it: enough to recognise, never a flood, never a secret.
fn quoted(name: &str, value: &str) -> String {
    const QUOTED_CHARS: usize = 60;
    if SECRET_VARIABLES.contains(&name) {
        return "<redacted>".into();
    }
    crate::excerpt::excerpt(value, QUOTED_CHARS)
}

fn parse<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| e.to_string())
}

fn set<T: FromStr>(field: &mut T, value: &str) -> Result<(), String>
where
    T::Err: fmt::Display,
{
    *field = parse(value)?;
    Ok(())
}

fn set_some<T: FromStr>(field: &mut Option<T>, value: &str) -> Result<(), String>
where
    T::Err: fmt::Display,
{
    *field = Some(parse(value)?);
    Ok(())
}

fn secret(field: &mut Option<SecretString>, value: &str) -> Result<(), String> {
    *field = Some(SecretString::from(value));
    Ok(())
}

fn flag(field: &mut bool, value: &str) -> Result<(), String> {
    *field = match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => true,
        "false" | "0" | "no" | "off" => false,
        _ => return Err("expected true or false".into()),
    };
    Ok(())
}
