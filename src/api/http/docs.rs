//! `GET /docs`: the API reference page (Redoc) for the OpenAPI document, with every asset
//! embedded in the binary so that it works on a network without internet access.

use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;

use super::openapi::META;

/// The vendored Redoc release (`vendor/redoc/VERSION` says where it came from).
const REDOC_VERSION: &str = "2.5.4";
const REDOC_JS: &str = include_str!("vendor/redoc/redoc.standalone.js");

/// Only this server's own scripts, styles, images and fetches. Redoc styles its elements with
/// inline styles and renders its search index in a worker started from a `blob:` URL.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'; \
worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The serialized OpenAPI document this server serves.
#[derive(Debug, Clone)]
pub(super) struct OpenApiJson(pub(super) std::sync::Arc<str>);

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = META, operation_id = "getOpenApi",
    summary = "Get this OpenAPI document",
    description = "This OpenAPI 3 document. Needs no token.",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object)))]
pub(super) async fn openapi(Extension(document): Extension<OpenApiJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.0.to_string(),
    )
}

#[utoipa::path(get, path = "/docs", tag = META, operation_id = "getDocs",
    summary = "API reference page",
    description = "This document rendered for people to read (Redoc); it loads nothing from outside this server. Needs no token.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
pub(super) async fn docs_page() -> impl IntoResponse {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Rekey HTTP API</title>\n</head>\n<body>\n\
         <redoc spec-url=\"/api/v1/openapi.json\"></redoc>\n\
         <script src=\"/docs/redoc.standalone.js?v={REDOC_VERSION}\"></script>\n\
         </body>\n</html>\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, DOCS_CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
}

#[utoipa::path(get, path = "/docs/redoc.standalone.js", tag = META, operation_id = "getRedoc",
    summary = "The reference page's script",
    description = "The Redoc bundle the reference page runs, embedded in the server. Cached for a year: the page names it with its version.",
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String)))]
pub(super) async fn redoc_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        REDOC_JS,
    )
}
