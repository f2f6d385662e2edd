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

fn admin_token(s: &TestServer, env: &crate::support::TestEnv) -> String {
    let _ = s;
    use secrecy::ExposeSecret;
    env.config
        .admin_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned()
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
