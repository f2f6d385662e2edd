//! What a loaded key version may be used for: the checks every key operation makes before it
//! touches material (the value is of the kind the operation takes; the version's key has the
//! purpose the operation needs), each failing with the error a caller can act on.

use crate::crypto::{self, Envelope, Kind};
use crate::keystore::error::{KeyError, KeyResult};
use crate::keystore::keyring::{LoadedKey, LoadedVersion, VersionCipher};

pub(super) fn expect_kind(envelope: &Envelope<'_>, expected: Kind) -> KeyResult<()> {
    if envelope.kind == expected {
        Ok(())
    } else {
        Err(KeyError::WrongKind {
            expected,
            found: envelope.kind,
        })
    }
}

pub(super) fn encryption_key<'a>(
    key: &LoadedKey,
    version: &'a LoadedVersion,
    operation: &'static str,
) -> KeyResult<&'a crypto::EncryptionKey> {
    match &*version.cipher {
        VersionCipher::Encrypt(cipher) => Ok(cipher),
        _ => Err(KeyError::WrongPurpose {
            key: key.record.name.clone(),
            purpose: key.record.purpose,
            operation,
        }),
    }
}

pub(super) fn signing_key<'a>(
    key: &LoadedKey,
    version: &'a LoadedVersion,
    operation: &'static str,
) -> KeyResult<&'a crypto::SigningKey> {
    match &*version.cipher {
        VersionCipher::Sign(signer) => Ok(signer),
        _ => Err(KeyError::WrongPurpose {
            key: key.record.name.clone(),
            purpose: key.record.purpose,
            operation,
        }),
    }
}
