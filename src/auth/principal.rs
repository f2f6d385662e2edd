//! Who is calling and what they may do.

use std::fmt;

/// Data-plane operations a client token can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    Rewrap,
    Sign,
    Verify,
}

impl Operation {
    pub(crate) const ALL: [Operation; 6] = [
        Operation::Encrypt,
        Operation::Decrypt,
        Operation::GenerateDataKey,
        Operation::Rewrap,
        Operation::Sign,
        Operation::Verify,
    ];

    /// The spelling in token scopes: encrypt, decrypt, generate_data_key, rewrap, sign, verify.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operation::Encrypt => "encrypt",
            Operation::Decrypt => "decrypt",
            Operation::GenerateDataKey => "generate_data_key",
            Operation::Rewrap => "rewrap",
            Operation::Sign => "sign",
            Operation::Verify => "verify",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == s)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Every rpc and route.
    Admin,
    /// Data-plane rpcs only, within the token's key and operation scope.
    Client,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Client => "client",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "client" => Some(Role::Client),
            _ => None,
        }
    }
}

/// An authenticated caller. Holds no secret: `id` is the token id (or certificate subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) id: String,
    pub(crate) role: Role,
    /// Keys a client may use; empty means every key.
    pub(crate) key_names: Vec<String>,
    /// Operations a client may perform; empty means all.
    pub(crate) operations: Vec<Operation>,
}

impl Principal {
    pub(crate) fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub(crate) fn may(&self, operation: Operation, key: &str) -> bool {
        self.is_admin()
            || ((self.key_names.is_empty() || self.key_names.iter().any(|k| k == key))
                && (self.operations.is_empty() || self.operations.contains(&operation)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_scope_limits_keys_and_operations() {
        let client = Principal {
            id: "tok_1".into(),
            role: Role::Client,
            key_names: vec!["TOKEN_ENCRYPTION".into()],
            operations: vec![Operation::Encrypt, Operation::Decrypt],
        };
        assert!(client.may(Operation::Encrypt, "TOKEN_ENCRYPTION"));
        assert!(client.may(Operation::Decrypt, "TOKEN_ENCRYPTION"));
        assert!(!client.may(Operation::Sign, "TOKEN_ENCRYPTION"));
        assert!(!client.may(Operation::Encrypt, "FILE_ENCRYPTION"));
        let unscoped = Principal {
            key_names: vec![],
            operations: vec![],
            ..client.clone()
        };
        assert!(unscoped.may(Operation::Sign, "API_SIGNATURE"));
        assert!(!unscoped.is_admin());
    }
}
