//! Server configuration: built-in defaults, then an optional TOML file, then `REKEY_*` (and the
//! runbook's legacy) environment variables, then command-line flags. Tests build a `Config`
//! value directly instead of touching the process environment.

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::audit::DataPlaneAudit;
use crate::clock::SECS_PER_DAY;
use crate::keystore::store::{KeyPolicy, Purpose};
use crate::rotation::targets::TargetConfig;

/// Daily at 02:00 UTC, as the runbook says.
pub const DEFAULT_SCHEDULE_CRON: &str = "0 0 2 * * *";
/// Largest batch a migration may use.
pub const MAX_BATCH_SIZE: u32 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for environment variable {name}: {reason}")]
    Env { name: &'static str, reason: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A key declared in config. Declaring one of the built-in names replaces its policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    #[serde(default = "default_purpose")]
    pub purpose: PurposeConfig,
    pub rotation_interval_days: u32,
    pub grace_period_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurposeConfig {
    EncryptDecrypt,
    SignVerify,
}

fn default_purpose() -> PurposeConfig {
    PurposeConfig::EncryptDecrypt
}

impl KeyConfig {
    fn builtin(name: &str, purpose: PurposeConfig, interval: u32, grace: u32) -> Self {
        Self {
            name: name.to_owned(),
            purpose,
            rotation_interval_days: interval,
            grace_period_days: grace,
        }
    }

    pub fn purpose(&self) -> Purpose {
        match self.purpose {
            PurposeConfig::EncryptDecrypt => Purpose::EncryptDecrypt,
            PurposeConfig::SignVerify => Purpose::SignVerify,
        }
    }

    pub fn policy(&self) -> KeyPolicy {
        KeyPolicy {
            rotation_interval_secs: i64::from(self.rotation_interval_days) * SECS_PER_DAY,
            grace_period_secs: i64::from(self.grace_period_days) * SECS_PER_DAY,
        }
    }
}

/// The runbook's five key types and their schedules (interval / grace period, in days).
pub fn builtin_keys() -> Vec<KeyConfig> {
    use PurposeConfig::*;
    vec![
        KeyConfig::builtin("TOKEN_ENCRYPTION", EncryptDecrypt, 90, 30),
        KeyConfig::builtin("DATABASE_ENCRYPTION", EncryptDecrypt, 180, 90),
        KeyConfig::builtin("FILE_ENCRYPTION", EncryptDecrypt, 365, 180),
        KeyConfig::builtin("SESSION_ENCRYPTION", EncryptDecrypt, 30, 7),
        KeyConfig::builtin("API_SIGNATURE", SignVerify, 90, 30),
    ]
}

/// Values of the runbook's legacy variables (`TOKEN_ENCRYPTION_KEY`, `DATABASE_ENCRYPTION_KEY`),
/// imported as version 1 of their key when that key does not exist yet.
#[derive(Default, Clone)]
pub struct LegacyKeys(pub HashMap<String, SecretString>);

impl fmt::Debug for LegacyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The complete server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// HTTP admin API (the runbook's `/api/v1/key-rotation/...` routes); None disables it.
    pub http_listen: Option<SocketAddr>,
    /// Data folder of the embedded default: SQLite database and development root key.
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; unset means SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// Connections per process to the keystore database.
    pub database_max_connections: u32,
    /// Root key as base64 of 32 bytes. Prefer the environment (`REKEY_MASTER_KEY`) or a file.
    pub master_key: Option<SecretString>,
    /// `REKEY_ADMIN_TOKEN`: an admin bearer token accepted in addition to stored tokens (at
    /// least 32 characters). When unset, the first start creates one into the data folder.
    pub admin_token: Option<SecretString>,
    /// File holding the root key as base64 of 32 bytes.
    pub master_key_file: Option<PathBuf>,
    /// Largest plaintext or message accepted by Encrypt and Sign.
    pub max_plaintext_bytes: usize,
    /// How often each replica reloads key versions from the database, so that a rotation made
    /// on another replica is used for new encryptions within this bound.
    pub key_refresh_interval_secs: u64,
    /// A rotation without `force` is refused if the key was rotated less than this ago.
    pub min_rotation_interval_secs: u64,
    /// `KEY_ROTATION_ENABLED`: when false, Rotate and Rollback are refused.
    pub rotation_enabled: bool,
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint traces are exported to (e.g. `http://otel-collector:4317`); unset
    /// means no trace export. `REKEY_OTLP_ENDPOINT`, or the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces exported, 0.0–1.0 (a caller's own sampling decision, carried in
    /// `traceparent`, is followed).
    pub trace_sample_ratio: f64,
    /// Keys beyond (or replacing the policy of) the built-in five.
    pub keys: Vec<KeyConfig>,
    /// How successful data-plane calls are audited: `off`, `counts` (per principal, key and
    /// operation, appended every key refresh interval) or `every_call`.
    pub data_plane_audit: DataPlaneAudit,
    /// `KEY_ROTATION_SCHEDULE_ENABLED`: when false the scheduler never runs (manual rotations
    /// still work).
    pub schedule_enabled: bool,
    /// When the scheduler runs, as a cron expression in UTC with seconds:
    /// `sec min hour day-of-month month day-of-week`. Default: daily at 02:00.
    pub schedule_cron: String,
    /// Rows per migration batch unless a target or ExecuteEvent says otherwise.
    pub migration_batch_size: u32,
    /// How long a replica's claim on a migration event lasts without renewal; after that,
    /// another replica takes the event over from its last checkpoint.
    pub migration_lease_secs: u64,
    /// How often an idle migration worker looks for events to work.
    pub worker_poll_interval_ms: u64,
    /// Application tables whose ciphertexts are migrated after a rotation of their key.
    pub targets: Vec<TargetConfig>,
    /// TLS on both ports, and mutual TLS on gRPC; None serves plaintext (keep the ports on a
    /// private network then).
    pub tls: Option<crate::tls::TlsConfig>,
    #[serde(skip)]
    pub legacy_keys: LegacyKeys,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: PathBuf::from("./rekey-data"),
            database_url: None,
            database_max_connections: 16,
            master_key: None,
            admin_token: None,
            master_key_file: None,
            max_plaintext_bytes: 1024 * 1024,
            key_refresh_interval_secs: 5,
            min_rotation_interval_secs: 60,
            rotation_enabled: true,
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            trace_sample_ratio: 1.0,
            keys: Vec::new(),
            data_plane_audit: DataPlaneAudit::Counts,
            schedule_enabled: true,
            schedule_cron: DEFAULT_SCHEDULE_CRON.to_owned(),
            migration_batch_size: 1000,
            migration_lease_secs: 30,
            worker_poll_interval_ms: 1000,
            targets: Vec::new(),
            tls: None,
            legacy_keys: LegacyKeys::default(),
        }
    }
}

