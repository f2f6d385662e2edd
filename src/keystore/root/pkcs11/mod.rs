//! The `pkcs11` provider: the root key is an AES-256 key inside a PKCS#11 token (an HSM, or
//! SoftHSM2 for tests) that never leaves it. Each key version's material is wrapped and
//! unwrapped by the token with `CKM_AES_GCM`: a random 96-bit IV, the key name and version as
//! associated data (as the `local` provider binds them), stored as `IV || ciphertext || tag`,
//! 60 bytes. docs/operations.md argues this choice over the token's key-wrap mechanisms.
//!
//! The check value is the token's AES-GCM tag over a fixed associated data with the all-zero
//! IV and no plaintext (a GMAC of a constant), shown as `pkcs11:` and 32 hex digits. Wrapping
//! never uses the all-zero IV, so that IV serves the check value alone.
//!
//! One logged-in session serves the provider's calls, one at a time. A call that fails on a
//! lost session or token drops the connection and tries once more on a fresh one (after
//! re-initializing the module when the token itself went away), so the provider recovers
//! when the token is back; meanwhile calls fail with `Unavailable`.

mod module;
mod token;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::{RootKeyError, RootKeyProvider, WrappedVersion};
use crate::crypto::{rng, root_wrap_aad, KeyMaterial, NONCE_LEN, ROOT_WRAPPED_LEN, TAG_LEN};
use module::Module;
pub(crate) use token::InitKey;
use token::{is_lost, token_name, ConnectError};

/// Associated data of the check value's GMAC.
const CHECK_VALUE_AAD: &[u8] = b"rekey.v1.root-check-value";
/// The check value's IV; wraps never use it.
const CHECK_VALUE_IV: [u8; NONCE_LEN] = [0; NONCE_LEN];
/// Prefix of a PKCS#11 root key's check value (a local one is bare hex).
const CHECK_VALUE_PREFIX: &str = "pkcs11:";
/// GCM tag length in bits, as PKCS#11 takes it.
const TAG_BITS: u64 = (TAG_LEN * 8) as u64;

/// Which token holds the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenSelector {
    Label(String),
    Slot(u64),
}

/// Where the user PIN comes from: never the config file in clear.
#[derive(Debug, Clone)]
pub(crate) enum PinSource {
    /// `REKEY_PKCS11_PIN`.
    Env(SecretString),
    /// `keystore.pkcs11.pin_file`: the PIN, a trailing newline ignored.
    File(PathBuf),
    Missing,
}

impl PinSource {
    fn read(&self) -> Result<SecretString, String> {
        match self {
            PinSource::Env(pin) => Ok(pin.clone()),
            PinSource::File(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    format!("cannot read the PKCS#11 PIN file {}: {e}", path.display())
                })?);
                Ok(SecretString::from(text.trim_end_matches(['\r', '\n'])))
            }
            PinSource::Missing => {
                Err("no PKCS#11 user PIN: set REKEY_PKCS11_PIN or keystore.pkcs11.pin_file".into())
            }
        }
    }

    /// Where the PIN was read from, for messages.
    fn origin(&self) -> String {
        match self {
            PinSource::Env(_) => "REKEY_PKCS11_PIN".into(),
            PinSource::File(path) => path.display().to_string(),
            PinSource::Missing => "nowhere".into(),
        }
    }
}

/// `[keystore.pkcs11]`, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Pkcs11Settings {
    /// The token vendor's PKCS#11 library.
    pub(crate) module: PathBuf,
    pub(crate) token: TokenSelector,
    pub(crate) key_label: String,
    pub(crate) pin: PinSource,
}

/// A logged-in session and the root key's handle in it.
struct Connection {
    module: Arc<Module>,
    generation: u64,
    /// Always `Some` until dropped.
    session: Option<Session>,
    key: ObjectHandle,
}

impl Connection {
    fn session(&self) -> cryptoki::error::Result<&Session> {
        self.session.as_ref().ok_or(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::SessionClosed,
            cryptoki::context::Function::CloseSession,
        ))
    }
}

impl Drop for Connection {
    /// Closes the session if it belongs to the current context. One of an earlier context
    /// died with it, and its handle number may now be another session's.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            if self.module.context().generation == self.generation {
                let _ = session.close();
            }
        }
    }
}

struct Inner {
    settings: Pkcs11Settings,
    module: Arc<Module>,
    connection: Mutex<Option<Connection>>,
    /// Set when the token refused the PIN: this process does not log in with it again (each
    /// try spends one of the token's wrong-PIN tries, shared by every replica).
    pin_refused: Mutex<Option<String>>,
    describe: String,
}

/// The root key in a PKCS#11 token.
pub(crate) struct Pkcs11Root {
    inner: Arc<Inner>,
    check_value: String,
}

impl std::fmt::Debug for Pkcs11Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Root")
            .field("describe", &self.inner.describe)
            .field("check_value", &self.check_value)
            .finish_non_exhaustive()
    }
}

