//! `GET /metrics` after a scripted scenario — encrypt (and fail to), rotate, migrate — checked
//! for values, not just names: what Prometheus, the alert rules and the dashboard will read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::EncryptRequest;
use rekey::rotation::BatchSize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::Code;

use crate::app_db::{version_of, AppDb, KEY};
use crate::migration::env_with_legacy_key;
use crate::support::Backend;

/// One scrape: every sample by metric name and its labels.
#[derive(Debug)]
pub struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    text: String,
}

/// GET /metrics over plain HTTP/1.1.
pub async fn scrape(addr: SocketAddr) -> Scrape {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: rekey\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    Scrape::parse(body)
}

impl Scrape {
    fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').expect("name and value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            samples.push((name, labels, value));
        }
        Self {
            samples,
            text: text.to_owned(),
        }
    }

    /// The samples of `name` whose labels include `labels`.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a (String, BTreeMap<String, String>, f64)> + 'a {
        self.samples.iter().filter(move |(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The one sample of `name` with exactly these labels; panics (showing the scrape) if
    /// there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in:\n{}", self.text))
    }

    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, labels)
            .find(|(_, l, _)| l.len() == labels.len())
            .map(|s| s.2)
    }

    /// The sum over every sample of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.2).sum()
    }

    /// Every metric name in this scrape.
    pub fn names(&self) -> std::collections::BTreeSet<String> {
        self.samples.iter().map(|s| s.0.clone()).collect()
    }

    /// How many series of `name` include `labels`.
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        self.matching(name, labels).count()
    }
}

/// The `rekey_…` metric names in a rules file or dashboard (recording rules are `rekey:…`).
fn metric_names_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("rekey_") {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if boundary {
            names.insert(name.clone());
        }
        rest = &rest[at + name.len()..];
    }
    names
}

pub const ENCRYPT: &str = "rekey.v1.KeyService/Encrypt";
const DECRYPT: &str = "rekey.v1.KeyService/Decrypt";

fn encrypt_request(key: &str) -> EncryptRequest {
    EncryptRequest {
        key_name: key.into(),
        plaintext: b"metrics scenario".to_vec(),
        associated_data: Vec::new(),
    }
}

