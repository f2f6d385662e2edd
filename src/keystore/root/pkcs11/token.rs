//! The token side of the `pkcs11` provider: find the token, open a session, log in, find the
//! root key and check that it is fit to be one (AES-256, sensitive, never extractable); and
//! create such a key (`rekey hsm init-key`). Every failure says what to do about it.

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use secrecy::ExposeSecret;

use super::{Pkcs11Settings, TokenSelector};

/// Why a connection to the token failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConnectError {
    /// The token or device went away (absent, removed, module state lost): it may come back,
    /// and the module may need re-initializing to see it. Otherwise the setup is wrong (PIN,
    /// key label) and retrying changes nothing.
    pub(super) lost: bool,
    /// The token refused the PIN (wrong, locked, expired): logging in again with it would
    /// spend another of the token's tries, so a running provider stops trying.
    pub(super) pin_refused: bool,
    pub(super) message: String,
}

impl ConnectError {
    fn setup(message: String) -> Self {
        Self {
            lost: false,
            pin_refused: false,
            message,
        }
    }

    fn lost(message: String) -> Self {
        Self {
            lost: true,
            pin_refused: false,
            message,
        }
    }

    fn pin(message: String) -> Self {
        Self {
            lost: false,
            pin_refused: true,
            message,
        }
    }
}

/// Whether a PKCS#11 error means the token, the session or the module state is gone (rather
/// than a bad input or a wrong setting).
pub(super) fn is_lost(err: &Error) -> bool {
    matches!(
        err,
        Error::Pkcs11(
            RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::DeviceMemory
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
                | RvError::SlotIdInvalid,
            _
        )
    )
}

/// The token's name in messages: `token "label"` or `slot 3`.
pub(super) fn token_name(selector: &TokenSelector) -> String {
    match selector {
        TokenSelector::Label(label) => format!("token {label:?}"),
        TokenSelector::Slot(slot) => format!("slot {slot}"),
    }
}

/// The slot holding the configured token.
fn find_slot(pkcs11: &Pkcs11, settings: &Pkcs11Settings) -> Result<Slot, ConnectError> {
    let slots = pkcs11.get_slots_with_token().map_err(|e| {
        ConnectError::lost(format!(
            "the PKCS#11 module {} cannot list its slots: {e}",
            settings.module.display()
        ))
    })?;
    match &settings.token {
        TokenSelector::Slot(id) => {
            slots
                .into_iter()
                .find(|slot| slot.id() == *id)
                .ok_or_else(|| {
                    ConnectError::lost(format!(
                        "slot {id} of the PKCS#11 module {} holds no token (is the token present?)",
                        settings.module.display()
                    ))
                })
        }
        TokenSelector::Label(label) => {
            let mut present = Vec::new();
            for slot in slots {
                let Ok(info) = pkcs11.get_token_info(slot) else {
                    continue;
                };
                if info.label().trim_end() == label {
                    return Ok(slot);
                }
                present.push(format!("{:?}", info.label().trim_end()));
            }
            let present = if present.is_empty() {
                "none".to_owned()
            } else {
                present.join(", ")
            };
            Err(ConnectError::lost(format!(
                "no PKCS#11 token labelled {label:?} in {} (tokens present: {present}); is the \
                 token plugged in, and keystore.pkcs11.token_label right?",
                settings.module.display()
            )))
        }
    }
}

/// What a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Creating the key: read-write, closed when dropped.
    CreateKey,
    /// The provider's long-lived connection: read-only, closed only by its owner (a session
    /// of a context since re-initialized must not be closed: its handle may now be another's).
    Serve,
}

/// Opens a session on the configured token and logs the user in.
pub(super) fn open_session(
    pkcs11: &Pkcs11,
    settings: &Pkcs11Settings,
    purpose: Purpose,
) -> Result<Session, ConnectError> {
    let slot = find_slot(pkcs11, settings)?;
    let token = token_name(&settings.token);
    let opened = match purpose {
        Purpose::CreateKey => pkcs11.open_rw_session(slot),
        Purpose::Serve => pkcs11.open_ro_session_no_drop(slot),
    };
    let session = opened.map_err(|e| {
        let message = format!("cannot open a session on PKCS#11 {token}: {e}");
        if is_lost(&e) {
            ConnectError::lost(message)
        } else {
            ConnectError::setup(message)
        }
    })?;
    match login(&session, settings, &token) {
        Ok(()) => Ok(session),
        Err(e) => {
            if purpose == Purpose::Serve {
                // A session that does not close itself: close it here, or it leaks.
                let _ = session.close();
            }
            Err(e)
        }
    }
}

