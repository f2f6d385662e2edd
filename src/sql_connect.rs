//! Connecting a database pool so that an unreachable database fails fast and says why.
//!
//! A sqlx pool retries a refused or unanswered connection until its acquire timeout (30 s)
//! and then reports only "pool timed out". So one connection is opened first, bounded by
//! [`CONNECT_TIMEOUT`]: if it fails, the error names the database's address and the cause
//! ("connection refused"); if it succeeds, the pool is opened as usual.
//!
//! Used by the keystore (`sql/`) and the migration targets (`rotation/targets/`); it imports
//! nothing from the crate.

use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::{ConnectOptions, Connection, Database, Pool};

/// How long the first connection to a database may take before startup gives up.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A database that could not be reached. The address never includes the URL's user or
/// password.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {backend} at {address}: {reason}")]
pub struct ConnectError {
    backend: &'static str,
    address: String,
    reason: String,
}

/// Opens one connection to `address` (bounded by [`CONNECT_TIMEOUT`]), then a pool of at
/// most `max_connections` over `options`.
pub(crate) async fn connect_pool<DB: Database>(
    backend: &'static str,
    address: String,
    options: <DB::Connection as Connection>::Options,
    max_connections: u32,
) -> Result<Pool<DB>, ConnectError> {
    let failed = |reason: String| ConnectError {
        backend,
        address: address.clone(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => {
            return Err(failed(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
        Ok(Err(error)) => return Err(failed(reason(&error))),
        Ok(Ok(probe)) => {
            // Only a probe: the pool opens its own connections.
            let _ = probe.close().await;
        }
    }
    PoolOptions::<DB>::new()
        .max_connections(max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|error| failed(reason(&error)))
}

/// The cause in a person's words: the operating system's message for network errors
/// ("Connection refused (os error 111)"), the server's message for a refused login; never
/// the connection URL.
fn reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(tls) => format!("TLS: {tls}"),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::PoolTimedOut => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[tokio::test]
    async fn a_refused_connection_fails_at_once_naming_the_address() {
        // Port 1 on the loopback: nothing listens there, so the kernel refuses at once.
        let options =
            sqlx::postgres::PgConnectOptions::from_str("postgres://someone:hunter2@127.0.0.1:1/db")
                .unwrap();
        let started = std::time::Instant::now();
        let err = connect_pool::<sqlx::Postgres>("PostgreSQL", "127.0.0.1:1".into(), options, 2)
            .await
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() < CONNECT_TIMEOUT, "{err}");
        assert!(
            err.starts_with("cannot connect to PostgreSQL at 127.0.0.1:1: "),
            "{err}"
        );
        assert!(err.to_lowercase().contains("refused"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
