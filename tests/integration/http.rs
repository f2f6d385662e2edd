//! The runbook's HTTP admin API: its curl commands, typed as operators would, against a real
//! server; authentication; and clear JSON errors.

use std::process::Command;

use serde_json::Value;

use crate::app_db::{AppDb, KEY};
use crate::migration::env_with_legacy_key;
use crate::support::{token_request, Backend, TestServer};

/// Runs a runbook curl command with the host swapped and the placeholders filled in; returns
/// the HTTP status and the parsed body.
pub(crate) fn run_curl(
    s: &TestServer,
    command: &str,
    token: &str,
    fill: &[(&str, &str)],
) -> (u16, Value) {
    let base = format!("http://{}", s.server.http_addr().expect("HTTP enabled"));
    let mut command = command
        .replace("https://api.domain.com", &base)
        .replace("{admin_token}", token);
    for (placeholder, value) in fill {
        command = command.replace(placeholder, value);
    }
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("{command} -s -w '\\n%{{http_code}}'"))
        .output()
        .expect("bash and curl");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, code) = text
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", text.trim()));
    let status: u16 = code
        .parse()
        .unwrap_or_else(|_| panic!("no status in {text:?}"));
    let json =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {body}"));
    (status, json)
}

fn admin_token(_: &TestServer, env: &crate::support::TestEnv) -> String {
    env.admin_token()
}

// The runbook's commands, verbatim (shared/seed/key-rotation-procedures.md).
const STATUS: &str = r#"curl -X GET "https://api.domain.com/api/v1/key-rotation/status" \
  -H "Authorization: Bearer {admin_token}""#;
const IMPACT: &str = r#"curl -X GET "https://api.domain.com/api/v1/key-rotation/impact/{key_type}" \
  -H "Authorization: Bearer {admin_token}""#;
const FORCE: &str = r#"curl -X POST "https://api.domain.com/api/v1/key-rotation/schedule" \
  -H "Authorization: Bearer {admin_token}" \
  -H "Content-Type: application/json" \
  -d '{
    "key_type": "TOKEN_ENCRYPTION",
    "force": true
  }'"#;
const SCHEDULED: &str = r#"curl -X POST "https://api.domain.com/api/v1/key-rotation/schedule" \
  -H "Authorization: Bearer {admin_token}" \
  -H "Content-Type: application/json" \
  -d '{
    "key_type": "TOKEN_ENCRYPTION",
    "force": false
  }'"#;
const EVENT: &str = r#"curl -X GET "https://api.domain.com/api/v1/key-rotation/events/{event_id}" \
  -H "Authorization: Bearer {admin_token}""#;
const REPORT: &str = r#"curl -X GET "https://api.domain.com/api/v1/key-rotation/report" \
  -H "Authorization: Bearer {admin_token}""#;
const SCHEDULE: &str = r#"curl -X GET "https://api.domain.com/api/v1/key-rotation/schedule" \
  -H "Authorization: Bearer {admin_token}""#;
const RETRY: &str = r#"curl -X POST "https://api.domain.com/api/v1/key-rotation/retry/{event_id}" \
  -H "Authorization: Bearer {admin_token}""#;
const EXECUTE: &str = r#"curl -X POST "https://api.domain.com/api/v1/key-rotation/execute" \
  -H "Authorization: Bearer {admin_token}" \
  -H "Content-Type: application/json" \
  -d '{
    "event_id": "{event_id}",
    "batch_size": 500
  }'"#;
const ROLLBACK: &str = r#"curl -X POST "https://api.domain.com/api/v1/key-rotation/rollback/{event_id}" \
  -H "Authorization: Bearer {admin_token}""#;

