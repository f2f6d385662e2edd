//! The benchmark harness cannot rot: `rekey-bench --quick` runs each scenario for a few
//! seconds and must exit 0 with a JSON file holding every expected figure, each a positive
//! number. Nothing here judges the figures (a debug build on a shared machine proves
//! nothing about speed); BENCHMARKS.md does, from a release build.
//!
//! It lives in this package because only the package that owns the `rekey-bench` binary
//! can name it (`CARGO_BIN_EXE_rekey-bench`); a plain `cargo test` at the root runs it.

use std::path::Path;
use std::process::Command;

use rekey_testkit::pg;
use serde_json::Value;

/// Runs `rekey-bench --quick --scenario <scenario>` and returns its JSON results.
fn run_quick(scenario: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_rekey-bench"))
        .args(["--quick", "--scenario", scenario, "--json"])
        .arg(&json)
        .args(extra)
        .current_dir(dir.path())
        .output()
        .expect("run rekey-bench");
    assert!(
        output.status.success(),
        "rekey-bench --quick --scenario {scenario} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    read_json(&json)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("rekey-bench wrote its JSON file");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The number at `pointer` in `value`, which must be present and positive.
fn positive(value: &Value, pointer: &str) -> f64 {
    let number = value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing or not a number in {value:#}"));
    assert!(number > 0.0, "{pointer} = {number}, expected > 0");
    number
}

fn array<'a>(value: &'a Value, pointer: &str) -> &'a Vec<Value> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{pointer} missing or not an array in {value:#}"))
}

fn check_machine_and_targets(results: &Value, targets: usize) {
    positive(results, "/machine/nproc");
    assert!(results
        .pointer("/machine/cpu_model")
        .and_then(Value::as_str)
        .is_some());
    let checks = array(results, "/targets");
    assert_eq!(checks.len(), targets, "{checks:#?}");
    for check in checks {
        assert!(check["met"].is_boolean(), "{check}");
        assert!(check["measured"].is_string(), "{check}");
    }
}

#[test]
fn quick_rpc_measures_every_rpc_and_size_against_the_echo_baseline() {
    let results = run_quick("rpc", &[]);
    let cells = array(&results, "/rpc/cells");
    let mut seen = Vec::new();
    for cell in cells {
        let rpc = cell["rpc"].as_str().expect("rpc name").to_owned();
        let payload = cell["payload_bytes"].as_u64().expect("payload size");
        for side in ["rekey", "echo"] {
            for figure in ["req_per_s", "p50_us", "p99_us"] {
                positive(cell, &format!("/{side}/{figure}"));
            }
        }
        positive(cell, "/ratio_req_per_s");
        positive(cell, "/ratio_p99");
        seen.push((rpc, payload));
    }
    for rpc in ["Encrypt", "Decrypt", "GenerateDataKey", "Sign"] {
        for payload in [64, 1024, 4096] {
            assert!(
                seen.contains(&(rpc.to_owned(), payload)),
                "no {rpc} {payload} B cell in {seen:?}"
            );
        }
    }
    positive(&results, "/rpc/connections");
    positive(&results, "/rpc/in_flight_per_connection");
    // Encrypt, Decrypt and GenerateDataKey at 1 KiB.
    check_machine_and_targets(&results, 3);
}

#[test]
fn quick_aead_measures_every_size_and_names_the_openssl_baseline() {
    let results = run_quick("aead", &[]);
    let cells = array(&results, "/aead/cells");
    let sizes: Vec<u64> = cells.iter().filter_map(|c| c["bytes"].as_u64()).collect();
    assert_eq!(sizes, [64, 1024, 16 * 1024, 1024 * 1024]);
    for cell in cells {
        positive(cell, "/rekey_bytes_per_s");
    }
    // Either openssl ran (quick mode: at 1 KiB) or the output says why it could not.
    match results.pointer("/aead/openssl/unavailable") {
        Some(reason) => assert!(reason.is_string(), "{reason}"),
        None => {
            let one_kib = cells.iter().find(|c| c["bytes"] == 1024).unwrap();
            positive(one_kib, "/openssl_bytes_per_s");
            positive(one_kib, "/ratio");
        }
    }
    check_machine_and_targets(&results, 0);
}

#[test]
fn quick_envelope_measures_the_client_the_server_encrypt_and_bare_gcm() {
    let results = run_quick("envelope", &[]);
    assert_eq!(
        results.pointer("/envelope/payload_bytes"),
        Some(&1024.into())
    );
    positive(&results, "/envelope/local/calls_per_s");
    positive(&results, "/envelope/server_encrypt/req_per_s");
    positive(&results, "/envelope/server_encrypt/p99_us");
    positive(&results, "/envelope/server_encrypt/connections");
    positive(&results, "/envelope/bare_gcm/calls_per_s");
    positive(&results, "/envelope/ratio_local_vs_server");
    positive(&results, "/envelope/ratio_local_vs_bare");
    // warm() fetched the one data key; the measured windows fetched none.
    assert_eq!(
        results.pointer("/envelope/local/data_keys_fetched"),
        Some(&1.into()),
        "{results:#}"
    );
    for side in ["local", "bare_gcm"] {
        let rounds = array(&results, &format!("/envelope/{side}/rounds_calls_per_s"));
        assert_eq!(rounds.len(), 1, "quick mode runs one round: {rounds:?}");
    }
    // Envelope vs server Encrypt, envelope vs bare AES-256-GCM.
    check_machine_and_targets(&results, 2);
    let names: Vec<&str> = array(&results, "/targets")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("envelope 1 KiB vs")),
        "{names:?}"
    );
}

