//! `Authenticator`: turns an `authorization` header into a [`Principal`], or a refusal with a
//! message that says what to do. Tokens are cached in memory (refreshed with the keys, and
//! loaded on a miss) so the data plane never waits on the database for a known token.

mod token_admin;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::audit::{AuditEntry, Auditor, Outcome};
use crate::auth::limiter::FailureLimiter;
use crate::auth::principal::{Operation, Principal, Role};
use crate::auth::store::{TokenRecord, TokenStore};
use crate::auth::token;
use crate::clock::Clock;
use crate::storage_error::StoreError;
use crate::telemetry::metrics::AuthFailure;
use crate::telemetry::Metrics;

/// The principal id of the admin token given in REKEY_ADMIN_TOKEN.
pub(super) const ENV_ADMIN_ID: &str = "admin-from-env";
/// File in the data folder that receives the bootstrap admin token.
pub(super) const BOOTSTRAP_TOKEN_FILE: &str = "admin.token";

#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("missing credentials: send the header `authorization: Bearer <token>`")]
    Missing,
    #[error("the bearer token is not valid for this server")]
    Invalid,
    #[error("token {id} expired; ask an admin for a new one")]
    Expired { id: String },
    #[error("token {id} has been revoked; ask an admin for a new one")]
    Revoked { id: String },
    #[error("too many failed authentication attempts from {peer}; retry in {retry_after_secs} s")]
    RateLimited { peer: IpAddr, retry_after_secs: u64 },
    #[error("token {id} is a client token; this operation needs an admin token")]
    AdminOnly { id: String },
    #[error("token {id} may not {operation} with key {key:?}; its scope is keys [{keys}], operations [{operations}]")]
    OutOfScope {
        id: String,
        operation: Operation,
        key: String,
        keys: String,
        operations: String,
    },
    #[error("invalid token request: {0}")]
    InvalidRequest(String),
    #[error("token {0:?} does not exist")]
    NotFound(String),
    #[error("token store: {0}")]
    Store(#[from] StoreError),
}

/// A token just created: the secret is shown once and never stored.
#[derive(Debug)]
pub(crate) struct CreatedToken {
    pub(crate) secret: Zeroizing<String>,
    pub(crate) record: TokenRecord,
}

#[derive(Debug)]
pub(crate) struct Authenticator {
    audit: Arc<Auditor>,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    tokens: ArcSwap<HashMap<String, Arc<CachedToken>>>,
    env_admin: Arc<Principal>,
    /// Client certificate subject → principal (mutual TLS on gRPC).
    certificates: HashMap<String, Arc<Principal>>,
    env_admin_hash: Option<String>,
    limiter: FailureLimiter,
    metrics: Arc<Metrics>,
}

