//! The bearer token format: `rekey_<id>_<secret>`, where `<id>` is 12 hex digits that name the
//! token (safe to log and audit) and `<secret>` is 32 random bytes in URL-safe base64. Only
//! the SHA-256 of the whole string is stored; lookups go by id and the hash is compared in
//! constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const PREFIX: &str = "rekey_";
const ID_HEX_LEN: usize = 12;

/// A freshly generated token: the secret string (shown once) and its id.
pub(crate) struct NewToken {
    pub(crate) id: String,
    pub(crate) secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Token ids as shown to operators and stored: `tok_<12 hex>`.
pub(crate) fn token_id(id_hex: &str) -> String {
    format!("tok_{id_hex}")
}

pub(crate) fn generate() -> NewToken {
    let mut id = [0u8; ID_HEX_LEN / 2];
    let mut secret = Zeroizing::new([0u8; 32]);
    crate::crypto::rng::fill(&mut id);
    crate::crypto::rng::fill(secret.as_mut());
    let id_hex = hex::encode(id);
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_ref());
    NewToken {
        id: token_id(&id_hex),
        secret: Zeroizing::new(format!("{PREFIX}{id_hex}_{encoded}")),
    }
}

/// The token id named inside a presented token, if it has Rekey's shape.
pub(crate) fn id_of(presented: &str) -> Option<String> {
    let rest = presented.strip_prefix(PREFIX)?;
    let id_hex = rest.get(..ID_HEX_LEN)?;
    if !id_hex.bytes().all(|b| b.is_ascii_hexdigit())
        || rest.as_bytes().get(ID_HEX_LEN) != Some(&b'_')
    {
        return None;
    }
    Some(token_id(id_hex))
}

/// Lowercase hex SHA-256 of a token string: what is stored.
pub(crate) fn hash(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

/// Constant-time equality of two stored-format hashes.
pub(crate) fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_name_their_id_and_hash_stably() {
        let token = generate();
        assert_eq!(id_of(&token.secret).as_deref(), Some(token.id.as_str()));
        assert_eq!(hash(&token.secret), hash(&token.secret.clone()));
        assert_eq!(hash(&token.secret).len(), 64);
        assert!(hashes_match(&hash(&token.secret), &hash(&token.secret)));
        assert!(!hashes_match(
            &hash(&token.secret),
            &hash("rekey_000000000000_x")
        ));
        assert!(!format!("{token:?}").contains(token.secret.as_str()));
        assert_ne!(generate().secret, token.secret);
    }

    #[test]
    fn foreign_strings_have_no_id() {
        for s in [
            "",
            "rekey_",
            "rekey_12345",
            "rekey_zzzzzzzzzzzz_abc",
            "Bearer x",
            "rekey_0123456789abX",
        ] {
            assert_eq!(id_of(s), None, "{s:?}");
        }
        assert_eq!(
            id_of("rekey_0123456789ab_secret").as_deref(),
            Some("tok_0123456789ab")
        );
    }
}