async fn wait_status(s: &TestServer, token: &str, event_id: &str, status: &str) -> Value {
    for _ in 0..600 {
        let (code, event) = run_curl(s, EVENT, token, &[("{event_id}", event_id)]);
        assert_eq!(code, 200, "{event}");
        if event["status"] == status {
            return event;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("event {event_id} never reached {status}");
}

async fn the_runbooks_curl_commands_work_as_written(backend: Backend) {
    let rows = 300;
    let mut env = env_with_legacy_key(backend).await;
    let db = AppDb::create(&env, backend, rows).await;
    env.config.targets.push(db.target("secrets.token"));
    let s = env.start().await;
    let token = admin_token(&s, &env);

    // Emergency rotation, step 1: assess impact.
    let (code, status) = run_curl(&s, STATUS, &token, &[]);
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["keys"].as_array().unwrap().len(), 5);
    let token_key = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_type"] == KEY)
        .unwrap();
    assert_eq!(
        (
            token_key["primary_version"].as_u64(),
            token_key["alert_level"].as_str()
        ),
        (Some(1), Some("OK"))
    );
    // Durations are whole seconds on every face.
    assert_eq!(token_key["rotation_interval_secs"], 90 * 86_400);
    let (code, impact) = run_curl(&s, IMPACT, &token, &[("{key_type}", KEY)]);
    assert_eq!(code, 200, "{impact}");
    assert_eq!(impact["versions"][0]["version"], 1);
    assert_eq!(impact["versions"][0]["records"], rows);

    // Step 2: force the rotation. Step 3: monitor it.
    let (code, scheduled) = run_curl(&s, FORCE, &token, &[]);
    assert_eq!(code, 200, "{scheduled}");
    assert_eq!(scheduled["rotated"], true);
    let event_id = scheduled["event"]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(scheduled["event"]["trigger"], "emergency");
    let done = wait_status(&s, &token, &event_id, "completed").await;
    assert_eq!(done["totals"]["migrated"], rows);
    assert_eq!(done["to_version"], 2);

    // Step 4: the post-rotation report lists the event with its counts.
    let (code, report) = run_curl(&s, REPORT, &token, &[]);
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["kind"], "post_rotation");
    let listed = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_id"] == event_id.as_str())
        .unwrap();
    assert_eq!(listed["records"]["migrated"], rows);
    assert!(listed["records_per_second"].as_f64().unwrap() > 0.0);

    // Scheduled rotation: the schedule, then a rotation that is not due yet.
    let (code, schedule) = run_curl(&s, SCHEDULE, &token, &[]);
    assert_eq!(code, 200, "{schedule}");
    assert_eq!(schedule["cron"], "0 0 2 * * *");
    assert_eq!(schedule["keys"].as_array().unwrap().len(), 5);
    let (code, not_due) = run_curl(&s, SCHEDULED, &token, &[]);
    assert_eq!(code, 200, "{not_due}");
    assert_eq!(not_due["rotated"], false);
    assert!(
        not_due["reason"].as_str().unwrap().contains("not due"),
        "{not_due}"
    );

    // Troubleshooting on a completed event: both are refused, with a reason.
    for command in [RETRY, EXECUTE] {
        let (code, error) = run_curl(&s, command, &token, &[("{event_id}", &event_id)]);
        assert_eq!(code, 409, "{error}");
        assert_eq!(error["error"]["code"], "FAILED_PRECONDITION");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is completed"),
            "{error}"
        );
    }

    // Rollback, then verify it completed.
    let (code, rolling) = run_curl(&s, ROLLBACK, &token, &[("{event_id}", &event_id)]);
    assert_eq!(code, 200, "{rolling}");
    assert_eq!(rolling["rolling_back"], true);
    let rolled = wait_status(&s, &token, &event_id, "rolled_back").await;
    assert_eq!(rolled["totals"]["migrated"], rows);
    let (_, impact) = run_curl(&s, IMPACT, &token, &[("{key_type}", KEY)]);
    assert_eq!(impact["versions"][0]["version"], 1);
    assert_eq!(impact["records_to_migrate"], 0);
    s.stop().await;
    env.finish().await;
}

