//! HashiCorp Vault's Transit API on Rekey's HTTP port (`/v1/<mount>/...`, mount `transit` by
//! default), so Vault's clients (hvac, the Vault Go API, SOPS, ...) work against Rekey with only
//! their address and token changed. A Transit call is a Rekey call: the same key manager,
//! token scopes, audit, metrics and limits as the gRPC API; only the JSON and the text form of
//! values (`vault:v<N>:<base64 of a Rekey value>`) are Vault's. docs/transit.md says what is
//! supported and what is not.
//!
//! Vault documents this API, not Rekey's OpenAPI document: its routes are registered here, on
//! a router of their own, and answer Vault's error shape (`{"errors": [...]}`).

mod data;
mod keys;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse as _;
use axum::routing::{any, get, post};
use axum::Router;

use crate::admin::Admin;
use crate::api::batch::BatchLimits;
use crate::api::guard::{self, Credentials};
use crate::auth::{AuthError, Authenticator, Operation, Principal};
use crate::keystore::KeyManager;
use crate::rotation::RotationEngine;
use crate::telemetry::metrics::Metrics;
use crate::tls::ClientSubject;
use data::Route;
use wire::TransitError;

/// What the Transit routes need: the same parts the gRPC services are built from.
#[derive(Debug, Clone)]
pub(crate) struct TransitState {
    pub(crate) manager: Arc<KeyManager>,
    pub(crate) engine: Arc<RotationEngine>,
    pub(crate) admin: Arc<Admin>,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: BatchLimits,
}

/// Where the Transit API is served, and how large a request may be.
#[derive(Debug, Clone)]
pub(crate) struct TransitSettings {
    /// The mount: routes are under `/v1/<mount>/`.
    pub(crate) mount: String,
    /// The largest request body: a batch at the batch limits, in base64, with its JSON.
    pub(crate) body_limit: usize,
}

/// The Transit routes under `/v1/<mount>/`, in front of `rest` (Rekey's own HTTP API).
pub(crate) fn with_transit(
    rest: Router,
    state: TransitState,
    settings: &TransitSettings,
    metrics: Arc<Metrics>,
) -> Router {
    let p = format!("/v1/{}", settings.mount);
    // One handler for the five data routes, told which route it serves.
    let data = |route: data::Route| {
        move |state, caller, path, body| data::handle(route, state, caller, path, body)
    };
    let write = |route| post(data(route)).put(data(route));
    let transit = Router::new()
        .route(&format!("{p}/encrypt/{{name}}"), write(Route::Encrypt))
        .route(&format!("{p}/decrypt/{{name}}"), write(Route::Decrypt))
        .route(&format!("{p}/rewrap/{{name}}"), write(Route::Rewrap))
        .route(&format!("{p}/hmac/{{name}}"), write(Route::Hmac))
        .route(
            &format!("{p}/hmac/{{name}}/{{algorithm}}"),
            write(Route::Hmac),
        )
        .route(&format!("{p}/verify/{{name}}"), write(Route::Verify))
        .route(
            &format!("{p}/verify/{{name}}/{{algorithm}}"),
            write(Route::Verify),
        )
        .route(
            &format!("{p}/datakey/{{kind}}/{{name}}"),
            post(data::datakey).put(data::datakey),
        )
        // LIST is not a method axum routes by name: `keys` takes any and sorts them out.
        .route(&format!("{p}/keys"), any(keys::list))
        .route(&format!("{p}/keys/"), any(keys::list))
        .route(
            &format!("{p}/keys/{{name}}"),
            get(keys::read).post(keys::create).put(keys::create),
        )
        .route(
            &format!("{p}/keys/{{name}}/rotate"),
            post(keys::rotate).put(keys::rotate),
        )
        .route(
            &format!("{p}/keys/{{name}}/config"),
            post(keys::config).put(keys::config),
        )
        // Vault's other routes (sign, random, hash, export, ...): Vault's 404, not Rekey's.
        .route(&format!("{p}/{{*rest}}"), any(unsupported_path))
        .method_not_allowed_fallback(|| async {
            TransitError::with_status(StatusCode::METHOD_NOT_ALLOWED, "unsupported operation")
        })
        // The limit is `read_whole_body`'s, for every route alike.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            settings.body_limit,
            read_whole_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            super::trace::http_span,
        ))
        .with_state(state);
    transit.fallback_service(rest)
}

