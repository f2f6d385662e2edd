//! `GET /ui/`: the web console for operators and auditors, the files of `console/` embedded in
//! the binary by build.rs (no CDN, no Node at run time). The console is one more face on the
//! admin core: it calls the HTTP API below with the token the user signs in with, and holds that
//! token in the tab's session storage only.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::HttpError;
use super::extract::Path;
use super::openapi::META;

/// `(file name, bytes)` of every file of `console/`, sorted by name.
const ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// The console's own scripts, styles and API calls only: no inline script or style, no other
/// origin, no framing.
const CONSOLE_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'none'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

/// The console's headers on any of its answers (a file, the redirect, a 404).
fn with_console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (header, value) in [
        (header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small, and must change with the binary: never cached.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(header, HeaderValue::from_static(value));
    }
    response
}

/// One embedded file with the console's headers; `None` when there is no such file.
fn asset(name: &str) -> Option<Response> {
    let (name, bytes) = ASSETS.iter().find(|(n, _)| *n == name)?;
    let response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type(name))],
        *bytes,
    )
        .into_response();
    Some(with_console_headers(response))
}

fn not_found(message: String) -> Response {
    with_console_headers(HttpError::not_found(message).into_response())
}

#[utoipa::path(get, path = "/ui", tag = META, operation_id = "getConsoleRoot",
    summary = "Web console (redirect)",
    description = "Redirects to `/ui/`, the web console.",
    responses((status = 308, description = "To /ui/")))]
pub(super) async fn console_root() -> Response {
    with_console_headers(Redirect::permanent("/ui/").into_response())
}

#[utoipa::path(get, path = "/ui/", tag = META, operation_id = "getConsole",
    summary = "Web console",
    description = "The web console for operators and auditors: keys and their versions, rotations and live migrations, the schedule, the audit chain and the reports. Sign in with a Rekey admin token; the page keeps it in the tab's session storage only. Needs no token to load.",
    responses((status = 200, description = "The console's page", content_type = "text/html", body = String)))]
pub(super) async fn console_page() -> Response {
    asset("index.html").unwrap_or_else(|| {
        not_found("this build has no web console (console/index.html was missing)".into())
    })
}

#[utoipa::path(get, path = "/ui/{file}", tag = META, operation_id = "getConsoleAsset",
    summary = "Web console file",
    description = "A script, style sheet or image of the web console, embedded in the server.",
    params(("file" = String, Path, description = "File name, e.g. `app.js`.")),
    responses(
        (status = 200, description = "The file"),
        (status = 404, description = "NOT_FOUND: no such file", body = super::openapi::ErrorBody),
    ))]
pub(super) async fn console_asset(Path(file): Path<String>) -> Response {
    asset(&file).unwrap_or_else(|| {
        not_found(format!(
            "the console has no file {:?}",
            crate::excerpt::excerpt(&file, 80)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `console/` is embedded (build.rs lists the folder at build time).
    #[test]
    fn every_console_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("console/ exists")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = ASSETS.iter().map(|(n, _)| *n).collect();
        assert_eq!(embedded, on_disk);
        assert!(embedded.contains(&"index.html"));
    }

    #[test]
    fn assets_carry_the_console_headers() {
        let response = asset("index.html").expect("index.html");
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert!(asset("no-such-file.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
    }
}