async fn http_errors_are_json_with_the_right_status(backend: Backend) {
    let env = env_with_legacy_key(backend).await;
    let mut s = env.start().await;
    let token = admin_token(&s, &env);
    let get = |path: &str, auth: Option<&str>| {
        let header = auth
            .map(|t| format!(" -H 'Authorization: Bearer {t}'"))
            .unwrap_or_default();
        format!("curl -X GET \"https://api.domain.com{path}\"{header}")
    };
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (get("/api/v1/key-rotation/status", None), 401, "UNAUTHENTICATED", "authorization: Bearer"),
        (get("/api/v1/key-rotation/status", Some("rekey_0123456789ab_nope")), 401, "UNAUTHENTICATED", "not valid"),
        (get("/api/v1/key-rotation/impact/NO_SUCH_KEY", Some(&token)), 404, "NOT_FOUND", "NO_SUCH_KEY"),
        (get("/api/v1/key-rotation/impact/bad%20name", Some(&token)), 400, "INVALID_ARGUMENT", "key name"),
        (get("/api/v1/key-rotation/events/evt-missing", Some(&token)), 404, "NOT_FOUND", "evt-missing"),
        (get("/api/v1/key-rotation/report?kind=yearly", Some(&token)), 400, "INVALID_ARGUMENT", "unknown report kind"),
        (get("/api/v1/no-such-route", Some(&token)), 404, "NOT_FOUND", "openapi.json"),
        (
            format!("curl -X POST \"https://api.domain.com/api/v1/key-rotation/schedule\" -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"key_type\": '"),
            400,
            "INVALID_ARGUMENT",
            "invalid JSON",
        ),
        (
            format!("curl -X POST \"https://api.domain.com/api/v1/key-rotation/schedule\" -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"key_type\": \"TOKEN_ENCRYPTION\", \"forse\": true}}'"),
            400,
            "INVALID_ARGUMENT",
            "forse",
        ),
        (
            format!("curl -X POST \"https://api.domain.com/api/v1/key-rotation/execute\" -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{\"event_id\": \"evt-x\", \"batch_size\": 100001}}'"),
            400,
            "INVALID_ARGUMENT",
            "batch_size",
        ),
    ];
    for (command, status, code, words) in cases {
        let (got, body) = run_curl(&s, &command, "", &[]);
        assert_eq!(got, status, "{command}: {body}");
        assert_eq!(body["error"]["code"], code, "{command}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{command}: {body}"
        );
    }
    // A client token may not use admin routes.
    let client = s
        .create_token(token_request("app", "client"))
        .await
        .token
        .clone();
    let (got, body) = run_curl(&s, STATUS, &client, &[]);
    assert_eq!(got, 403, "{body}");
    assert_eq!(body["error"]["code"], "PERMISSION_DENIED");
    // A revoked admin token is refused at once.
    let admin2 = s.create_token(token_request("second admin", "admin")).await;
    let (got, _) = run_curl(&s, STATUS, &admin2.token, &[]);
    assert_eq!(got, 200);
    let id = admin2.info.as_ref().unwrap().token_id.clone();
    s.revoke_token(&id).await;
    let (got, body) = run_curl(&s, STATUS, &admin2.token, &[]);
    assert_eq!(got, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
    // The OpenAPI document needs no token and describes the routes.
    let (got, openapi) = run_curl(&s, &get("/api/v1/openapi.json", None), "", &[]);
    assert_eq!(got, 200);
    assert!(
        openapi["paths"]["/api/v1/key-rotation/status"].is_object(),
        "{openapi}"
    );
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    the_runbooks_curl_commands_work_as_written,
    http_errors_are_json_with_the_right_status,
);

/// A response read by [`raw_request`]: status, lower-cased headers and body.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One HTTP/1.1 request written byte for byte (no client library adding or fixing headers);
/// `headers` are extra header lines; the connection closes after the response.
pub async fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[&str],
    body: &[u8],
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: rekey\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body and close: not an error here.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&response)));
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = response[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let end = chunked.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&chunked[..end]).unwrap().trim(), 16)
            .unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunked[end + 2..end + 2 + size]);
        chunked = &chunked[end + 2 + size + 2..];
    }
}

