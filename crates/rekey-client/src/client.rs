//! The connected client and the one loop every rpc goes through: token and trace context on
//! the request, a timeout per attempt and a deadline per call, retries where allowed.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

use crate::batch::BatchLimits;
use crate::builder::ClientBuilder;
use crate::error::{Error, Input};
use crate::observer::Observer;
use crate::retry::{Idempotency, RetryPolicy};

/// Largest answer the client accepts: well above any server's `max_plaintext_bytes`, so the
/// server's limit, not tonic's 4 MiB default, decides what fits.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// Timeouts and retries applied to every call unless a [`CallOptions`] overrides them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) attempt_timeout: Duration,
    pub(crate) deadline: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) batch: BatchLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            batch: BatchLimits::default(),
        }
    }
}

/// Per-call overrides; `CallOptions::default()` uses the client's settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Time the whole call may take, retries included.
    pub deadline: Option<Duration>,
    /// Time one attempt may take.
    pub attempt_timeout: Option<Duration>,
    /// A W3C `traceparent` to send, so the server's spans join the caller's trace.
    pub traceparent: Option<String>,
}

impl CallOptions {
    /// Options that only set the overall deadline.
    #[must_use]
    pub fn deadline(deadline: Duration) -> Self {
        Self {
            deadline: Some(deadline),
            ..Self::default()
        }
    }

    /// Options that only set the trace context.
    #[must_use]
    pub fn traceparent(traceparent: impl Into<String>) -> Self {
        Self {
            traceparent: Some(traceparent.into()),
            ..Self::default()
        }
    }
}

/// A Rekey client: cheap to clone (clones share one connection), `Send + Sync`.
///
/// Every rpc of KeyService, RotationService and AdminService is a method taking the request
/// message and returning the response message (`client.encrypt(EncryptRequest { .. })`), with
/// a `…_with` form taking [`CallOptions`]. [`Client::envelope`] encrypts locally.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    channel: Channel,
    bearer: Option<MetadataValue<Ascii>>,
    settings: Settings,
    observer: Option<Arc<dyn Observer>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("token", &self.inner.bearer.as_ref().map(|_| "<redacted>"))
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` (`http://host:port`, `https://…`, or `host:port`) without a token.
    ///
    /// # Errors
    /// As [`ClientBuilder::connect`].
    pub async fn connect(addr: impl Into<String>) -> Result<Self, Error> {
        ClientBuilder::new(addr).connect().await
    }

    /// Connects as the environment says (see [`ClientBuilder::from_env`]).
    ///
    /// # Errors
    /// As [`ClientBuilder::from_env`] and [`ClientBuilder::connect`].
    pub async fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.connect().await
    }

    /// Options for a client of `addr`.
    pub fn builder(addr: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(addr)
    }

    pub(crate) fn new(
        channel: Channel,
        bearer: Option<MetadataValue<Ascii>>,
        settings: Settings,
        observer: Option<Arc<dyn Observer>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                channel,
                bearer,
                settings,
                observer,
            }),
        }
    }

    /// The underlying channel, for services this crate does not wrap (e.g. gRPC health).
    #[must_use]
    pub fn channel(&self) -> Channel {
        self.inner.channel.clone()
    }

    pub(crate) fn batch_limits(&self) -> BatchLimits {
        self.inner.settings.batch
    }

    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.inner.observer.as_ref()
    }

    /// Sends `request` with `send`, retrying as `idempotency` and the policy allow.
    pub(crate) async fn call<Req, Resp, F, Fut>(
        &self,
        rpc: &'static str,
        idempotency: Idempotency,
        input: Input,
        request: Req,
        options: &CallOptions,
        send: F,
    ) -> Result<Resp, Error>
    where
        Req: Clone,
        F: Fn(Channel, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let settings = &self.inner.settings;
        let total = options.deadline.unwrap_or(settings.deadline);
        let end = Instant::now() + total;
        let traceparent =
            match &options.traceparent {
                Some(tp) => Some(MetadataValue::<Ascii>::try_from(tp.as_str()).map_err(|_| {
                    Error::Config {
                        message: "traceparent is not a valid header value".into(),
                    }
                })?),
                None => None,
            };
        let mut attempt = 1;
        loop {
            let remaining = end.saturating_duration_since(Instant::now());
            let per_attempt = options
                .attempt_timeout
                .unwrap_or(settings.attempt_timeout)
                .min(remaining);
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(per_attempt);
            if let Some(bearer) = &self.inner.bearer {
                req.metadata_mut().insert("authorization", bearer.clone());
            }
            if let Some(tp) = &traceparent {
                req.metadata_mut().insert("traceparent", tp.clone());
            }
            let outcome = tokio::time::timeout(per_attempt, send(self.channel(), req)).await;
            let error = match outcome {
                Ok(Ok(response)) => {
                    self.report(rpc, attempt, None);
                    return Ok(response.into_inner());
                }
                Ok(Err(status)) => Error::from_status(&status, input),
                Err(_) => Error::DeadlineExceeded {
                    message: format!("{rpc} gave no answer within {per_attempt:?}"),
                },
            };
            self.report(rpc, attempt, Some(&error));
            let remaining = end.saturating_duration_since(Instant::now());
            match settings
                .retry
                .next_wait(&error, idempotency, attempt, remaining)
            {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(error),
            }
            attempt += 1;
        }
    }

    fn report(&self, rpc: &'static str, attempt: u32, error: Option<&Error>) {
        if let Some(observer) = &self.inner.observer {
            observer.on_attempt(rpc, attempt, error);
        }
    }
}