async fn metrics_follow_encrypt_rotate_and_migrate(backend: Backend) {
    let rows = 600;
    let mut env = env_with_legacy_key(backend).await;
    let db = AppDb::create(&env, backend, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(100).unwrap());
    // About 2 s of migration, so that its rate can be watched while it runs.
    target.rate_limit = Some(300);
    env.config.targets.push(target);
    let mut s = env.start().await;
    let http = s.server.http_addr().expect("HTTP enabled");

    let before = scrape(http).await;
    assert_eq!(
        before.value(
            "rekey_rotations_total",
            &[
                ("key", KEY),
                ("trigger", "emergency"),
                ("outcome", "success")
            ]
        ),
        0.0,
        "counters start at zero"
    );
    assert_eq!(
        before.value(
            "rekey_migration_records_total",
            &[("key", KEY), ("outcome", "migrated")]
        ),
        0.0
    );
    assert_eq!(before.value("rekey_audit_write_failures_total", &[]), 0.0);
    assert_eq!(
        before.value(
            "rekey_key_rotation_interval_seconds",
            &[("key", "SESSION_ENCRYPTION")]
        ),
        30.0 * 86_400.0
    );
    assert_eq!(
        before.value(
            "rekey_key_grace_period_seconds",
            &[("key", "FILE_ENCRYPTION")]
        ),
        180.0 * 86_400.0
    );
    assert_eq!(
        before.count("rekey_rpc_requests_total", &[("method", ENCRYPT)]),
        0
    );

    // Three good encryptions, one of an unknown key, one garbage decryption, one without a
    // token.
    let mut last = None;
    for _ in 0..3 {
        last = Some(s.encrypt(KEY, b"metrics scenario").await);
    }
    assert_eq!(last.as_ref().unwrap().key_version, 1);
    let unknown = s.try_encrypt("NO_SUCH_KEY", b"metrics scenario").await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
    let garbage = s.try_decrypt(b"not a ciphertext").await;
    assert_eq!(garbage.unwrap_err().code(), Code::InvalidArgument);
    let anonymous = KeyServiceClient::new(s.channel.clone())
        .encrypt(encrypt_request(KEY))
        .await;
    assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);

    // A path that is not one of our rpcs: UNIMPLEMENTED, counted as method "unknown", so a
    // caller cannot create series.
    let mut raw = tonic::client::Grpc::new(s.channel.clone());
    raw.ready().await.unwrap();
    let unimplemented = raw
        .unary::<(), (), _>(
            tonic::Request::new(()),
            "/rekey.v1.KeyService/NoSuchRpc4711".parse().unwrap(),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(unimplemented.unwrap_err().code(), Code::Unimplemented);

    let event = s.force_rotation(KEY).await;
    // While the migration runs, this replica reports its rate for the event.
    let mut rate = None;
    for _ in 0..400 {
        let now = scrape(http).await;
        if let Some(r) = now.get(
            "rekey_migration_records_per_second",
            &[("key", KEY), ("event_id", event.event_id.as_str())],
        ) {
            rate = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rate = rate.expect("a records/s series while the migration runs");
    let mut exported = scrape(http).await.names();
    // The target's rate limit is 300 records/s; the rate shown is the one achieved.
    assert!(rate > 0.0 && rate <= 330.0, "records/s {rate}");
    let done = s.wait_for_event(&event.event_id, "completed").await;
    let totals = done.totals.unwrap();
    assert_eq!((totals.migrated, totals.failed), (rows as u64, 0));
    for (_, token) in db.all().await {
        assert_eq!(version_of(&token), 2);
    }

    let after = scrape(http).await;
    let rpc = |method: &str, code: &str| {
        after.value(
            "rekey_rpc_requests_total",
            &[("method", method), ("code", code)],
        )
    };
    // The anonymous Encrypt is refused as UNAUTHENTICATED, and counted as such.
    assert_eq!(rpc(ENCRYPT, "OK"), 3.0);
    assert_eq!(rpc(ENCRYPT, "NOT_FOUND"), 1.0);
    assert_eq!(rpc(ENCRYPT, "UNAUTHENTICATED"), 1.0);
    assert_eq!(rpc(DECRYPT, "INVALID_ARGUMENT"), 1.0);
    assert_eq!(rpc("unknown", "UNIMPLEMENTED"), 1.0);
    assert!(!after.text.contains("NoSuchRpc4711"));
    assert_eq!(rpc("rekey.v1.RotationService/ScheduleRotation", "OK"), 1.0);
    assert_eq!(
        after.value(
            "rekey_rpc_duration_seconds_count",
            &[("method", ENCRYPT), ("code", "OK")]
        ),
        3.0
    );
    assert_eq!(
        after.value(
            "rekey_rpc_duration_seconds_bucket",
            &[("method", ENCRYPT), ("code", "OK"), ("le", "+Inf")]
        ),
        3.0
    );
    let latency = after.value(
        "rekey_rpc_duration_seconds_sum",
        &[("method", ENCRYPT), ("code", "OK")],
    );
    assert!(latency > 0.0 && latency < 30.0, "{latency}");
    assert_eq!(
        after.value("rekey_auth_failures_total", &[("reason", "missing")]),
        1.0
    );
    assert_eq!(
        after.value(
            "rekey_rotations_total",
            &[
                ("key", KEY),
                ("trigger", "emergency"),
                ("outcome", "success")
            ]
        ),
        1.0
    );
    assert_eq!(
        after.sum("rekey_rotations_total", &[("outcome", "failure")]),
        0.0
    );
    assert_eq!(
        after.value(
            "rekey_migration_records_total",
            &[("key", KEY), ("outcome", "migrated")]
        ),
        rows as f64
    );
    assert_eq!(
        after.value(
            "rekey_migration_records_total",
            &[("key", KEY), ("outcome", "failed")]
        ),
        0.0
    );
    // The event is over: its rate series is gone.
    assert_eq!(
        after.count("rekey_migration_records_per_second", &[("key", KEY)]),
        0
    );
    // The new primary is seconds old; untouched keys are as old as the keystore.
    let rotated = after.value("rekey_key_primary_age_seconds", &[("key", KEY)]);
    let untouched = after.value(
        "rekey_key_primary_age_seconds",
        &[("key", "SESSION_ENCRYPTION")],
    );
    assert!(rotated < untouched, "{rotated} vs {untouched}");
    assert!(rotated < 120.0, "{rotated}");
    assert_eq!(
        after.value("rekey_key_rotation_interval_seconds", &[("key", KEY)]),
        90.0 * 86_400.0
    );
    assert_eq!(after.value("rekey_audit_write_failures_total", &[]), 0.0);

    // Every metric the alert rules and the dashboard query is one this server exports.
    exported.extend(after.names());
    for file in [
        "deploy/prometheus/rekey-rules.yml",
        "deploy/grafana/rekey-dashboard.json",
    ] {
        let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let queried = metric_names_in(&text);
        assert!(!queried.is_empty(), "{file} queries no rekey_ metric");
        for name in queried {
            assert!(
                exported.contains(&name),
                "{file} queries {name}, which is not exported"
            );
        }
    }

    s.stop().await;
    env.finish().await;
}

/// HTTP requests are counted and timed like rpcs: by route template (never the raw path, so
/// ids and made-up paths do not grow the series), method and status.
async fn http_requests_are_counted_by_route_and_status(backend: Backend) {
    let env = crate::support::TestEnv::new(backend).await;
    let s = env.start().await;
    let http = s.server.http_addr().expect("HTTP enabled");
    let auth = format!("Authorization: Bearer {}", env.admin_token());
    let calls: [(&str, &str, &[&str]); 6] = [
        ("GET", "/api/v1/key-rotation/status", &[&auth]),
        ("GET", "/api/v1/key-rotation/status", &[&auth]),
        ("GET", "/api/v1/key-rotation/status", &[]),
        ("GET", "/api/v1/key-rotation/events/evt-nope", &[&auth]),
        ("GET", "/no/such/route/1", &[]),
        ("DELETE", "/api/v1/key-rotation/status", &[&auth]),
    ];
    for (method, path, headers) in calls {
        crate::http::raw_request(http, method, path, headers, b"").await;
    }
    let scrape = scrape(http).await;
    let count = |route: &str, method: &str, status: &str| {
        scrape.value(
            "rekey_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(count("/api/v1/key-rotation/status", "GET", "200"), 2.0);
    assert_eq!(count("/api/v1/key-rotation/status", "GET", "401"), 1.0);
    assert_eq!(count("/api/v1/key-rotation/status", "DELETE", "405"), 1.0);
    assert_eq!(
        count("/api/v1/key-rotation/events/{event_id}", "GET", "404"),
        1.0
    );
    assert_eq!(count("unknown", "GET", "404"), 1.0);
    assert_eq!(
        scrape.count(
            "rekey_http_requests_total",
            &[("route", "/no/such/route/1")]
        ),
        0
    );
    let latency = scrape.value(
        "rekey_http_duration_seconds_count",
        &[
            ("route", "/api/v1/key-rotation/status"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(latency, 2.0);
    s.stop().await;
    env.finish().await;
}

crate::on_every_backend!(
    metrics_follow_encrypt_rotate_and_migrate,
    http_requests_are_counted_by_route_and_status,
);