fn login(session: &Session, settings: &Pkcs11Settings, token: &str) -> Result<(), ConnectError> {
    let pin = settings.pin.read().map_err(ConnectError::setup)?;
    let pin = AuthPin::new(pin.expose_secret().into());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(Error::Pkcs11(RvError::PinIncorrect, _)) => Err(ConnectError::pin(format!(
            "the PIN of PKCS#11 {token} is incorrect (from {}); a token locks its PIN after \
             a few wrong attempts",
            settings.pin.origin()
        ))),
        Err(Error::Pkcs11(RvError::PinLocked, _)) => Err(ConnectError::pin(format!(
            "the user PIN of PKCS#11 {token} is locked after too many wrong attempts; the \
             token's security officer must unlock it (e.g. `softhsm2-util` or the vendor's tool)"
        ))),
        Err(Error::Pkcs11(RvError::PinExpired, _)) => Err(ConnectError::pin(format!(
            "the user PIN of PKCS#11 {token} has expired; set a new one with the token's tools"
        ))),
        Err(e) => {
            let message = format!("cannot log in to PKCS#11 {token}: {e}");
            Err(if is_lost(&e) {
                ConnectError::lost(message)
            } else {
                ConnectError::setup(message)
            })
        }
    }
}

/// The template that finds the root key by its label.
fn key_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// The root key on `session`, checked to be an AES-256 key that never leaves the token.
pub(super) fn find_root_key(
    session: &Session,
    settings: &Pkcs11Settings,
) -> Result<ObjectHandle, ConnectError> {
    let token = token_name(&settings.token);
    let label = &settings.key_label;
    let found = session
        .find_objects(&key_template(label))
        .map_err(|e| ConnectError::lost(format!("cannot search PKCS#11 {token}: {e}")))?;
    let key = match found.as_slice() {
        [key] => *key,
        [] => {
            return Err(ConnectError::setup(format!(
                "PKCS#11 {token} has no secret key labelled {label:?}: create it with `rekey \
                 hsm init-key` or the token's own tools, or fix keystore.pkcs11.key_label"
            )))
        }
        many => {
            return Err(ConnectError::setup(format!(
                "PKCS#11 {token} has {} secret keys labelled {label:?}; the root key's label \
                 must be unique",
                many.len()
            )))
        }
    };
    check_key(session, key, &token, label)?;
    Ok(key)
}

/// Refuses a key that is not AES-256 or that could leave the token.
fn check_key(
    session: &Session,
    key: ObjectHandle,
    token: &str,
    label: &str,
) -> Result<(), ConnectError> {
    let wanted = [
        AttributeType::KeyType,
        AttributeType::ValueLen,
        AttributeType::Extractable,
        AttributeType::Sensitive,
        AttributeType::Encrypt,
        AttributeType::Decrypt,
    ];
    let attributes = session
        .get_attributes(key, &wanted)
        .map_err(|e| ConnectError::lost(format!("cannot read the key's attributes: {e}")))?;
    let mut problems = Vec::new();
    let mut seen_type = false;
    for attribute in &attributes {
        match attribute {
            Attribute::KeyType(kind) => {
                seen_type = true;
                if *kind != KeyType::AES {
                    problems.push(format!("it is a {kind} key, not AES"));
                }
            }
            Attribute::ValueLen(len) if u64::from(*len) != 32 => {
                problems.push(format!("it is {} bytes long, not 32", u64::from(*len)));
            }
            Attribute::Extractable(true) => problems.push(
                "it is extractable (CKA_EXTRACTABLE): a root key must never leave the token"
                    .to_owned(),
            ),
            Attribute::Sensitive(false) => {
                problems.push("it is not sensitive (CKA_SENSITIVE is false)".to_owned());
            }
            Attribute::Encrypt(false) | Attribute::Decrypt(false) => {
                problems.push("it may not encrypt and decrypt (CKA_ENCRYPT, CKA_DECRYPT)".into());
            }
            _ => {}
        }
    }
    if !seen_type {
        problems.push("its key type cannot be read".to_owned());
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(ConnectError::setup(format!(
        "the key labelled {label:?} in PKCS#11 {token} cannot be the root key: {}; create one \
         with `rekey hsm init-key`",
        problems.join("; ")
    )))
}

/// What `rekey hsm init-key` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InitKey {
    Created,
    /// A fit key with that label was already there; it is left as it is.
    AlreadyThere,
}

/// Creates the root key in the token: AES-256, generated inside it, sensitive and never
/// extractable, usable only to encrypt and decrypt. A fit key with the label already there is
/// kept (so the command can run in every deployment script); an unfit one is an error.
pub(super) fn create_root_key(
    pkcs11: &Pkcs11,
    settings: &Pkcs11Settings,
) -> Result<InitKey, ConnectError> {
    let session = open_session(pkcs11, settings, Purpose::CreateKey)?;
    let label = &settings.key_label;
    let existing = session
        .find_objects(&key_template(label))
        .map_err(|e| ConnectError::lost(format!("cannot search the token: {e}")))?;
    if !existing.is_empty() {
        find_root_key(&session, settings)?;
        return Ok(InitKey::AlreadyThere);
    }
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ];
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .map_err(|e| {
            ConnectError::setup(format!(
                "PKCS#11 {} refused to generate an AES-256 key: {e}",
                token_name(&settings.token)
            ))
        })?;
    Ok(InitKey::Created)
}
