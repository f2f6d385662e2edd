//! The Rust client (crates/rekey-client) against the real server: envelope encryption and its
//! caches (call counts read from the server's /metrics), typed errors, retries.

mod batch;
mod envelope;
mod errors;
mod retries;
mod stream;

use std::sync::Mutex;

use rekey_client::{CacheEvent, Client, Error, Observer};

use rekey::server::RunningServer;

use crate::metrics::scrape;
use crate::support::TestServer;

/// An encryption key of the built-in set.
pub const KEY: &str = "TOKEN_ENCRYPTION";

/// A client of `s` with `token`, recording its attempts.
pub async fn client_with(s: &TestServer, token: &str, observer: &Recorder) -> Client {
    Client::builder(format!("http://{}", s.server.grpc_addr()))
        .token(token)
        .observer(observer.shared())
        .connect()
        .await
        .expect("client connects")
}

/// How many `method` requests the server has answered, whatever their status, per /metrics.
pub async fn served(server: &RunningServer, method: &str) -> f64 {
    let http = server.http_addr().expect("HTTP enabled");
    scrape(http).await.sum(
        "rekey_rpc_requests_total",
        &[("method", &format!("rekey.v1.KeyService/{method}"))],
    )
}

/// Records every attempt (rpc, attempt number, error) and cache event it is told of.
#[derive(Default, Clone)]
pub struct Recorder {
    inner: std::sync::Arc<RecorderInner>,
}

#[derive(Default)]
pub struct RecorderInner {
    attempts: Mutex<Vec<(&'static str, u32, Option<Error>)>>,
    cache: Mutex<Vec<CacheEvent>>,
}

impl Observer for RecorderInner {
    fn on_attempt(&self, rpc: &'static str, attempt: u32, error: Option<&Error>) {
        self.attempts
            .lock()
            .unwrap()
            .push((rpc, attempt, error.cloned()));
    }

    fn on_cache(&self, _key_name: &str, event: CacheEvent) {
        self.cache.lock().unwrap().push(event);
    }
}

impl Recorder {
    pub fn shared(&self) -> std::sync::Arc<dyn Observer> {
        self.inner.clone()
    }

    /// The attempts of `rpc` so far, in order.
    pub fn attempts(&self, rpc: &str) -> Vec<(u32, Option<Error>)> {
        self.inner
            .attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _, _)| *r == rpc)
            .map(|(_, n, e)| (*n, e.clone()))
            .collect()
    }

    /// How many times `event` was reported.
    pub fn cache_events(&self, event: CacheEvent) -> usize {
        self.inner
            .cache
            .lock()
            .unwrap()
            .iter()
            .filter(|e| **e == event)
            .count()
    }
}