/// Creates the root key in the configured token unless a fit one is there (`rekey hsm
/// init-key`); returns what it did and the key's check value.
pub(crate) fn init_key(settings: &Pkcs11Settings) -> anyhow::Result<(InitKey, String)> {
    let module = module::module(&settings.module).map_err(anyhow::Error::msg)?;
    let outcome = {
        let context = module.context();
        token::create_root_key(&context.pkcs11, settings)
            .map_err(|e| anyhow::Error::msg(e.message))?
    };
    let root = Pkcs11Root::open(settings)?;
    Ok((outcome, root.check_value))
}

impl Pkcs11Root {
    /// Loads the module, finds the token, logs in, finds and checks the key, and computes the
    /// check value. Blocking.
    pub(crate) fn open(settings: &Pkcs11Settings) -> anyhow::Result<Self> {
        let module = module::module(&settings.module).map_err(anyhow::Error::msg)?;
        let describe = format!(
            "pkcs11 ({}, key {:?})",
            token_name(&settings.token),
            settings.key_label
        );
        let inner = Arc::new(Inner {
            settings: settings.clone(),
            module,
            connection: Mutex::new(None),
            pin_refused: Mutex::new(None),
            describe,
        });
        let check_value = {
            let mut connection = inner.lock();
            inner
                .connect(&mut connection)
                .map_err(|e| anyhow::Error::msg(e.message))?;
            let conn = connection
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("no session"))?;
            let token = token_name(&settings.token);
            let gcm_refused = |e: cryptoki::error::Error| {
                anyhow::anyhow!("PKCS#11 {token}: the key cannot encrypt with CKM_AES_GCM: {e}")
            };
            let first = check_value(conn).map_err(gcm_refused)?;
            // A token that picks its own GCM IV gives another value each time: it would also
            // write wrapped keys whose IV Rekey does not know.
            if check_value(conn).map_err(gcm_refused)? != first {
                anyhow::bail!(
                    "PKCS#11 {token} does not use the GCM IV it is given (it generates its \
                     own, as some FIPS-mode HSMs do); Rekey supplies the IV and cannot use \
                     such a token yet"
                );
            }
            first
        };
        Ok(Self { inner, check_value })
    }

    /// Runs `op` on the token off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Inner, &str) -> T + Send + 'static,
    ) -> Result<T, RootKeyError> {
        let inner = Arc::clone(&self.inner);
        let check = self.check_value.clone();
        tokio::task::spawn_blocking(move || op(&inner, &check))
            .await
            .map_err(|e| RootKeyError::Unavailable {
                provider: self.inner.describe.clone(),
                detail: format!("the token call did not finish: {e}"),
            })
    }
}

/// The check value of the connection's key.
fn check_value(conn: &Connection) -> cryptoki::error::Result<String> {
    let mut iv = CHECK_VALUE_IV;
    let params = GcmParams::new(&mut iv, CHECK_VALUE_AAD, TAG_BITS.into())?;
    let tag = conn
        .session()?
        .encrypt(&Mechanism::AesGcm(params), conn.key, &[])?;
    Ok(format!("{CHECK_VALUE_PREFIX}{}", hex::encode(tag)))
}

