//! Behaviour suite: real servers on loopback, the generated client, SQLite always and
//! PostgreSQL when REKEY_TEST_DATABASE_URL is set. One binary so it links once.

mod support;

mod app_db;
mod audit_atomic;
mod audit_suite;
mod auth;
mod bad_input;
mod cli;
mod cli_data;
mod client;
mod envelope_values;
mod faces;
mod failover;
mod hsm;
mod http;
mod http_console;
mod http_docs;
mod keys;
mod metrics;
mod migration;
mod otlp;
pub mod processes;
mod replicas;
mod root_rotation;
mod rotation;
mod secrets;
mod startup;
mod store_ctx;
mod store_suite;
mod stream_rpcs;
mod supervision;
mod tls;
mod transit;
