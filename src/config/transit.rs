//! `[transit]`: Vault Transit's API on the HTTP port (docs/transit.md).

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransitConfig {
    /// Serve the Transit API at all (on the HTTP port, when that is on).
    pub enabled: bool,
    /// The mount: the routes are under `/v1/<mount>/`, `transit` as in Vault.
    pub mount: String,
}

impl Default for TransitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mount: "transit".to_owned(),
        }
    }
}

impl TransitConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        if !self.mount.split('/').all(segment_ok) {
            return Err(ConfigError::Invalid(format!(
                "transit.mount {:?} must be a path such as \"transit\" or \"kms/transit\": \
                 segments of A-Z, a-z, 0-9, '-', '_' or '.', without a leading or trailing '/'",
                crate::excerpt::excerpt(&self.mount, 80)
            )));
        }
        if self.mount == "api" || self.mount.starts_with("api/") {
            return Err(ConfigError::Invalid(
                "transit.mount cannot start with \"api\": Rekey's own HTTP API is there".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_checked() {
        for good in ["transit", "kms/transit", "t-1_a.b"] {
            let config = TransitConfig {
                mount: good.into(),
                ..TransitConfig::default()
            };
            assert!(config.validate().is_ok(), "{good}");
        }
        for bad in [
            "", "/transit", "transit/", "a//b", "tran sit", "api", "api/x", "é",
        ] {
            let config = TransitConfig {
                mount: bad.into(),
                ..TransitConfig::default()
            };
            assert!(config.validate().is_err(), "{bad:?}");
        }
    }
}