/// A call the token refused while it still answered the check value right after: the input
/// was bad (for an unwrap, a value that does not authenticate).
struct Refused;

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn unavailable(&self, detail: String) -> RootKeyError {
        RootKeyError::Unavailable {
            provider: self.describe.clone(),
            detail,
        }
    }

    /// Opens a session, logs in and finds the key, replacing any earlier connection.
    fn connect(&self, slot: &mut Option<Connection>) -> Result<(), ConnectError> {
        *slot = None;
        let mut pin_refused = self
            .pin_refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(message) = pin_refused.as_ref() {
            return Err(ConnectError {
                lost: false,
                pin_refused: true,
                message: format!("{message} (not retried until the server restarts)"),
            });
        }
        let context = self.module.context();
        let session = token::open_session(&context.pkcs11, &self.settings, token::Purpose::Serve)
            .inspect_err(|e| {
            if e.pin_refused {
                *pin_refused = Some(e.message.clone());
            }
        })?;
        let key = match token::find_root_key(&session, &self.settings) {
            Ok(key) => key,
            Err(e) => {
                let _ = session.close();
                return Err(e);
            }
        };
        let generation = context.generation;
        drop(context);
        *slot = Some(Connection {
            module: Arc::clone(&self.module),
            generation,
            session: Some(session),
            key,
        });
        Ok(())
    }

    /// Runs `op` on a live connection, reconnecting once (re-initializing the module first
    /// when the token went away) if the connection is missing or fails.
    fn run<T>(
        &self,
        expected_check: &str,
        op: impl Fn(&Connection) -> cryptoki::error::Result<T>,
    ) -> Result<Result<T, Refused>, RootKeyError> {
        let mut slot = self.lock();
        let mut last = String::new();
        for attempt in 0..2 {
            let current = self.module.context().generation;
            let stale = slot.as_ref().is_none_or(|c| c.generation != current);
            if stale {
                if let Err(e) = self.connect(&mut slot) {
                    if e.lost && attempt == 0 {
                        self.module.reinitialize(current);
                        last = e.message;
                        continue;
                    }
                    return Err(self.unavailable(e.message));
                }
            }
            let Some(conn) = slot.as_ref() else {
                continue;
            };
            let context_guard = self.module.context();
            match op(conn) {
                Ok(value) => return Ok(Ok(value)),
                Err(e) => {
                    // Is the token still there and the key the same? Then the input was bad.
                    match check_value(conn) {
                        Ok(check) if check == expected_check => {
                            return Ok(Err(Refused));
                        }
                        Ok(_) => {
                            return Err(self.unavailable(format!(
                                "the key labelled {:?} is no longer the root key this server \
                                 started with (its check value changed)",
                                self.settings.key_label
                            )))
                        }
                        Err(probe) => {
                            last = format!("{e}; then {probe}");
                            let lost = is_lost(&e) || is_lost(&probe);
                            // Closing the session takes the context lock again: release it.
                            drop(context_guard);
                            *slot = None;
                            if lost && attempt == 0 {
                                self.module.reinitialize(current);
                            }
                        }
                    }
                }
            }
        }
        Err(self.unavailable(format!("the token does not answer: {last}")))
    }

    fn wrap(
        &self,
        check: &str,
        aad: &[u8],
        material: &KeyMaterial,
    ) -> Result<Vec<u8>, RootKeyError> {
        let mut iv = [0u8; NONCE_LEN];
        while iv == CHECK_VALUE_IV {
            rng::fill(&mut iv);
        }
        let sealed = self.run(check, |conn| {
            let mut used_iv = iv;
            let params = GcmParams::new(&mut used_iv, aad, TAG_BITS.into())?;
            let sealed =
                conn.session()?
                    .encrypt(&Mechanism::AesGcm(params), conn.key, material.expose())?;
            Ok((sealed, used_iv))
        })?;
        let (sealed, used_iv) = sealed.map_err(|Refused| {
            self.unavailable("the token refused to encrypt a key version".to_owned())
        })?;
        // A token that replaced the IV wrote a value that the IV kept here would not open.
        if used_iv != iv {
            return Err(self.unavailable(
                "the token replaced the GCM IV it was given; nothing was written".to_owned(),
            ));
        }
        if sealed.len() != ROOT_WRAPPED_LEN - NONCE_LEN {
            return Err(self.unavailable(format!(
                "the token's AES-GCM returned {} bytes, expected {}",
                sealed.len(),
                ROOT_WRAPPED_LEN - NONCE_LEN
            )));
        }
        let mut out = Vec::with_capacity(ROOT_WRAPPED_LEN);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn unwrap(&self, check: &str, item: &WrappedVersion) -> Result<KeyMaterial, RootKeyError> {
        if item.wrapped.len() != ROOT_WRAPPED_LEN {
            return Err(RootKeyError::WrappedKeyInvalid);
        }
        let (iv, sealed) = item.wrapped.split_at(NONCE_LEN);
        // The all-zero IV belongs to the check value; no wrap uses it.
        if iv == CHECK_VALUE_IV {
            return Err(RootKeyError::WrappedKeyInvalid);
        }
        let aad = root_wrap_aad(&item.key_name, item.version);
        let opened = self.run(check, |conn| {
            let mut iv = <[u8; NONCE_LEN]>::try_from(iv).unwrap_or(CHECK_VALUE_IV);
            let params = GcmParams::new(&mut iv, &aad, TAG_BITS.into())?;
            conn.session()?
                .decrypt(&Mechanism::AesGcm(params), conn.key, sealed)
                .map(Zeroizing::new)
        })?;
        match opened {
            Ok(material) => {
                KeyMaterial::from_slice(&material).map_err(|_| RootKeyError::WrappedKeyInvalid)
            }
            Err(Refused) => Err(RootKeyError::WrappedKeyInvalid),
        }
    }
}

#[async_trait]
impl RootKeyProvider for Pkcs11Root {
    fn describe(&self) -> &str {
        &self.inner.describe
    }

    fn check_value(&self) -> &str {
        &self.check_value
    }

    async fn wrap(
        &self,
        key_name: &str,
        version: u32,
        material: &KeyMaterial,
    ) -> Result<Vec<u8>, RootKeyError> {
        let aad = root_wrap_aad(key_name, version);
        let material = KeyMaterial::from_bytes(*material.expose());
        self.blocking(move |inner, check| inner.wrap(check, &aad, &material))
            .await?
    }

    async fn unwrap_many(
        &self,
        items: Vec<WrappedVersion>,
    ) -> Vec<Result<KeyMaterial, RootKeyError>> {
        let count = items.len();
        match self
            .blocking(move |inner, check| {
                items
                    .iter()
                    .map(|item| inner.unwrap(check, item))
                    .collect::<Vec<_>>()
            })
            .await
        {
            Ok(results) => results,
            Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
        }
    }

    async fn check(&self) -> Result<(), RootKeyError> {
        self.blocking(|inner, check| match inner.run(check, check_value)? {
            Ok(seen) if seen == check => Ok(()),
            Ok(_) | Err(Refused) => Err(inner.unavailable(format!(
                "the key labelled {:?} no longer gives the check value this server started with",
                inner.settings.key_label
            ))),
        })
        .await?
    }
}