async fn unsupported_path(uri: axum::http::Uri) -> TransitError {
    TransitError::with_status(
        StatusCode::NOT_FOUND,
        format!(
            "unsupported path {}: Rekey serves Transit's encrypt, decrypt, rewrap, datakey, hmac, verify and keys routes (docs/transit.md)",
            crate::excerpt::excerpt(uri.path(), 120)
        ),
    )
}

/// Reads the whole request body (up to `limit`) before any handler or extractor runs. An
/// answer given before the body was read (a refused token, an unknown path) would otherwise
/// leave the body on the connection and make the server close it, and Vault's clients, which
/// reuse connections, would see their next request fail.
async fn read_whole_body(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                .await
        }
        Err(_) => TransitError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than this server accepts ({limit} bytes: keystore.max_batch_bytes in base64); split the batch"
            ),
        )
        .into_response(),
    }
}

/// An authenticated Transit caller: a Rekey token in `X-Vault-Token` (what Vault's clients
/// send) or `Authorization: Bearer`, or a listed client certificate over HTTPS.
#[derive(Debug)]
pub(super) struct Caller(Arc<Principal>);

impl FromRequestParts<TransitState> for Caller {
    type Rejection = TransitError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &TransitState,
    ) -> Result<Self, Self::Rejection> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let bearer = header("x-vault-token").map(|token| format!("Bearer {}", token.trim()));
        let authorization = bearer.as_deref().or(header(header::AUTHORIZATION.as_str()));
        let certificate = parts.extensions.get::<ClientSubject>().cloned();
        let credentials = Credentials {
            certificate: certificate.as_ref().and_then(|c| c.0.as_deref()),
            authorization,
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        };
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or("transit", MatchedPath::as_str);
        let operation = format!("{} {route}", parts.method);
        let principal = guard::caller(&state.auth, credentials, &operation)
            .await
            .map_err(|e| match e {
                // Rekey's own words name the Authorization header; Vault's clients send
                // X-Vault-Token.
                AuthError::Missing => TransitError::with_status(
                    StatusCode::FORBIDDEN,
                    "permission denied: missing client token: send a Rekey token in X-Vault-Token (or Authorization: Bearer)",
                ),
                other => other.into(),
            })?;
        Ok(Caller(principal))
    }
}

impl Caller {
    /// Checks that the caller may perform `operation` with `key` (its token's scope).
    async fn scope(
        &self,
        state: &TransitState,
        operation: Operation,
        key: &str,
    ) -> Result<(), TransitError> {
        Ok(state.auth.within_scope(&self.0, operation, key).await?)
    }

    /// Checks that the caller is an admin (the `keys` routes).
    async fn admin(&self, state: &TransitState, operation: &str) -> Result<(), TransitError> {
        Ok(state.auth.admin_only(&self.0, operation).await?)
    }

    fn id(&self) -> &str {
        &self.0.id
    }

    /// Counts a successful data call for the audit trail, as the gRPC API does.
    async fn served(&self, state: &TransitState, key: &str, operation: Operation) {
        state
            .engine
            .audit()
            .data_plane(&self.0.id, key, operation.as_str())
            .await;
    }
}

/// The path's parameters: the key's name, and for some routes a datakey kind or an algorithm.
#[derive(Debug)]
pub(super) struct KeyPath {
    name: String,
    kind: Option<String>,
    algorithm: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = TransitError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(mut params) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|e| {
                    TransitError::bad_request(format!("invalid path: {}", e.body_text()))
                })?;
        let name = params
            .remove("name")
            .ok_or_else(|| TransitError::bad_request("missing key name"))?;
        Ok(Self {
            name,
            kind: params.remove("kind"),
            algorithm: params.remove("algorithm"),
        })
    }
}
