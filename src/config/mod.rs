//! Server configuration: built-in defaults, then an optional TOML file, then `REKEY_*` (and the
//! runbook's legacy) environment variables, then command-line flags. Tests build a `Config`
//! value directly instead of touching the process environment.
//!
//! The file has a few top-level settings, one table per section (`[database]`, `[keystore]`,
//! `[rotation]`, `[telemetry]`, `[tls]`) and the `[[keys]]` and `[[targets]]` arrays. Each
//! section checks its own values; `Config::validate` checks what spans sections (a target's
//! key must be a managed encryption key).
//!
//! Dependencies point down: this module sits next to `server`, above the domain. It reads
//! domain value types (`BatchSize`, `TargetConfig`, `TlsConfig`, `LogFormat`, `DataPlaneAudit`,
//! `KeyPolicy`) and hands each domain module its settings in that module's own terms
//! (`RootKeySource`, the key manager's `Settings`, `EngineSettings`, `TraceExport`); no domain
//! module imports `config`.

mod database;
mod env;
mod keys;
mod moved;
mod root_key;
mod rotation;
mod telemetry;
mod transit;

use std::{collections::HashMap, fmt, net::SocketAddr, path::Path, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::keystore::store::Purpose;
use crate::rotation::targets::TargetConfig;
use crate::tls::TlsConfig;

/// The setting `data_plane_audit`, defined beside the auditor that follows it.
pub use crate::audit::DataPlaneAudit;
pub(crate) use database::Backend;
pub use database::DatabaseConfig;
pub use keys::{KeyConfig, KeystoreConfig, PurposeConfig};
pub use root_key::{Pkcs11Config, RootKeyProviderName, DEFAULT_KEY_LABEL};
pub use rotation::RotationConfig;
pub use telemetry::TelemetryConfig;
pub use transit::TransitConfig;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The parser's cause, where it is in the file, then the excerpt.
    #[error("{message}")]
    Parse { message: String },
    #[error(
        "config file {path}: `{old}` has moved into a section: set `{new}` instead (see the README's Configuration section)"
    )]
    Moved {
        path: PathBuf,
        old: &'static str,
        new: &'static str,
    },
    /// `value` is the rejected text, shortened, or `<redacted>` for a secret's variable.
    #[error("environment variable {name} is {value:?}: {reason}")]
    Env {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
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
    /// `REKEY_ADMIN_TOKEN`: an admin bearer token accepted in addition to stored tokens (at
    /// least 32 characters). When unset, the first start creates one into the data folder.
    pub admin_token: Option<SecretString>,
    /// How successful data-plane calls are audited: `off`, `counts` (per principal, key and
    /// operation, appended every key refresh interval) or `every_call`.
    pub data_plane_audit: DataPlaneAudit,
    /// `[database]`: the keystore database.
    pub database: DatabaseConfig,
    /// `[keystore]`: root key, request size limit, refresh interval.
    pub keystore: KeystoreConfig,
    /// `[[keys]]`: keys beyond (or replacing the policy of) the built-in five.
    pub keys: Vec<KeyConfig>,
    /// `[rotation]`: rotations, the scheduler and the migration worker.
    pub rotation: RotationConfig,
    /// `[[targets]]`: application tables whose ciphertexts are migrated after a rotation of
    /// their key.
    pub targets: Vec<TargetConfig>,
    /// `[telemetry]`: logs and traces.
    pub telemetry: TelemetryConfig,
    /// `[transit]`: Vault Transit's API on the HTTP port.
    pub transit: TransitConfig,
    /// `[tls]`: TLS on both ports, and mutual TLS on gRPC; None serves plaintext (keep the
    /// ports on a private network then).
    pub tls: Option<TlsConfig>,
    #[serde(skip)]
    pub legacy_keys: LegacyKeys,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: PathBuf::from("./rekey-data"),
            admin_token: None,
            data_plane_audit: DataPlaneAudit::Counts,
            database: DatabaseConfig::default(),
            keystore: KeystoreConfig::default(),
            keys: Vec::new(),
            rotation: RotationConfig::default(),
            targets: Vec::new(),
            telemetry: TelemetryConfig::default(),
            transit: TransitConfig::default(),
            tls: None,
            legacy_keys: LegacyKeys::default(),
        }
    }
}

