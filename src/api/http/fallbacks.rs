//! The answers axum gives by itself (no such route, a method the route does not have, a body
//! over the limit) in the API's JSON error shape, so that every error a client sees is
//! `{"error": {"code", "message"}}`.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::HttpError;

/// The router's fallback: a path that no route serves.
pub(super) async fn not_found(request: Request) -> HttpError {
    HttpError::not_found(format!(
        "no route {}; the routes are listed in /api/v1/openapi.json and on /docs",
        bounded(request.uri().path())
    ))
}

/// Rewrites an error response that is not JSON (axum's empty 405, a plain-text rejection) into
/// the JSON shape, keeping its status and headers such as `Allow`.
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = bounded(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            format!("method {method} is not allowed on {path}; allowed: {allowed}")
        }
        StatusCode::PAYLOAD_TOO_LARGE => return HttpError::too_large().into_response(),
        _ => format!(
            "{} on {method} {path}",
            status.canonical_reason().unwrap_or("error")
        ),
    };
    let mut json = HttpError::with_status(status, message).into_response();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    json.headers_mut().extend(parts.headers);
    json
}

/// A request path for a message: at most 200 characters, cut at a character boundary.
fn bounded(path: &str) -> String {
    const MAX: usize = 200;
    match path.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &path[..cut]),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_paths_are_cut_for_messages() {
        assert_eq!(super::bounded("/a"), "/a");
        let long = "é".repeat(300);
        assert_eq!(super::bounded(&long).chars().count(), 201);
    }
}
