//! The OpenAPI document of the HTTP API. The paths come from the `#[utoipa::path]` attributes
//! on the handlers, collected by the same `routes!` calls that build the router (so the two
//! cannot drift); this file adds what no handler knows: the API's description, its tags, the
//! bearer scheme, the error responses every admin route shares, and where it is served.

use std::net::SocketAddr;

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::{ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{OpenApi, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, ToSchema};

use super::dto::EventStatusName;

/// The tag of the runbook's routes; the runbook links `/docs#tag/key-rotation`.
pub(super) const KEY_ROTATION: &str = "key-rotation";
/// The tag of the routes that describe the API and the service.
pub(super) const META: &str = "meta";
/// The audit trail's routes, and who a token is.
pub(super) const AUDIT: &str = "audit";

/// The description, tags and shared parts of the document.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Rekey key-rotation admin API",
        version = "1",
        description = "HTTP admin interface for encryption key rotation: key status, impact \
assessment, scheduled and emergency rotation, rotation events (monitor, retry, execute, rollback) \
and reports. It uses the same engine, authentication and error codes as the gRPC \
RotationService.\n\nEvery `/api/v1/key-rotation/...` route needs an admin bearer token: send \
`Authorization: Bearer <admin_token>`. Over HTTPS with `client_ca_file` configured, a client \
certificate listed in `[[tls.clients]]` with the admin role does instead (as on gRPC). Client \
tokens and client-role certificates are refused with 403; a missing, invalid, \
expired or revoked token gets 401 with `WWW-Authenticate: Bearer`; too many failed attempts from \
one address get 429 for a while.\n\nEvery error, on every route (including an unknown route, a \
method the route does not have, a malformed query, a body that is too large, not JSON or not \
`application/json`), is `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`. 503 \
UNAVAILABLE: retry with backoff. 500 INTERNAL: see the server log, do not retry blindly. 400, \
404, 405, 409, 413 and 415 mean the request (or the state) must change before it can succeed. \
Times are RFC 3339 UTC strings."
    ),
    tags(
        (name = "key-rotation", description = "Key rotation administration (admin tokens only)."),
        (name = "audit", description = "The hash-chained audit trail (admin tokens only), and who a token is (any token)."),
        (name = "meta", description = "This document, its reference page, the web console and the metrics scrape; no token needed."),
    ),
    components(schemas(ErrorBody, ErrorDetail, ErrorCode, EventStatusName)),
    modifiers(&SharedParts)
)]
pub(super) struct ApiDoc;

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(super) struct ErrorBody {
    pub(super) error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ErrorDetail {
    /// What went wrong, as a stable name (the gRPC status names where one fits).
    #[schema(value_type = ErrorCode)]
    pub(super) code: &'static str,
    /// What was refused and why, for a person to read; it may change between versions.
    pub(super) message: String,
}

/// The `code` values an error can carry (documentation only; `HttpError` sets them).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    FailedPrecondition,
    PayloadTooLarge,
    UnsupportedMediaType,
    ResourceExhausted,
    Internal,
    Unavailable,
}

/// The bearer scheme, and the error responses every admin route can give.
struct SharedParts;

const SHARED_ERRORS: [(&str, &str); 5] = [
    ("401", "UNAUTHENTICATED: the `Authorization: Bearer <token>` header is missing, or the token is invalid, expired or revoked. The response carries `WWW-Authenticate: Bearer`. Do not retry with the same token."),
    ("403", "PERMISSION_DENIED: the token (or listed client certificate) has the client role; these routes need an admin."),
    ("429", "RESOURCE_EXHAUSTED: too many failed authentication attempts from this address; the message says after how many seconds to retry."),
    ("500", "INTERNAL: an unexpected server error; see the server log, do not retry blindly."),
    ("503", "UNAVAILABLE: the keystore or a target database cannot be reached (the message names it); retry with backoff."),
];

impl Modify for SharedParts {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for (status, description) in SHARED_ERRORS {
            components
                .responses
                .insert(status_name(status).to_owned(), error_response(description));
        }
    }
}

fn status_name(status: &str) -> &'static str {
    match status {
        "401" => "Unauthenticated",
        "403" => "PermissionDenied",
        "429" => "TooManyRequests",
        "500" => "Internal",
        _ => "Unavailable",
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::content::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
        .into()
}

/// The finished document: the shared error responses on every admin operation, and `servers`
/// naming the address this server listens on (`https` when TLS is on).
pub(super) fn finish(mut openapi: OpenApi, addr: SocketAddr, tls: bool) -> OpenApi {
    for item in openapi.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            let is_admin = operation
                .tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == KEY_ROTATION));
            if !is_admin {
                continue;
            }
            operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                "bearerAuth",
                Vec::<String>::new(),
            )]);
            for (status, _) in SHARED_ERRORS {
                let shared = Ref::new(format!("#/components/responses/{}", status_name(status)));
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert(RefOr::Ref(shared));
            }
        }
    }
    openapi.servers = Some(vec![server(addr, tls)]);
    openapi
}

/// The listen address as a URL; an unspecified address (`0.0.0.0`, `[::]`) becomes a `host`
/// variable, since clients reach it by one of the machine's names.
fn server(addr: SocketAddr, tls: bool) -> utoipa::openapi::server::Server {
    let scheme = if tls { "https" } else { "http" };
    if addr.ip().is_unspecified() {
        ServerBuilder::new()
            .url(format!("{scheme}://{{host}}:{}", addr.port()))
            .description(Some(
                "This server; it listens on every interface of its machine",
            ))
            .parameter(
                "host",
                ServerVariableBuilder::new()
                    .default_value("localhost")
                    .description(Some("A name or address of the server's machine")),
            )
            .build()
    } else {
        ServerBuilder::new()
            .url(format!("{scheme}://{addr}"))
            .description(Some("This server"))
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(addr: &str, tls: bool) -> serde_json::Value {
        let doc = finish(
            <ApiDoc as utoipa::OpenApi>::openapi(),
            addr.parse().unwrap(),
            tls,
        );
        serde_json::to_value(doc).unwrap()["servers"].clone()
    }

    #[test]
    fn servers_name_the_listen_address_and_scheme() {
        assert_eq!(
            servers("127.0.0.1:9443", true)[0]["url"],
            "https://127.0.0.1:9443"
        );
        assert_eq!(servers("[::1]:8081", false)[0]["url"], "http://[::1]:8081");
        let any = servers("0.0.0.0:8080", false);
        assert_eq!(any[0]["url"], "http://{host}:8080");
        assert_eq!(any[0]["variables"]["host"]["default"], "localhost");
    }
}