impl Config {
    /// Reads the optional TOML file, then applies environment overrides from `env`.
    pub(crate) fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        env::apply(&mut config, env)?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        if let Some((old, new)) = moved::first_moved_key(&text) {
            return Err(ConfigError::Moved {
                path: path.to_owned(),
                old,
                new,
            });
        }
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            message: toml_error_text(path, &text, &e),
        })
    }

    /// Each section's own checks, then those that span sections.
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.keystore.validate()?;
        self.rotation.validate()?;
        self.telemetry.validate()?;
        self.transit.validate()?;
        for key in &self.keys {
            key.validate()?;
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
        self.validate_targets()
    }

    /// Target names are unique, and each target belongs to a managed encryption key.
    fn validate_targets(&self) -> Result<(), ConfigError> {
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
            if let Some(parallelism) = target.parallelism {
                rotation::check_parallelism(
                    &format!("target {:?}: parallelism", target.name),
                    parallelism,
                )?;
            }
        }
        Ok(())
    }

    /// The keys this server manages: the built-in five, with config entries replacing a
    /// built-in of the same name or adding new keys.
    pub(crate) fn managed_keys(&self) -> Vec<KeyConfig> {
        keys::managed_keys(&self.keys)
    }

    /// The managed keys as the keystore creates them at startup.
    pub(crate) fn seed_keys(&self) -> Vec<crate::keystore::store::NewKey> {
        self.managed_keys()
            .iter()
            .map(|k| crate::keystore::store::NewKey {
                name: k.name.clone(),
                purpose: k.purpose(),
                policy: k.policy(),
            })
            .collect()
    }

    /// The storage backend selected by `database.url`.
    pub(crate) fn backend(&self) -> Result<Backend, ConfigError> {
        self.database.backend(&self.data_dir)
    }

    /// The key manager's behaviour switches, from `[keystore]` and `[rotation]`.
    pub(crate) fn key_manager_settings(&self) -> crate::keystore::Settings {
        crate::keystore::Settings {
            max_plaintext_bytes: self.keystore.max_plaintext_bytes,
            min_rotation_interval_secs: self.rotation.min_interval_secs,
            rotation_enabled: self.rotation.enabled,
        }
    }
}

/// The TOML error as a person reads it: the cause and where it is on the first line
/// (`unknown field `x` in rekey.toml line 3; expected one of …`), the excerpt below. The
/// parser's own text puts the excerpt first.
fn toml_error_text(path: &Path, text: &str, err: &toml::de::Error) -> String {
    let cause = err.message().trim_end();
    let (what, hint) = match cause.split_once(", expected ") {
        Some((what, expected)) => (what, format!("; expected {expected}")),
        None => (cause, String::new()),
    };
    let Some(span) = err.span() else {
        return format!("{what} in config file {}{hint}", path.display());
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let column = text[line_start..start].chars().count();
    let width = text[start..span.end.clamp(start, text.len())]
        .lines()
        .next()
        .map_or(1, |s| s.chars().count().max(1));
    let gutter = " ".repeat(line_no.to_string().len());
    format!(
        "{what} in config file {} line {line_no}{hint}\n{gutter} |\n{line_no} | {line}\n{gutter} | {}{}",
        path.display(),
        " ".repeat(column),
        "^".repeat(width)
    )
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
            "listen = \"127.0.0.1:6000\"\n\n[rotation]\nmin_interval_secs = 5\nbatch_size = 250\n\n[[keys]]\nname = \"PAYMENTS\"\nrotation_interval_days = 30\ngrace_period_days = 10\n\n[[keys]]\nname = \"TOKEN_ENCRYPTION\"\nrotation_interval_days = 60\ngrace_period_days = 15\n",
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
        assert_eq!(config.rotation.min_interval_secs, 5);
        assert_eq!(config.rotation.batch_size.get(), 250);
        assert!(!config.rotation.enabled);
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

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let file = dir.path().join("rekey.toml");
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn every_section_is_read_from_its_table() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            r#"
data_plane_audit = "every_call"

[database]
url = "sqlite:///tmp/elsewhere.db"
max_connections = 4

[keystore]
master_key_file = "/run/secrets/root"
max_plaintext_bytes = 2048
refresh_interval_secs = 9

[rotation]
enabled = false
schedule_enabled = false
schedule_cron = "0 30 3 * * *"
lease_secs = 7
worker_poll_interval_ms = 250

[telemetry]
log_format = "json"
otlp_endpoint = "http://collector:4317"
trace_sample_ratio = 0.25
"#,
        );
        let config = Config::load(Some(&file), &HashMap::new()).unwrap();
        assert_eq!(config.data_plane_audit, DataPlaneAudit::EveryCall);
        assert_eq!(
            config.backend().unwrap(),
            Backend::Sqlite("/tmp/elsewhere.db".into())
        );
        assert_eq!(config.database.max_connections, 4);
        assert_eq!(
            config.keystore.master_key_file,
            Some(PathBuf::from("/run/secrets/root"))
        );
        let settings = config.key_manager_settings();
        assert_eq!(settings.max_plaintext_bytes, 2048);
        assert!(!settings.rotation_enabled);
        assert_eq!(config.keystore.refresh_interval_secs, 9);
        let engine = config.rotation.engine_settings(3).unwrap();
        assert_eq!(engine.lease_ms, 7_000);
        assert_eq!(engine.default_batch_size.get(), 1000);
        assert!(!engine.schedule_enabled);
        assert_eq!(config.rotation.worker_poll_interval_ms, 250);
        assert_eq!(
            config.telemetry.log_format,
            crate::telemetry::LogFormat::Json
        );
        let traces = config.telemetry.trace_export().unwrap();
        assert_eq!(traces.endpoint, "http://collector:4317");
        assert_eq!(traces.sample_ratio, 0.25);
    }

    #[test]
    fn an_old_flat_key_is_refused_with_its_new_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "migration_batch_size = 500