/// Where the keystore lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres,
}

impl Config {
    /// Reads the optional TOML file, then applies environment overrides from `env`.
    pub fn load(
        file: Option<&std::path::Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(v) = get("REKEY_LISTEN") {
            self.listen = parse_env("REKEY_LISTEN", v)?;
        }
        if let Some(v) = get("REKEY_HTTP_LISTEN") {
            self.http_listen = match v {
                "off" | "none" => None,
                addr => Some(parse_env("REKEY_HTTP_LISTEN", addr)?),
            };
        }
        if let Some(v) = get("REKEY_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("REKEY_DATABASE_URL") {
            self.database_url = Some(SecretString::from(v));
        }
        if let Some(v) = get("REKEY_DATABASE_MAX_CONNECTIONS") {
            self.database_max_connections = parse_env("REKEY_DATABASE_MAX_CONNECTIONS", v)?;
        }
        if let Some(v) = get("REKEY_MASTER_KEY") {
            self.master_key = Some(SecretString::from(v));
        }
        if let Some(v) = get("REKEY_ADMIN_TOKEN") {
            self.admin_token = Some(SecretString::from(v));
        }
        if let Some(v) = get("REKEY_MASTER_KEY_FILE") {
            self.master_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("REKEY_MAX_PLAINTEXT_BYTES") {
            self.max_plaintext_bytes = parse_env("REKEY_MAX_PLAINTEXT_BYTES", v)?;
        }
        if let Some(v) = get("REKEY_KEY_REFRESH_INTERVAL_SECS") {
            self.key_refresh_interval_secs = parse_env("REKEY_KEY_REFRESH_INTERVAL_SECS", v)?;
        }
        if let Some(v) = get("REKEY_MIN_ROTATION_INTERVAL_SECS") {
            self.min_rotation_interval_secs = parse_env("REKEY_MIN_ROTATION_INTERVAL_SECS", v)?;
        }
        if let Some(v) = get("REKEY_LOG_FORMAT") {
            self.log_format = match v {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Env {
                        name: "REKEY_LOG_FORMAT",
                        reason: "expected \"text\" or \"json\"".into(),
                    })
                }
            };
        }
        if let Some(v) = get("REKEY_OTLP_ENDPOINT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            .or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            self.otlp_endpoint = Some(v.to_owned());
        }
        if let Some(v) = get("REKEY_TRACE_SAMPLE_RATIO") {
            self.trace_sample_ratio = parse_env("REKEY_TRACE_SAMPLE_RATIO", v)?;
        }
        if let Some(v) = get("KEY_ROTATION_ENABLED") {
            self.rotation_enabled = parse_bool("KEY_ROTATION_ENABLED", v)?;
        }
        if let Some(v) = get("REKEY_DATA_PLANE_AUDIT") {
            self.data_plane_audit = DataPlaneAudit::parse(v).ok_or(ConfigError::Env {
                name: "REKEY_DATA_PLANE_AUDIT",
                reason: "expected off, counts or every_call".into(),
            })?;
        }
        if let Some(v) = get("KEY_ROTATION_SCHEDULE_ENABLED") {
            self.schedule_enabled = parse_bool("KEY_ROTATION_SCHEDULE_ENABLED", v)?;
        }
        if let Some(v) = get("REKEY_SCHEDULE_CRON") {
            self.schedule_cron = v.to_owned();
        }
        for name in ["TOKEN_ENCRYPTION", "DATABASE_ENCRYPTION"] {
            let var = format!("{name}_KEY");
            // Deliberately not trimmed: a raw 32-character key may contain spaces.
            if let Some(v) = env.get(&var).filter(|v| !v.is_empty()) {
                self.legacy_keys
                    .0
                    .insert(name.to_owned(), SecretString::from(v.as_str()));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_plaintext_bytes == 0 {
            return Err(ConfigError::Invalid(
                "max_plaintext_bytes must be at least 1".into(),
            ));
        }
        if self.key_refresh_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "key_refresh_interval_secs must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            return Err(ConfigError::Invalid(format!(
                "trace_sample_ratio must be between 0.0 and 1.0, got {}",
                self.trace_sample_ratio
            )));
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "otlp_endpoint {endpoint:?} must be an http:// or https:// URL of an OTLP/gRPC receiver, e.g. http://otel-collector:4317"
                )));
            }
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database_max_connections must be at least 1".into(),
            ));
        }
        for key in &self.keys {
            crate::crypto::validate_key_name(&key.name).map_err(|e| {
                ConfigError::Invalid(format!("key name {:?} in [[keys]]: {e}", key.name))
            })?;
            if key.rotation_interval_days == 0 {
                return Err(ConfigError::Invalid(format!(
                    "key {}: rotation_interval_days must be at least 1",
                    key.name
                )));
            }
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().chars().count() < 32)
        {
            return Err(ConfigError::Invalid(
                "REKEY_ADMIN_TOKEN must be at least 32 characters (e.g. `openssl rand -base64 32`)"
                    .into(),
            ));
        }
        self.schedule()?;
        if self.migration_batch_size == 0 || self.migration_batch_size > MAX_BATCH_SIZE {
            return Err(ConfigError::Invalid(format!(
                "migration_batch_size must be between 1 and {MAX_BATCH_SIZE}"
            )));
        }
        if self.migration_lease_secs == 0 || self.worker_poll_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "migration_lease_secs and worker_poll_interval_ms must be at least 1".into(),
            ));
        }
        let managed = self.managed_keys();
        for (i, target) in self.targets.iter().enumerate() {
            if self.targets[..i].iter().any(|t| t.name == target.name) {
                return Err(ConfigError::Invalid(format!(
                    "two [[targets]] are named {:?}; target names must be unique",
                    target.name
                )));
            }
            match managed.iter().find(|k| k.name == target.key) {
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "target {:?} belongs to key {:?}, which is not a managed key",
                        target.name, target.key
                    )))
                }
                Some(k) if k.purpose() != Purpose::EncryptDecrypt => {
                    return Err(ConfigError::Invalid(format!(
                        "target {:?} belongs to signing key {:?}; only encryption keys have ciphertexts to migrate",
                        target.name, target.key
                    )))
                }
                Some(_) => {}
            }
            if target
                .batch_size
                .is_some_and(|b| b == 0 || b > MAX_BATCH_SIZE)
            {
                return Err(ConfigError::Invalid(format!(
                    "target {:?}: batch_size must be between 1 and {MAX_BATCH_SIZE}",
                    target.name
                )));
            }
        }
        self.backend()?;
        Ok(())
    }

    /// Trace export settings, when an OTLP endpoint is configured.
    pub fn trace_export(&self) -> Option<crate::telemetry::TraceExport> {
        self.otlp_endpoint
            .as_ref()
            .map(|endpoint| crate::telemetry::TraceExport {
                endpoint: endpoint.clone(),
                sample_ratio: self.trace_sample_ratio,
            })
    }

    /// The parsed scheduler cron expression.
    pub fn schedule(&self) -> Result<cron::Schedule, ConfigError> {
        self.schedule_cron.parse().map_err(|e| {
            ConfigError::Invalid(format!(
                "schedule_cron {:?} is not a cron expression (sec min hour day month weekday): {e}",
                self.schedule_cron
            ))
        })
    }

    /// The keys this server manages: the built-in five, with config entries replacing a
    /// built-in of the same name or adding new keys.
    pub fn managed_keys(&self) -> Vec<KeyConfig> {
        let mut keys = builtin_keys();
        for declared in &self.keys {
            match keys.iter_mut().find(|k| k.name == declared.name) {
                Some(existing) => *existing = declared.clone(),
                None => keys.push(declared.clone()),
            }
        }
        keys
    }

    /// The storage backend selected by `database_url`.
    pub fn backend(&self) -> Result<Backend, ConfigError> {
        let Some(url) = &self.database_url else {
            return Ok(Backend::Sqlite(self.data_dir.join("rekey.db")));
        };
        let url = url.expose_secret();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Backend::Sqlite(PathBuf::from(path)))
        } else {
            Err(ConfigError::Invalid(
                "database_url must start with postgres://, postgresql:// or sqlite://".into(),
            ))
        }
    }
}