#[test]
fn quick_batch_measures_decrypt_batch_items_against_single_decrypts() {
    let results = run_quick("batch", &[]);
    assert_eq!(results.pointer("/batch/items_per_batch"), Some(&100.into()));
    assert_eq!(results.pointer("/batch/payload_bytes"), Some(&64.into()));
    positive(&results, "/batch/decrypt_batch/items_per_s");
    positive(&results, "/batch/decrypt_batch/p99_us");
    positive(&results, "/batch/decrypt/req_per_s");
    positive(&results, "/batch/ratio_items_vs_single");
    let rounds = array(&results, "/batch/decrypt_batch/rounds_items_per_s");
    assert_eq!(rounds.len(), 1, "quick mode runs one round: {rounds:?}");
    check_machine_and_targets(&results, 1);
}

/// Needs the `rekey` binary beside `rekey-bench` (a workspace `cargo test` builds both).
#[test]
fn quick_stream_measures_the_client_bare_gcm_the_rpc_and_peak_rss() {
    let results = run_quick("stream", &[]);
    assert_eq!(
        results.pointer("/stream/bytes_per_side"),
        Some(&(16u64 << 20).into())
    );
    for side in [
        "client_mb_s",
        "bare_gcm_mb_s",
        "sealer_alone_mb_s",
        "server_encrypt_stream_mb_s",
        "echo_encrypt_stream_mb_s",
        "client_peak_rss_mib",
        "server_peak_rss_mib",
    ] {
        let rounds = array(&results, &format!("/stream/{side}"));
        assert_eq!(rounds.len(), 1, "{side}: quick mode runs one round");
        assert!(
            rounds[0].as_f64().is_some_and(|v| v > 0.0),
            "{side}: {rounds:?}"
        );
    }
    positive(&results, "/stream/client_vs_bare_gcm");
    check_machine_and_targets(&results, 3);
}

/// Needs the `rekey` binary beside `rekey-bench` and Debian's softhsm2 (scripts/test
/// installs it).
#[test]
fn quick_root_key_times_starts_with_the_root_key_in_softhsm2_and_local() {
    let results = run_quick("root-key", &[]);
    assert_eq!(results.pointer("/root-key/versions"), Some(&100.into()));
    for side in ["token_start_ms", "local_start_ms"] {
        let rounds = array(&results, &format!("/root-key/{side}"));
        assert_eq!(rounds.len(), 3, "{side}: three starts each at least");
        assert!(
            rounds.iter().all(|v| v.as_f64().is_some_and(|v| v > 0.0)),
            "{side}: {rounds:?}"
        );
    }
    positive(&results, "/root-key/token_start_median_ms");
    // The 2 s target is checked only at 1,000 versions.
    check_machine_and_targets(&results, 0);
}