impl Authenticator {
    pub(crate) async fn new(
        store: Arc<dyn TokenStore>,
        audit: Arc<Auditor>,
        clock: Arc<dyn Clock>,
        env_admin: Option<&SecretString>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, AuthError> {
        let auth = Self {
            audit,
            store,
            clock,
            tokens: ArcSwap::default(),
            certificates: HashMap::new(),
            env_admin: Arc::new(Principal {
                id: ENV_ADMIN_ID.to_owned(),
                role: Role::Admin,
                key_names: Vec::new(),
                operations: Vec::new(),
            }),
            env_admin_hash: env_admin.map(|t| token::hash(t.expose_secret())),
            limiter: FailureLimiter::default(),
            metrics,
        };
        auth.refresh().await?;
        Ok(auth)
    }

    /// Accepts the listed client certificate subjects as principals (mutual TLS).
    pub(crate) fn with_certificates(
        mut self,
        clients: &[crate::tls::CertClient],
    ) -> Result<Self, AuthError> {
        for client in clients {
            let role = Role::parse(&client.role).ok_or_else(|| {
                AuthError::InvalidRequest(format!(
                    "[[tls.clients]] {:?}: role {:?} is not \"admin\" or \"client\"",
                    client.subject, client.role
                ))
            })?;
            let mut operations = Vec::new();
            for op in &client.operations {
                operations.push(Operation::parse(op).ok_or_else(|| {
                    AuthError::InvalidRequest(format!(
                        "[[tls.clients]] {:?}: unknown operation {op:?}",
                        client.subject
                    ))
                })?);
            }
            self.certificates.insert(
                client.subject.clone(),
                Arc::new(Principal {
                    id: format!("cert:{}", client.subject),
                    role,
                    key_names: client.key_names.clone(),
                    operations,
                }),
            );
        }
        Ok(self)
    }

    /// The principal of a verified client certificate's subject, if it is listed.
    pub(crate) fn by_certificate(&self, subject: &str) -> Option<Arc<Principal>> {
        self.certificates.get(subject).cloned()
    }

    /// Reloads every token (revocations made on other replicas take effect here).
    pub(crate) async fn refresh(&self) -> Result<(), AuthError> {
        let all = self.store.list_tokens().await?;
        let cached = all
            .into_iter()
            .map(|t| Ok((t.id.clone(), Arc::new(CachedToken::new(t)?))))
            .collect::<Result<HashMap<_, _>, AuthError>>()?;
        self.tokens.store(Arc::new(cached));
        Ok(())
    }

    fn cache(&self, record: TokenRecord) -> Result<Arc<CachedToken>, AuthError> {
        let cached = Arc::new(CachedToken::new(record)?);
        self.tokens.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.insert(cached.record.id.clone(), Arc::clone(&cached));
            next
        });
        Ok(cached)
    }

    /// Authenticates the value of an `authorization` header from `peer`.
    ///
    /// An address that failed too often recently is answered from memory only: a valid token
    /// this replica knows still works (valid clients behind the same address keep working),
    /// anything else is refused without touching the database.
    pub(crate) async fn authenticate(
        &self,
        header: Option<&str>,
        peer: Option<IpAddr>,
        operation: &str,
    ) -> Result<Arc<Principal>, AuthError> {
        if let Some(peer) = peer {
            if let Some(retry_after_secs) = self.limiter.blocked(peer) {
                return self.check(header, false).await.map_err(|_| {
                    self.metrics.auth_failure(AuthFailure::RateLimited);
                    AuthError::RateLimited {
                        peer,
                        retry_after_secs,
                    }
                });
            }
        }
        let result = self.check(header, true).await;
        if let Err(
            e @ (AuthError::Missing
            | AuthError::Invalid
            | AuthError::Expired { .. }
            | AuthError::Revoked { .. }),
        ) = &result
        {
            self.metrics.auth_failure(match e {
                AuthError::Missing => AuthFailure::Missing,
                AuthError::Expired { .. } => AuthFailure::Expired,
                AuthError::Revoked { .. } => AuthFailure::Revoked,
                _ => AuthFailure::UnknownToken,
            });
            if let Some(peer) = peer {
                self.limiter.record_failure(peer);
            }
            let who = match e {
                AuthError::Expired { id } | AuthError::Revoked { id } => id.clone(),
                _ => format!(
                    "anonymous@{}",
                    peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string())
                ),
            };
            self.audit
                .record(AuditEntry::new(who, operation, Outcome::Denied).detail(e.to_string()))
                .await;
        }
        result
    }

    /// `require_admin`, with the refusal audited.
    pub(crate) async fn admin_only(
        &self,
        principal: &Principal,
        operation: &str,
    ) -> Result<(), AuthError> {
        let result = Self::require_admin(principal);
        if let Err(e) = &result {
            self.metrics.auth_failure(AuthFailure::Forbidden);
            self.audit
                .record(
                    AuditEntry::new(&principal.id, operation, Outcome::Denied)
                        .detail(e.to_string()),
                )
                .await;
        }
        result
    }

    /// `require`, with the refusal audited.
    pub(crate) async fn within_scope(
        &self,
        principal: &Principal,
        operation: Operation,
        key: &str,
    ) -> Result<(), AuthError> {
        let result = Self::require(principal, operation, key);
        if let Err(e) = &result {
            self.metrics.auth_failure(AuthFailure::Forbidden);
            self.audit
                .record(
                    AuditEntry::new(&principal.id, operation.as_str(), Outcome::Denied)
                        .key(key, None)
                        .detail(e.to_string()),
                )
                .await;
        }
        result
    }

    /// Validates the header; `may_load` allows a database lookup for a token not in memory.
    async fn check(
        &self,
        header: Option<&str>,
        may_load: bool,
    ) -> Result<Arc<Principal>, AuthError> {
        let presented = header
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let presented_hash = token::hash(presented);
        if let Some(env_hash) = &self.env_admin_hash {
            if token::hashes_match(env_hash, &presented_hash) {
                return Ok(Arc::clone(&self.env_admin));
            }
        }
        let id = token::id_of(presented).ok_or(AuthError::Invalid)?;
        let cached = match self.tokens.load().get(&id).cloned() {
            Some(cached) => cached,
            None if !may_load => return Err(AuthError::Invalid),
            None => {
                let record = self.store.get_token(&id).await?.ok_or(AuthError::Invalid)?;
                self.cache(record)?
            }
        };
        let record = &cached.record;
        if !token::hashes_match(&record.secret_hash, &presented_hash) {
            return Err(AuthError::Invalid);
        }
        if record.revoked_at.is_some() {
            return Err(AuthError::Revoked { id });
        }
        if record.expires_at.is_some_and(|at| at <= self.clock.now()) {
            return Err(AuthError::Expired { id });
        }
        Ok(Arc::clone(&cached.principal))
    }

    pub(crate) fn require_admin(principal: &Principal) -> Result<(), AuthError> {
        if principal.is_admin() {
            Ok(())
        } else {
            Err(AuthError::AdminOnly {
                id: principal.id.clone(),
            })
        }
    }

    pub(crate) fn require(
        principal: &Principal,
        operation: Operation,
        key: &str,
    ) -> Result<(), AuthError> {
        if principal.may(operation, key) {
            return Ok(());
        }
        let list = |items: Vec<String>| {
            if items.is_empty() {
                "all".to_owned()
            } else {
                items.join(", ")
            }
        };
        Err(AuthError::OutOfScope {
            id: principal.id.clone(),
            operation,
            key: key.to_owned(),
            keys: list(principal.key_names.clone()),
            operations: list(principal.operations.iter().map(|o| o.to_string()).collect()),
        })
    }
}

/// A stored token with the principal it authenticates, built once.
#[derive(Debug)]
struct CachedToken {
    record: TokenRecord,
    principal: Arc<Principal>,
}

impl CachedToken {
    fn new(record: TokenRecord) -> Result<Self, AuthError> {
        Ok(Self {
            principal: Arc::new(principal_of(&record)?),
            record,
        })
    }
}

fn principal_of(record: &TokenRecord) -> Result<Principal, AuthError> {
    let role = Role::parse(&record.role).ok_or_else(|| {
        StoreError::Corrupt(format!("token {}: role {:?}", record.id, record.role))
    })?;
    Ok(Principal {
        id: record.id.clone(),
        role,
        key_names: record.key_names.clone(),
        operations: record
            .operations
            .iter()
            .filter_map(|o| Operation::parse(o))
            .collect(),
    })
}
