//! The HTTP router and its OpenAPI document, built from one list: every route is registered
//! through `routes!`, which takes the path and method from the handler's `#[utoipa::path]`, so
//! the router serves exactly what the document describes.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_routes as audit;
use super::console;
use super::docs::{self, OpenApiJson};
use super::error::BODY_LIMIT;
use super::openapi::{self, ApiDoc};
use super::routes::{self as r, HttpState};
use super::transit::{with_transit, TransitState};
use super::{fallbacks, trace};

/// Where the router is served: the document's `servers` entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServedAt {
    pub(crate) addr: SocketAddr,
    pub(crate) tls: bool,
}

/// Every route, each with its part of the document. Register routes here only, never with
/// plain `Router::route` (a test checks this file): that is what keeps the two in step.
fn api() -> OpenApiRouter<HttpState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(r::status))
        .routes(routes!(r::impact))
        .routes(routes!(r::schedule, r::schedule_rotation))
        .routes(routes!(r::event))
        .routes(routes!(r::events))
        .routes(routes!(r::retry))
        .routes(routes!(r::execute))
        .routes(routes!(r::rollback))
        .routes(routes!(r::report))
        .routes(routes!(docs::openapi))
        .routes(routes!(docs::docs_page))
        .routes(routes!(docs::redoc_script))
        .routes(routes!(r::metrics))
        .routes(routes!(audit::audit))
        .routes(routes!(audit::verify_audit))
        .routes(routes!(audit::whoami))
        .routes(routes!(console::console_root))
        .routes(routes!(console::console_page))
        .routes(routes!(console::console_asset))
}

/// The finished OpenAPI document for a server at `served_at`.
#[cfg(test)]
pub(crate) fn document(served_at: ServedAt) -> utoipa::openapi::OpenApi {
    openapi::finish(api().into_openapi(), served_at.addr, served_at.tls)
}

pub(crate) fn router(state: HttpState, served_at: ServedAt) -> anyhow::Result<Router> {
    let metrics = Arc::clone(state.engine.metrics());
    let transit = state.transit.clone().map(|settings| {
        let transit = TransitState {
            manager: Arc::clone(state.engine.manager()),
            engine: Arc::clone(&state.engine),
            admin: Arc::clone(&state.admin),
            auth: Arc::clone(&state.auth),
            metrics: Arc::clone(&metrics),
            limits: state.limits,
        };
        (transit, settings)
    });
    let (router, document) = api().split_for_parts();
    let document = openapi::finish(document, served_at.addr, served_at.tls);
    let json: Arc<str> = serde_json::to_string_pretty(&document)?.into();
    let routes = router
        .fallback(fallbacks::not_found)
        .layer(Extension(OpenApiJson(json)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&metrics),
            trace::http_span,
        ))
        .with_state(state);
    // Around the whole router, not each route: axum adds a 405's `Allow` header outside the
    // route's layers, and the JSON message names the allowed methods.
    let app = Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn(fallbacks::json_errors));
    Ok(match transit {
        Some((transit, settings)) => with_transit(app, transit, &settings, metrics),
        None => app,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_are_registered_only_through_the_document() {
        let source = include_str!("router.rs");
        let code = source.split("#[cfg(test)]").next().unwrap();
        for plain in [
            ".route(",
            ".route_service(",
            ".nest(",
            ".merge(",
            ".nest_service(",
        ] {
            assert!(
                !code.contains(plain),
                "router.rs registers a route with {plain}"
            );
        }
    }

    #[test]
    fn the_runbook_routes_are_tagged_key_rotation() {
        let doc = super::document(super::ServedAt {
            addr: "127.0.0.1:8080".parse().unwrap(),
            tls: false,
        });
        let doc = serde_json::to_value(doc).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let runbook: Vec<_> = paths
            .iter()
            .filter(|(path, _)| path.starts_with("/api/v1/key-rotation/"))
            .collect();
        assert_eq!(runbook.len(), 9, "{paths:?}");
        for (path, item) in runbook {
            for (method, op) in item.as_object().unwrap() {
                assert_eq!(op["tags"][0], "key-rotation", "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
                assert_eq!(op["security"][0]["bearerAuth"], serde_json::json!([]));
            }
        }
        assert_eq!(doc["servers"][0]["url"], "http://127.0.0.1:8080");
    }

    /// Every `$ref` in the document names something the document defines.
    #[test]
    fn every_reference_resolves() {
        fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                        out.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = super::document(super::ServedAt {
            addr: "127.0.0.1:8080".parse().unwrap(),
            tls: false,
        });
        let doc = serde_json::to_value(doc).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 20, "{found:?}");
        for reference in found {
            let pointer = reference.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(pointer).is_some(), "{reference} is not defined");
        }
    }
}