/// Needs the `rekey` binary beside `rekey-bench` and Debian's nghttp2-client (h2load;
/// scripts/test installs it).
#[test]
fn quick_external_loads_rekey_serve_with_h2load_at_both_shapes() {
    let results = run_quick("external", &[]);
    assert_eq!(
        results.pointer("/external/generator"),
        Some(&"h2load".into())
    );
    let cells = array(&results, "/external/cells");
    let mut seen = Vec::new();
    for cell in cells {
        let request = cell["request"].as_str().expect("request").to_owned();
        let shape = (
            cell["connections"].as_u64().expect("connections"),
            cell["streams_per_connection"].as_u64().expect("streams"),
        );
        positive(cell, "/req_per_s");
        positive(cell, "/server_cores");
        positive(cell, "/generator_cores");
        assert_eq!(cell["failed"].as_u64(), Some(0), "{cell}");
        seen.push((request, shape));
    }
    let mut expected = Vec::new();
    for request in ["health", "Encrypt 64 B", "Encrypt 1 KiB"] {
        for shape in [(4, 32), (64, 1)] {
            expected.push((request.to_owned(), shape));
        }
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    check_machine_and_targets(&results, 1);
}

/// Needs the `rekey` binary beside `rekey-bench`, Debian's wrk and nghttp2-client (h2load;
/// scripts/test installs both). The scenario itself fails on any wrk answer that is not 2xx
/// or any h2load failure; the JSON must say so, with real figures.
#[test]
fn quick_transit_loads_the_http_api_with_wrk_beside_grpc_encrypt() {
    let results = run_quick("transit", &[]);
    assert_eq!(
        results.pointer("/transit/generators/transit"),
        Some(&"wrk".into())
    );
    let cells = array(&results, "/transit/cells");
    let sizes: Vec<u64> = cells
        .iter()
        .filter_map(|c| c["payload_bytes"].as_u64())
        .collect();
    assert_eq!(sizes, [64, 1024]);
    for cell in cells {
        for side in ["transit", "grpc_64x1", "grpc_4x32"] {
            positive(cell, &format!("/{side}/req_per_s"));
            positive(cell, &format!("/{side}/server_cores"));
            positive(cell, &format!("/{side}/generator_cores"));
            let rounds = array(cell, &format!("/{side}/rounds_req_per_s"));
            assert_eq!(rounds.len(), 1, "{side}: quick mode runs one round");
        }
        positive(cell, "/transit/responses");
        assert_eq!(cell.pointer("/transit/non_2xx"), Some(&0.into()), "{cell}");
        assert_eq!(cell.pointer("/transit/connections"), Some(&64.into()));
        positive(cell, "/grpc_64x1/succeeded");
        assert_eq!(cell.pointer("/grpc_64x1/failed"), Some(&0.into()), "{cell}");
        assert_eq!(cell.pointer("/grpc_64x1/connections"), Some(&64.into()));
        positive(cell, "/ratio_transit_vs_grpc_64x1");
        positive(cell, "/ratio_transit_vs_grpc_4x32");
    }
    // Transit 64 B against gRPC 64 B at 64 x 1.
    check_machine_and_targets(&results, 1);
}

/// The MariaDB server of the migration scenario's MariaDB block, when the suite names one
/// (as the migration targets' suite does); otherwise the scenario's `--mysql-url` default.
const MYSQL_URL_VAR: &str = "REKEY_TEST_MYSQL_URL";

/// Needs PostgreSQL (`REKEY_TEST_DATABASE_URL`) and MariaDB (`REKEY_TEST_MYSQL_URL`, or
/// rekey-bench's default `mysql://root@127.0.0.1:3306/test`); scripts/test starts both.
#[test]
#[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
fn quick_migration_measures_the_worker_raw_sql_and_the_crypto_ceiling() {
    let url = pg::test_database_url().expect(
        "the PostgreSQL suite needs REKEY_TEST_DATABASE_URL, e.g. \
             postgres://root@127.0.0.1:5432/test",
    );
    let mut args = vec!["--database-url".to_owned(), url];
    if let Some(mysql) = std::env::var(MYSQL_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        args.extend(["--mysql-url".to_owned(), mysql]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let results = run_quick("migration", &args);

    // 1. The batch-size sweep, 64 B and 1 KiB, and the crypto ceiling of each.
    let cells = array(&results, "/migration/cells");
    let sizes: Vec<u64> = cells
        .iter()
        .filter_map(|c| c["value_bytes"].as_u64())
        .collect();
    assert_eq!(sizes, [64, 1024]);
    for cell in cells {
        positive(cell, "/batch_size");
        positive(cell, "/rekey/rows_per_s");
        positive(cell, "/rekey/event_records_per_s");
        positive(cell, "/raw_sql/rows_per_s");
        positive(cell, "/ratio");
    }
    let ceilings = array(&results, "/migration/crypto_ceiling");
    assert_eq!(ceilings.len(), 2, "{ceilings:#?}");
    for ceiling in ceilings {
        positive(ceiling, "/rows_per_s");
    }

    // 2. Rekey at each parallelism against the single-stream raw SQL, 1 KiB.
    let parallel = results
        .pointer("/migration/parallelism")
        .expect("a parallelism block");
    positive(parallel, "/raw_sql/rows_per_s");
    let sides = array(parallel, "/rekey");
    assert!(!sides.is_empty(), "no parallelism measured: {parallel:#}");
    let mut parallelisms = Vec::new();
    for side in sides {
        parallelisms.push(positive(side, "/parallelism") as u64);
        positive(side, "/rows_per_s");
        positive(side, "/event_records_per_s");
        positive(side, "/ratio");
    }
    let mut distinct = parallelisms.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), parallelisms.len(), "{parallelisms:?}");
    let best = positive(parallel, "/best/parallelism") as u64;
    assert!(
        parallelisms.contains(&best),
        "best x{best} of {parallelisms:?}"
    );
    positive(parallel, "/best/rekey_rows_per_s");
    positive(parallel, "/best/ratio");

    // 3. MariaDB: measured, not skipped for an unreachable server.
    let mariadb = results
        .pointer("/migration/mariadb")
        .expect("a MariaDB block");
    assert!(
        mariadb.get("status").is_none(),
        "the MariaDB block was not measured: {mariadb:#}"
    );
    positive(mariadb, "/rekey/rows_per_s");
    positive(mariadb, "/rekey/parallelism");
    positive(mariadb, "/raw_sql/rows_per_s");
    positive(mariadb, "/ratio");
    assert_eq!(mariadb.pointer("/value_bytes"), Some(&1024.into()));

    // 4. Envelope values: the in-process rewrap of 64 B and 1 MiB.
    let envelope = results
        .pointer("/migration/envelope_rewrap")
        .expect("an envelope rewrap block");
    let envelope_sizes = array(envelope, "/sizes");
    let plaintexts: Vec<u64> = envelope_sizes
        .iter()
        .filter_map(|s| s["plaintext_bytes"].as_u64())
        .collect();
    assert_eq!(plaintexts, [64, 1 << 20]);
    for size in envelope_sizes {
        let plaintext = positive(size, "/plaintext_bytes");
        let value = positive(size, "/value_bytes");
        assert!(value > plaintext, "{size}");
        positive(size, "/distinct_values");
        positive(size, "/rewrap_rows_per_s");
        positive(size, "/ratio_to_smallest");
    }
    positive(envelope, "/ratio");

    // The two sweep targets (one per value size), parallel vs raw SQL, MariaDB vs raw SQL,
    // envelope 1 MiB vs 64 B.
    check_machine_and_targets(&results, 5);
    let names: Vec<&str> = array(&results, "/targets")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for name in [
        "migration 64 B vs raw SQL",
        "migration 1 KiB vs raw SQL",
        "migration 1 KiB parallel vs raw SQL",
        "migration 1 KiB MariaDB vs raw SQL",
        "migration envelope 1 MiB vs 64 B",
    ] {
        assert!(names.contains(&name), "no target {name:?} in {names:?}");
    }
}