",
        );
        let err = Config::load(Some(&file), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("`rotation.batch_size`"), "{err}");
        let file = write(
            &dir,
            "[rotation]
migration_batch_size = 500
",
        );
        let err = Config::load(Some(&file), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("migration_batch_size"), "{err}");
    }

    #[test]
    fn batch_sizes_out_of_bounds_are_refused_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "[rotation]\nbatch_size = 0\n",
            "[rotation]\nbatch_size = 100001\n",
            "[[targets]]\nname = \"t\"\ndatabase_url = \"sqlite://x\"\ntable = \"t\"\nprimary_key = \"id\"\ncolumn = \"c\"\nkey = \"TOKEN_ENCRYPTION\"\nbatch_size = 0\n",
        ] {
            let file = write(&dir, text);
            let err = Config::load(Some(&file), &HashMap::new()).unwrap_err();
            assert!(err.to_string().contains("between 1 and 100000"), "{text}: {err}");
        }
    }

    #[test]
    fn rekey_otlp_endpoint_wins_over_the_standard_variables() {
        let both = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ]);
        let config = Config::load(None, &both).unwrap();
        assert_eq!(
            config.telemetry.otlp_endpoint.as_deref(),
            Some("http://traces:4317")
        );
        let mut all = both.clone();
        all.insert("REKEY_OTLP_ENDPOINT".into(), "http://rekey:4317".into());
        let config = Config::load(None, &all).unwrap();
        assert_eq!(
            config.telemetry.otlp_endpoint.as_deref(),
            Some("http://rekey:4317")
        );
    }

    #[test]
    fn environment_variables_reach_their_sections() {
        let config = Config::load(
            None,
            &env(&[
                ("REKEY_HTTP_LISTEN", "off"),
                ("REKEY_DATABASE_MAX_CONNECTIONS", "3"),
                ("REKEY_MASTER_KEY_FILE", "/k"),
                ("REKEY_MAX_PLAINTEXT_BYTES", "10"),
                ("REKEY_KEY_REFRESH_INTERVAL_SECS", "2"),
                ("REKEY_MIN_ROTATION_INTERVAL_SECS", "0"),
                ("KEY_ROTATION_SCHEDULE_ENABLED", "no"),
                ("REKEY_SCHEDULE_CRON", "0 0 4 * * *"),
                ("REKEY_LOG_FORMAT", "json"),
                ("REKEY_TRACE_SAMPLE_RATIO", "0.5"),
                ("REKEY_DATA_PLANE_AUDIT", "off"),
            ]),
        )
        .unwrap();
        assert_eq!(config.http_listen, None);
        assert_eq!(config.database.max_connections, 3);
        assert_eq!(config.keystore.master_key_file, Some(PathBuf::from("/k")));
        assert_eq!(config.keystore.max_plaintext_bytes, 10);
        assert_eq!(config.keystore.refresh_interval_secs, 2);
        assert_eq!(config.rotation.min_interval_secs, 0);
        assert!(!config.rotation.schedule_enabled);
        assert_eq!(config.rotation.schedule_cron, "0 0 4 * * *");
        assert_eq!(
            config.telemetry.log_format,
            crate::telemetry::LogFormat::Json
        );
        assert_eq!(config.telemetry.trace_sample_ratio, 0.5);
        assert_eq!(config.data_plane_audit, DataPlaneAudit::Off);
        let err = Config::load(None, &env(&[("REKEY_LOG_FORMAT", "xml")])).unwrap_err();
        assert!(err.to_string().contains("REKEY_LOG_FORMAT"), "{err}");
        // The variable, its value and the rule, each once.
        let err = Config::load(None, &env(&[("KEY_ROTATION_ENABLED", "maybe")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable KEY_ROTATION_ENABLED is \"maybe\": expected true or false"
        );
        let long = "9".repeat(500);
        let err = Config::load(None, &env(&[("REKEY_LISTEN", &long)])).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    /// The README's configuration table names every variable the server reads.
    #[test]
    fn every_environment_variable_is_documented() {
        let readme = include_str!("../../README.md");
        for (name, _) in env::VARIABLES {
            assert!(readme.contains(name), "README.md does not mention {name}");
        }
    }

    /// The README's configuration table has a row for every setting the file takes, top-level
    /// and per section (the names come from the parser's own list of expected fields).
    #[test]
    fn every_setting_is_in_the_readme_table() {
        let readme = include_str!("../../README.md");
        let dir = tempfile::tempdir().unwrap();
        let sections = [
            "",
            "database",
            "keystore",
            "keystore.pkcs11",
            "rotation",
            "telemetry",
            "transit",
        ];
        for section in sections {
            let header = if section.is_empty() {
                String::new()
            } else {
                format!("[{section}]\n")
            };
            let file = write(&dir, &format!("{header}no_such_setting = 1\n"));
            let err = Config::load(Some(&file), &HashMap::new())
                .unwrap_err()
                .to_string();
            let (_, expected) = err.split_once("expected ").expect("a list of fields");
            let expected = expected.lines().next().unwrap();
            let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            assert!(names.len() > 1, "{err}");
            for name in names {
                let rows = if sections.contains(&name) {
                    continue; // a section: its settings are checked on their own
                } else if ["keys", "targets"].contains(&name) {
                    vec![format!("| `[[{name}]]` |")]
                } else if section.is_empty() {
                    vec![format!("| `{name}` |"), format!("| `[{name}]` |")]
                } else {
                    vec![format!("| `{section}.{name}` |")]
                };
                assert!(
                    rows.iter().any(|row| readme.contains(row.as_str())),
                    "README.md's configuration table has no row {}",
                    rows[0]
                );
            }
        }
    }

    /// The config file shipped in the Kubernetes ConfigMap parses and validates (its
    /// commented-out examples too, uncommented).
    #[test]
    fn the_deployed_config_file_is_valid() {
        let manifest = include_str!("../../deploy/kubernetes/configmap.yaml");
        let start = manifest
            .find("rekey.toml: |")
            .expect("rekey.toml in the ConfigMap");
        let block: Vec<&str> = manifest[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, &block.join("\n"));
        Config::load(Some(&file), &HashMap::new()).unwrap();
        let uncommented: Vec<&str> = block
            .iter()
            .map(|l| {
                let example = l.strip_prefix("# ").unwrap_or(l);
                let is_setting = example.starts_with('[')
                    || example
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' '));
                if is_setting {
                    example
                } else {
                    l
                }
            })
            .collect();
        let file = write(&dir, &uncommented.join("\n"));
        let config = Config::load(Some(&file), &HashMap::new()).unwrap();
        assert!(!config.targets.is_empty() && !config.keys.is_empty());
    }

    /// Every TOML example in the README and the docs is a valid config file on its own.
    #[test]
    fn the_documented_examples_are_valid() {
        let docs = [
            ("README.md", include_str!("../../README.md")),
            ("docs/rotation.md", include_str!("../../docs/rotation.md")),
            (
                "docs/operations.md",
                include_str!("../../docs/operations.md"),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut examples = 0;
        for (name, text) in docs {
            for block in text.split("```toml\n").skip(1) {
                let example = block.split("```").next().unwrap();
                let file = write(&dir, example);
                if let Err(e) = Config::load(Some(&file), &HashMap::new()) {
                    panic!("{name}: {e}\n{example}");
                }
                examples += 1;
            }
        }
        assert!(examples >= 5, "only {examples} examples found");
    }
}