/// Every error the framework itself produces (a malformed query, a method the route does not
/// have, no route, a body too large, not JSON, the wrong content type) is the documented
/// `{"error": {"code", "message"}}` with a message that names the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_errors_are_json_too() {
    let env = crate::support::TestEnv::new(Backend::Sqlite).await;
    let s = env.start().await;
    let addr = s.server.http_addr().expect("HTTP enabled");
    let token = env.admin_token();
    let auth = format!("Authorization: Bearer {token}");
    let json = "Content-Type: application/json";
    let too_big = format!(
        "{{\"key_type\": \"TOKEN_ENCRYPTION\", \"pad\": \"{}\"}}",
        "x".repeat(100 * 1024)
    );
    // (method, target, headers, body, status, code, words the message must contain)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<&'a str>,
        &'a [u8],
        u16,
        &'a str,
        &'a [&'a str],
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "/api/v1/key-rotation/events?limit=-1",
            vec![&auth],
            b"",
            400,
            "INVALID_ARGUMENT",
            &["\"limit=-1\"", "invalid digit"],
        ),
        (
            "GET",
            "/api/v1/key-rotation/events?limit=abc",
            vec![&auth],
            b"",
            400,
            "INVALID_ARGUMENT",
            &["\"limit=abc\"", "invalid digit"],
        ),
        (
            "GET",
            "/api/v1/key-rotation/events?limit=99999999999",
            vec![&auth],
            b"",
            400,
            "INVALID_ARGUMENT",
            &["limit"],
        ),
        (
            "DELETE",
            "/api/v1/key-rotation/status",
            vec![&auth],
            b"",
            405,
            "METHOD_NOT_ALLOWED",
            &["DELETE", "/api/v1/key-rotation/status", "GET"],
        ),
        (
            "GET",
            "/api/v1/key-rotation/execute",
            vec![&auth],
            b"",
            405,
            "METHOD_NOT_ALLOWED",
            &["GET", "allowed: POST"],
        ),
        (
            "GET",
            "/api/v2/nothing/here",
            vec![&auth],
            b"",
            404,
            "NOT_FOUND",
            &["/api/v2/nothing/here", "openapi.json"],
        ),
        (
            "POST",
            "/api/v1/key-rotation/schedule",
            vec![&auth, json],
            too_big.as_bytes(),
            413,
            "PAYLOAD_TOO_LARGE",
            &["65536 bytes"],
        ),
        (
            "POST",
            "/api/v1/key-rotation/schedule",
            vec![&auth, "Content-Type: text/plain"],
            br#"{"key_type": "TOKEN_ENCRYPTION"}"#,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            &["application/json"],
        ),
        (
            "POST",
            "/api/v1/key-rotation/execute",
            vec![&auth],
            br#"{"event_id": "evt-x"}"#,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            &["Content-Type"],
        ),
        (
            "POST",
            "/api/v1/key-rotation/schedule",
            vec![&auth, json],
            br#"{"key_type": "#,
            400,
            "INVALID_ARGUMENT",
            &["invalid JSON", "EOF"],
        ),
        (
            "POST",
            "/api/v1/key-rotation/schedule",
            vec![&auth, json],
            br#"{"key_type": 7}"#,
            400,
            "INVALID_ARGUMENT",
            &["invalid JSON", "key_type"],
        ),
    ];
    for (method, target, headers, body, status, code, words) in cases {
        let response = raw_request(addr, method, target, &headers, body).await;
        let what = format!("{method} {target}");
        assert_eq!(
            response.status,
            status,
            "{what}: {:?}",
            String::from_utf8_lossy(&response.body)
        );
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "{what}: {:?}",
            response.headers
        );
        let error = response.json();
        assert_eq!(error["error"]["code"], code, "{what}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        for word in words {
            assert!(
                message.contains(word),
                "{what}: {word:?} not in {message:?}"
            );
        }
        if status == 405 {
            assert!(
                response.header("allow").is_some(),
                "{what}: {:?}",
                response.headers
            );
        }
    }
    s.stop().await;
    env.finish().await;
}
