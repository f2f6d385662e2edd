//! The HTTP admin API (and `GET /metrics`), plain or over TLS, until a stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::api::http::HttpState;

/// Binds the HTTP admin API's address. Startup does this before it creates anything, so a
/// port in use stops a first start before a keystore or an admin token exists.
pub(super) async fn bind_http(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr}"))
}

/// Serves the HTTP admin API on `listener` until `stop` is cancelled (in-flight requests then
/// get `grace` to finish): the address it listens on and its task.
pub(super) async fn spawn_http(
    listener: TcpListener,
    state: HttpState,
    tls: Option<&crate::tls::TlsConfig>,
    stop: CancellationToken,
    grace: Duration,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let bound = listener.local_addr()?;
    let served_at = crate::api::http::ServedAt {
        addr: bound,
        tls: tls.is_some(),
    };
    let app = crate::api::http::router(state, served_at)?
        .into_make_service_with_connect_info::<SocketAddr>();
    let served = match tls {
        None => tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        }),
        Some(tls) => {
            let rustls = crate::tls::http(tls)?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                stopper.graceful_shutdown(Some(grace));
            });
            let listener = listener.into_std()?;
            tokio::spawn(async move {
                axum_server::from_tcp(listener)
                    .acceptor(crate::tls::ClientCertAcceptor::new(rustls))
                    .handle(handle)
                    .serve(app)
                    .await
            })
        }
    };
    let task = tokio::spawn(
        async move {
            match served.await {
                Ok(Ok(())) => info!("HTTP server stopped"),
                Ok(Err(e)) => warn!(error = %e, "HTTP server stopped with an error"),
                Err(e) => warn!(error = %e, "HTTP server task failed"),
            }
        }
        .instrument(tracing::info_span!("http_server", addr = %bound)),
    );
    info!(addr = %bound, tls = tls.is_some(), "serving the HTTP admin API");
    Ok((bound, task))
}
