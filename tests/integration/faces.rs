//! The three admin faces agree: the same query through gRPC, HTTP and `rekey … --json` gives
//! the same answer in the same JSON shape, and the same refusals with the same words.

use serde_json::Value;
use tonic::Code;

use crate::cli::rekey;
use crate::http::run_curl;
use crate::support::{Backend, Clients, TestEnv};

const KEY: &str = "SESSION_ENCRYPTION";

fn http_get(path_and_query: &str) -> String {
    format!(
        "curl -X GET \"https://api.domain.com{path_and_query}\" -H 'Authorization: Bearer {{admin_token}}'"
    )
}

fn http_execute(body: &str) -> String {
    format!(
        "curl -X POST \"https://api.domain.com/api/v1/key-rotation/execute\" -H 'Authorization: Bearer {{admin_token}}' -H 'Content-Type: application/json' -d '{body}'"
    )
}

/// `value` without the fields that move with the clock between two calls.
fn without_clock(mut value: Value) -> Value {
    match &mut value {
        Value::Object(map) => {
            for field in ["generated_at", "primary_age_secs", "age_secs"] {
                map.remove(field);
            }
            for v in map.values_mut() {
                *v = without_clock(v.take());
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_clock(v.take());
            }
        }
        _ => {}
    }
    value
}

fn token(env: &TestEnv) -> String {
    env.admin_token()
}

async fn events_and_status_have_one_shape_on_every_face(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let token = token(&env);
    let mut grpc = Clients::new(&s.channel, &token);
    let event = grpc.force_rotation(KEY).await;
    grpc.wait_for_event(&event.event_id, "completed").await;

    let path = format!("/api/v1/key-rotation/events?key_type={KEY}");
    let (code, http_events) = run_curl(&s, &http_get(&path), &token, &[]);
    assert_eq!(code, 200, "{http_events}");
    let cli = rekey(&env, &s, &["events", "list", "--key", KEY, "--json"]).await;
    assert_eq!(cli.json(), http_events, "CLI and HTTP events differ");
    let listed = grpc.list_events(KEY, "").await.events;
    assert_eq!(listed.len(), 1);
    assert_eq!(http_events[0]["event_id"], listed[0].event_id.as_str());
    assert_eq!(http_events[0]["key_type"], listed[0].key_name.as_str());
    assert_eq!(http_events[0]["status"], "completed");
    assert_eq!(
        listed[0].status(),
        rekey::proto::RotationEventStatus::Completed
    );
    assert_eq!(http_events[0]["to_version"], listed[0].to_version);
    assert_eq!(http_events[0]["batch_size"], listed[0].batch_size);

    let (code, http_status) = run_curl(&s, &http_get("/api/v1/key-rotation/status"), &token, &[]);
    assert_eq!(code, 200, "{http_status}");
    let cli = rekey(&env, &s, &["status", "--json"]).await;
    let cli_status = cli.json();
    assert!(cli_status["generated_at"].is_string(), "{cli:?}");
    assert_eq!(
        without_clock(cli_status),
        without_clock(http_status.clone())
    );
    let status = grpc.status(KEY).await.keys;
    let http_key = http_status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_type"] == KEY)
        .unwrap();
    let policy = status[0].policy.unwrap();
    assert_eq!(
        http_key["rotation_interval_secs"],
        policy.rotation_interval.unwrap().seconds
    );
    assert_eq!(
        http_key["grace_period_secs"],
        policy.grace_period.unwrap().seconds
    );
    assert_eq!(http_key["primary_version"], status[0].primary_version);
    s.stop().await;
    env.finish().await;
}

async fn http_and_grpc_agree_on_batch_size_and_list_validation(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let token = token(&env);
    let mut grpc = Clients::new(&s.channel, &token);
    let event = grpc.force_rotation(KEY).await;
    grpc.wait_for_event(&event.event_id, "completed").await;

    // batch_size 0 keeps the event's own on both faces: the event is looked up, not refused.
    let body = r#"{"event_id": "evt-missing", "batch_size": 0}"#;
    let (code, http) = run_curl(&s, &http_execute(body), &token, &[]);
    assert_eq!(
        (code, &http["error"]["code"]),
        (404, &Value::from("NOT_FOUND")),
        "{http}"
    );
    let grpc_err = grpc.try_execute_event("evt-missing", 0).await.unwrap_err();
    assert_eq!(grpc_err.code(), Code::NotFound);
    assert_eq!(http["error"]["message"], grpc_err.message());

    // Out of range: the same refusal in the same words.
    let body = format!(
        r#"{{"event_id": "{}", "batch_size": 100001}}"#,
        event.event_id
    );
    let (code, http) = run_curl(&s, &http_execute(&body), &token, &[]);
    assert_eq!(code, 400, "{http}");
    let grpc_err = grpc
        .try_execute_event(&event.event_id, 100_001)
        .await
        .unwrap_err();
    assert_eq!(grpc_err.code(), Code::InvalidArgument);
    assert_eq!(http["error"]["message"], grpc_err.message());

    // ListEvents: a malformed key name is refused alike.
    let path = "/api/v1/key-rotation/events?key_type=bad%20name!";
    let (code, http) = run_curl(&s, &http_get(path), &token, &[]);
    assert_eq!(code, 400, "{http}");
    let grpc_err = grpc.try_list_events("bad name!", "").await.unwrap_err();
    assert_eq!(grpc_err.code(), Code::InvalidArgument);
    assert_eq!(http["error"]["message"], grpc_err.message());
    // An unknown status: a word over HTTP, a number no proto value has over gRPC.
    let (code, http) = run_curl(
        &s,
        &http_get("/api/v1/key-rotation/events?status=sleeping"),
        &token,
        &[],
    );
    assert_eq!(code, 400, "{http}");
    assert!(
        http["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sleeping"),
        "{http}"
    );
    let request = rekey::proto::ListEventsRequest {
        status: 99,
        ..Default::default()
    };
    let grpc_err = grpc.rotation.list_events(request).await.unwrap_err();
    assert_eq!(grpc_err.code(), Code::InvalidArgument);
    assert!(
        grpc_err.message().contains("status 99"),
        "{}",
        grpc_err.message()
    );
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    events_and_status_have_one_shape_on_every_face,
    http_and_grpc_agree_on_batch_size_and_list_validation,
);
