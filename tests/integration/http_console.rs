//! What the web console calls besides the runbook's routes — the audit trail, `whoami`, the
//! report as CSV and Markdown — and the console itself at `/ui/`: embedded, with its security
//! headers. The console's behaviour in a browser is tested by tests/console (Chromium).

use crate::http::{raw_request, run_curl};
use crate::migration::env_with_legacy_key;
use crate::support::{token_request, Backend};

fn get(path: &str, token: &str) -> String {
    format!("curl -X GET \"https://api.domain.com{path}\" -H 'Authorization: Bearer {token}'")
}

async fn audit_whoami_and_report_formats(backend: Backend) {
    let env = env_with_legacy_key(backend).await;
    let mut s = env.start().await;
    let admin = env.admin_token();
    let client = s.create_token(token_request("app", "client")).await;
    let client_id = client.info.as_ref().unwrap().token_id.clone();
    s.force_rotation("TOKEN_ENCRYPTION").await;

    // whoami: any valid token, never its secret.
    let (status, me) = run_curl(&s, &get("/api/v1/whoami", &client.token), "", &[]);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "client");
    assert_eq!(me["id"], client_id.as_str());
    assert!(!me.to_string().contains(&client.token));
    let (status, _) = run_curl(
        &s,
        &get("/api/v1/whoami", "rekey_0123456789ab_nope"),
        "",
        &[],
    );
    assert_eq!(status, 401);

    // The audit trail, filtered, paged and verified; admin tokens only.
    let (status, all) = run_curl(&s, &get("/api/v1/audit?limit=1000", &admin), "", &[]);
    assert_eq!(status, 200, "{all}");
    let records = all.as_array().unwrap();
    assert!(records.iter().any(|r| r["operation"] == "CreateToken"));
    let (_, rotations) = run_curl(
        &s,
        &get(
            "/api/v1/audit?key=TOKEN_ENCRYPTION&operation=Rotate%20(emergency)",
            &admin,
        ),
        "",
        &[],
    );
    let rotations = rotations.as_array().unwrap();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0]["key_version"], 2);
    let first = records[0]["seq"].as_i64().unwrap();
    let (_, page) = run_curl(
        &s,
        &get(&format!("/api/v1/audit?after_seq={first}&limit=1"), &admin),
        "",
        &[],
    );
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert!(page[0]["seq"].as_i64().unwrap() > first);
    let (status, bad) = run_curl(&s, &get("/api/v1/audit?from=yesterday", &admin), "", &[]);
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, _) = run_curl(&s, &get("/api/v1/audit", &client.token), "", &[]);
    assert_eq!(status, 403);
    let verify = format!(
        "curl -X POST \"https://api.domain.com/api/v1/audit/verify\" -H 'Authorization: Bearer {admin}'"
    );
    let (status, verified) = run_curl(&s, &verify, "", &[]);
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["intact"], true);
    assert!(verified["rows"].as_u64().unwrap() >= records.len() as u64);

    // The quarterly report as JSON, CSV and Markdown, the same text `rekey report` writes.
    let (status, json) = run_curl(
        &s,
        &get("/api/v1/key-rotation/report?kind=quarterly", &admin),
        "",
        &[],
    );
    assert_eq!(
        (status, json["kind"].as_str()),
        (200, Some("quarterly")),
        "{json}"
    );
    let addr = s.server.http_addr().unwrap();
    for (format, content_type, first_line) in [
        ("csv", "text/csv; charset=utf-8", "key_type,purpose,"),
        (
            "markdown",
            "text/markdown; charset=utf-8",
            "# Quarterly compliance report",
        ),
    ] {
        let target = format!("/api/v1/key-rotation/report?kind=quarterly&format={format}");
        let auth = format!("Authorization: Bearer {admin}");
        let answer = raw_request(addr, "GET", &target, &[&auth], b"").await;
        assert_eq!(answer.status, 200, "{format}");
        let header = |name: &str| {
            answer
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("content-type"), content_type);
        assert!(header("content-disposition").contains("rekey-quarterly-report."));
        let text = String::from_utf8(answer.body.clone()).unwrap();
        assert!(text.starts_with(first_line), "{format}: {text}");
        assert!(text.contains("TOKEN_ENCRYPTION"), "{format}: {text}");
    }
    let (status, bad) = run_curl(
        &s,
        &get("/api/v1/key-rotation/report?format=pdf", &admin),
        "",
        &[],
    );
    assert_eq!(status, 400, "{bad}");
    assert!(bad["error"]["message"].as_str().unwrap().contains("csv"));

    // The console: its page and files, embedded, with headers that keep it to itself.
    for path in ["/ui/", "/ui/app.js", "/ui/style.css"] {
        let answer = raw_request(addr, "GET", path, &[], b"").await;
        assert_eq!(answer.status, 200, "{path}");
        let headers: Vec<String> = answer
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        for expected in [
            "content-security-policy: default-src 'self'",
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
            "cache-control: no-store",
        ] {
            assert!(
                headers.iter().any(|h| h.starts_with(expected)),
                "{path}: no {expected:?} in {headers:?}"
            );
        }
    }
    // The redirect and a 404 keep the console's headers too.
    for (path, status) in [("/ui/nope.js", 404), ("/ui", 308)] {
        let answer = raw_request(addr, "GET", path, &[], b"").await;
        assert_eq!(answer.status, status, "{path}");
        assert!(
            answer.headers.iter().any(
                |(n, v)| n == "content-security-policy" && v.contains("frame-ancestors 'none'")
            ),
            "{path}: {:?}",
            answer.headers
        );
    }
    let (_, openapi) = run_curl(
        &s,
        "curl -X GET \"https://api.domain.com/api/v1/openapi.json\"",
        "",
        &[],
    );
    for path in [
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/whoami",
        "/ui/",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} in the document");
    }
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(audit_whoami_and_report_formats);