fn parse_env<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| ConfigError::Env {
        name,
        reason: e.to_string(),
    })
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Env {
            name,
            reason: format!("expected true or false, got {value:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_runbook() {
        let config = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(
            config.backend().unwrap(),
            Backend::Sqlite("./rekey-data/rekey.db".into())
        );
        let keys = config.managed_keys();
        let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "TOKEN_ENCRYPTION",
                "DATABASE_ENCRYPTION",
                "FILE_ENCRYPTION",
                "SESSION_ENCRYPTION",
                "API_SIGNATURE"
            ]
        );
        let session = &keys[3];
        assert_eq!(session.policy().rotation_interval_secs, 30 * 86_400);
        assert_eq!(session.policy().grace_period_secs, 7 * 86_400);
        assert_eq!(keys[4].purpose(), Purpose::SignVerify);
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rekey.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:6000\"\nmin_rotation_interval_secs = 5\n\n[[keys]]\nname = \"PAYMENTS\"\nrotation_interval_days = 30\ngrace_period_days = 10\n\n[[keys]]\nname = \"TOKEN_ENCRYPTION\"\nrotation_interval_days = 60\ngrace_period_days = 15\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("REKEY_LISTEN", "0.0.0.0:7000"),
                ("KEY_ROTATION_ENABLED", "false"),
                ("TOKEN_ENCRYPTION_KEY", "0123456789abcdef0123456789abcdef"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(config.min_rotation_interval_secs, 5);
        assert!(!config.rotation_enabled);
        assert!(config.legacy_keys.0.contains_key("TOKEN_ENCRYPTION"));
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        let keys = config.managed_keys();
        assert_eq!(keys.len(), 6);
        assert_eq!(keys[0].rotation_interval_days, 60);
        assert_eq!(keys[5].name, "PAYMENTS");
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let err = Config::load(None, &env(&[("KEY_ROTATION_ENABLED", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("KEY_ROTATION_ENABLED"), "{err}");
        let err = Config::load(None, &env(&[("REKEY_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rekey.toml");
        std::fs::write(&file, "listne = \"127.0.0.1:1\"\n").unwrap();
        let err = Config::load(Some(&file), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }

    #[test]
    fn database_url_is_not_shown_by_debug() {
        let config = Config::load(
            None,
            &env(&[("REKEY_DATABASE_URL", "postgres://u:s3cret@db/x")]),
        )
        .unwrap();
        assert_eq!(config.backend().unwrap(), Backend::Postgres);
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
