//! The HTTP API's description: the OpenAPI document agrees with the router route for route and
//! method, names the server's address, and `/docs` renders it in a real browser, offline.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::http::raw_request;
use crate::support::{Backend, TestEnv};

/// The methods probed on every documented path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// A documented path with its `{parameters}` filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "TOKEN_ENCRYPTION"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every (path, method) the document lists is served by a route (not the fallback, not 405),
/// and every other method on those paths is 405: the router serves what the document says,
/// both ways. (The router registers routes only through the document; a unit test in the
/// router checks that.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_exactly_the_documented_routes() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let addr = s.server.http_addr().expect("HTTP enabled");
    let auth = format!("Authorization: Bearer {}", env.admin_token());
    let document = raw_request(addr, "GET", "/api/v1/openapi.json", &[], b"")
        .await
        .json();
    assert_eq!(document["servers"][0]["url"], format!("http://{addr}"));
    let paths = document["paths"].as_object().expect("paths");
    let mut served = BTreeSet::new();
    for (path, item) in paths {
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        for method in METHODS {
            let headers = [auth.as_str(), "Content-Type: application/json"];
            let response = raw_request(addr, method, &concrete(path), &headers, b"{}").await;
            let what = format!("{method} {path}: {}", response.status);
            if documented.contains(method) {
                assert_ne!(response.status, 405, "{what}");
                if response.status == 404 {
                    let message = response.json()["error"]["message"].to_string();
                    assert!(!message.contains("no route"), "{what}: {message}");
                }
                served.insert(format!("{method} {path}"));
            } else {
                assert_eq!(response.status, 405, "{what}: undocumented method served");
            }
        }
    }
    let expected: BTreeSet<String> = [
        "GET /api/v1/key-rotation/status",
        "GET /api/v1/key-rotation/impact/{key_type}",
        "GET /api/v1/key-rotation/schedule",
        "POST /api/v1/key-rotation/schedule",
        "GET /api/v1/key-rotation/events",
        "GET /api/v1/key-rotation/events/{event_id}",
        "POST /api/v1/key-rotation/retry/{event_id}",
        "POST /api/v1/key-rotation/execute",
        "POST /api/v1/key-rotation/rollback/{event_id}",
        "GET /api/v1/key-rotation/report",
        "GET /api/v1/openapi.json",
        "GET /docs",
        "GET /docs/redoc.standalone.js",
        "GET /metrics",
        "GET /api/v1/audit",
        "POST /api/v1/audit/verify",
        "GET /api/v1/whoami",
        "GET /ui",
        "GET /ui/",
        "GET /ui/{file}",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(served, expected);
    s.stop().await;
    env.finish().await;
}

/// The document states what the handlers enforce (the drift the hand-written one had).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_validation_the_server_applies() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let addr = s.server.http_addr().expect("HTTP enabled");
    let doc = raw_request(addr, "GET", "/api/v1/openapi.json", &[], b"")
        .await
        .json();
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
            .clone()
    };
    let limit = param("/api/v1/key-rotation/events", "limit");
    assert_eq!(limit["schema"]["default"], 50, "{limit}");
    assert!(limit["description"]
        .as_str()
        .unwrap()
        .contains("0 or none means 50"));
    let key_type = param("/api/v1/key-rotation/events", "key_type");
    assert_eq!(key_type["schema"]["pattern"], "^[A-Za-z0-9_.-]{1,64}$");
    let status = param("/api/v1/key-rotation/events", "status");
    let statuses = &status["schema"]["enum"];
    assert!(
        statuses.as_array().unwrap().contains(&Value::from("")),
        "empty status is accepted: {statuses}"
    );
    let to = param("/api/v1/key-rotation/report", "to");
    assert_eq!(to["required"], false, "{to}");
    let execute = &doc["components"]["schemas"]["ExecuteRequest"];
    assert_eq!(
        execute["properties"]["event_id"]["minLength"], 1,
        "{execute}"
    );
    // 0 keeps the event's batch size, as on gRPC, where proto3 cannot tell 0 from unset.
    assert_eq!(
        execute["properties"]["batch_size"]["minimum"], 0,
        "{execute}"
    );
    assert_eq!(
        execute["properties"]["batch_size"]["maximum"], 100_000,
        "{execute}"
    );
    s.stop().await;
    env.finish().await;
}

/// The page and its script: no token, the script embedded and cached long, a policy that lets
/// the page load nothing from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_loads_only_its_own_assets() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let addr = s.server.http_addr().expect("HTTP enabled");
    let page = raw_request(addr, "GET", "/docs", &[], b"").await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("http"), "no other origin: {csp}");
    let html = String::from_utf8(page.body).unwrap();
    let src = html
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script");
    assert!(src.starts_with("/docs/redoc.standalone.js"), "{html}");
    let script = raw_request(addr, "GET", src, &[], b"").await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("cache-control")
        .unwrap()
        .contains("max-age=31536000"));
    assert!(script.body.len() > 500_000, "the Redoc bundle");
    s.stop().await;
    env.finish().await;
}

/// `/docs` rendered by Debian's chromium, headless, with the network to the outside unused:
/// the key-rotation routes appear in the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium; CI runs it with --ignored"]
async fn the_docs_page_renders_the_key_rotation_routes_in_chromium() {
    let chromium = which_chromium().unwrap_or_else(|| {
        panic!("chromium is not installed: run `apt-get install -y chromium` (Debian's chromium)")
    });
    let env = TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let addr = s.server.http_addr().expect("HTTP enabled");
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/docs#tag/key-rotation");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=15000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .output()
            .expect("chromium runs")
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium failed: {stderr}");
    for rendered in [
        "/api/v1/key-rotation/status",
        "/api/v1/key-rotation/rollback/{event_id}",
        "Check key status",
        "Rollback to previous key",
        "tag/key-rotation",
        "Rekey key-rotation admin API",
    ] {
        assert!(
            dom.contains(rendered),
            "{rendered:?} not rendered; DOM: {dom:.3000}\n{stderr}"
        );
    }
    s.stop().await;
    env.finish().await;
}

fn which_chromium() -> Option<std::path::PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}
