//! Where the root key is: `keystore.root_key_provider` (`local` or `pkcs11`) and
//! `[keystore.pkcs11]`, resolved into the keystore's `RootKeySettings`.

use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;
use serde::Deserialize;

use super::keys::KeystoreConfig;
use super::ConfigError;
use crate::keystore::root::pkcs11::{PinSource, TokenSelector};
use crate::keystore::root::{Pkcs11Settings, RootKeySettings};

/// The label `rekey hsm init-key` gives the root key unless told otherwise.
pub const DEFAULT_KEY_LABEL: &str = "rekey-root";

/// `keystore.root_key_provider`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKeyProviderName {
    /// A 32-byte key in memory (`master_key`, `master_key_file`, or the development key).
    #[default]
    Local,
    /// An AES-256 key inside a PKCS#11 token (`[keystore.pkcs11]`).
    Pkcs11,
}

impl FromStr for RootKeyProviderName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Self::Local),
            "pkcs11" => Ok(Self::Pkcs11),
            other => Err(format!(
                "unknown provider {other:?}: expected local or pkcs11"
            )),
        }
    }
}

/// `[keystore.pkcs11]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The token vendor's PKCS#11 library (`/usr/lib/softhsm/libsofthsm2.so` for SoftHSM2).
    pub module: Option<PathBuf>,
    /// The token's label; or `slot`.
    pub token_label: Option<String>,
    /// The slot id holding the token, when it has no unique label.
    pub slot: Option<u64>,
    /// The root key's label (`CKA_LABEL`).
    #[serde(default = "default_key_label")]
    pub key_label: String,
    /// A file holding the user PIN (`REKEY_PKCS11_PIN` wins over it).
    pub pin_file: Option<PathBuf>,
    /// Refused: a PIN never sits in the config file in clear. Read (and never kept) only to
    /// say so.
    #[serde(default)]
    pin: Option<serde::de::IgnoredAny>,
    /// `REKEY_PKCS11_PIN`.
    #[serde(skip)]
    pub pin_env: Option<SecretString>,
}

fn default_key_label() -> String {
    DEFAULT_KEY_LABEL.to_owned()
}

impl Default for Pkcs11Config {
    fn default() -> Self {
        Self {
            module: None,
            token_label: None,
            slot: None,
            key_label: default_key_label(),
            pin_file: None,
            pin: None,
            pin_env: None,
        }
    }
}

impl Pkcs11Config {
    /// The token, key and PIN to use, or what is missing.
    pub(crate) fn settings(&self) -> Result<Pkcs11Settings, ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("keystore.pkcs11: {m}")));
        if self.pin.is_some() {
            return invalid(
                "pin is refused: a PIN never sits in the config file in clear; set \
                 REKEY_PKCS11_PIN or keystore.pkcs11.pin_file",
            );
        }
        let Some(module) = self.module.clone() else {
            return invalid(
                "module is required: the path of the token's PKCS#11 library (e.g. \
                 /usr/lib/softhsm/libsofthsm2.so), or REKEY_PKCS11_MODULE",
            );
        };
        let token = match (&self.token_label, self.slot) {
            (Some(label), None) => TokenSelector::Label(label.clone()),
            (None, Some(slot)) => TokenSelector::Slot(slot),
            (Some(_), Some(_)) => return invalid("set token_label or slot, not both"),
            (None, None) => {
                return invalid(
                    "token_label (or slot) is required: which token holds the root key \
                     (REKEY_PKCS11_TOKEN_LABEL)",
                )
            }
        };
        if self.key_label.is_empty() {
            return invalid("key_label must not be empty");
        }
        let pin = match (&self.pin_env, &self.pin_file) {
            (Some(pin), _) => PinSource::Env(pin.clone()),
            (None, Some(path)) => PinSource::File(path.clone()),
            (None, None) => PinSource::Missing,
        };
        Ok(Pkcs11Settings {
            module,
            token,
            key_label: self.key_label.clone(),
            pin,
        })
    }
}

impl KeystoreConfig {
    /// Checks that the chosen provider has what it needs, and nothing of the other's.
    pub(super) fn validate_root_key(&self) -> Result<(), ConfigError> {
        match self.root_key_provider {
            RootKeyProviderName::Local => {
                if self.pkcs11.pin.is_some() {
                    self.pkcs11.settings()?;
                }
                Ok(())
            }
            RootKeyProviderName::Pkcs11 => {
                if self.master_key.is_some() || self.master_key_file.is_some() {
                    return Err(ConfigError::Invalid(
                        "keystore.root_key_provider is pkcs11, yet a local root key is set \
                         (REKEY_MASTER_KEY or master_key_file): the root key is in the token; \
                         remove the local one (`rekey rotate-root-key` moves a keystore \
                         between providers)"
                            .into(),
                    ));
                }
                self.pkcs11.settings().map(|_| ())
            }
        }
    }

    /// The provider the keystore is opened with.
    pub(crate) fn root_key_settings(&self) -> Result<RootKeySettings, ConfigError> {
        Ok(match self.root_key_provider {
            RootKeyProviderName::Local => RootKeySettings::Local(self.root_key_source()),
            RootKeyProviderName::Pkcs11 => RootKeySettings::Pkcs11(self.pkcs11.settings()?),
        })
    }
}
