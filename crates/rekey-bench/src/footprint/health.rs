//! gRPC health probes of the `rekey serve` process: whether it is SERVING yet, and what one
//! probe costs once it runs (the floor under start-to-SERVING).

use std::time::{Duration, Instant};

use anyhow::Context;
use tonic::transport::Endpoint;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const KEY_SERVICE: &str = "rekey.v1.KeyService";

/// Whether the server answers health SERVING for the key service, on a new connection.
pub async fn serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_owned()) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
    else {
        return false;
    };
    let mut client = HealthClient::new(channel);
    match client
        .check(HealthCheckRequest {
            service: KEY_SERVICE.into(),
        })
        .await
    {
        Ok(reply) => reply.into_inner().status == ServingStatus::Serving as i32,
        Err(_) => false,
    }
}

/// Milliseconds of `count` sequential health checks over one connection: what one
/// readiness probe costs once the server runs.
pub async fn round_trips_on_one_connection(url: &str, count: usize) -> anyhow::Result<Vec<f64>> {
    let channel = Endpoint::from_shared(url.to_owned())?.connect().await?;
    let mut client = HealthClient::new(channel);
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        client
            .check(HealthCheckRequest {
                service: KEY_SERVICE.into(),
            })
            .await
            .context("health Check")?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok(times)
}

/// Milliseconds of `count` probes as the start-to-SERVING probe makes them (connect,
/// HTTP/2 handshake, one Check); a probe that does not answer SERVING is left out.
pub async fn round_trips_on_new_connections(url: &str, count: usize) -> Vec<f64> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        if serving(url).await {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    times
}
