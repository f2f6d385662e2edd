//! The tower layer around every gRPC request: a server span that continues the caller's W3C
//! trace (`traceparent`), and the rpc count and latency by method and status code.
//!
//! The status of a failed unary rpc is in the response headers (a trailers-only response);
//! for the rest it arrives in the trailers at the end of the body, so the body is wrapped and
//! the rpc is counted when its trailers pass — or as CANCELLED if the client goes away first.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http_body::Frame;
use opentelemetry::Value;
use tonic::body::Body;
use tonic::Code;
use tracing::{field::Empty, Instrument, Span};

use crate::telemetry::metrics::Metrics;

/// Adds [`RpcTelemetry`] to a service.
#[derive(Debug, Clone)]
pub(crate) struct RpcTelemetryLayer {
    metrics: Arc<Metrics>,
}

impl RpcTelemetryLayer {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RpcTelemetry<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> tower::Service<http::Request<B>> for RpcTelemetry<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = self.metrics.method_label(request.uri().path());
        // Debug level: only trace export enables it (see `telemetry::install`).
        let span = tracing::debug_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            rpc.grpc.status_code = Empty,
            otel.status_code = Empty,
            key = Empty,
            key_version = Empty,
        );
        crate::telemetry::trace_context::continue_trace(&span, request.headers());
        let pending = Pending {
            metrics: Arc::clone(&self.metrics),
            method,
            started,
            span: span.clone(),
            code: None,
        };
        let response = self.inner.call(request);
        Box::pin(
            async move {
                let response = response.await?;
                let (parts, body) = response.into_parts();
                if let Some(code) = parts.headers.get("grpc-status") {
                    pending.finish(Code::from_bytes(code.as_bytes()));
                    return Ok(http::Response::from_parts(parts, body));
                }
                let body = Body::new(MeteredBody {
                    inner: body,
                    pending: Some(pending),
                });
                Ok(http::Response::from_parts(parts, body))
            }
            .instrument(span),
        )
    }
}

/// An rpc whose status is not known yet; counted when finished or dropped.
struct Pending {
    metrics: Arc<Metrics>,
    method: Value,
    started: Instant,
    span: Span,
    code: Option<Code>,
}

impl Pending {
    fn finish(mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // Dropped unfinished: the client cancelled or the connection went away.
        let code = self.code.unwrap_or(Code::Cancelled);
        self.span
            .record("rpc.grpc.status_code", i64::from(i32::from(code)));
        if code != Code::Ok {
            self.span.record("otel.status_code", "ERROR");
        }
        self.metrics
            .rpc_finished(self.method.clone(), code, self.started.elapsed());
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the rpc's status when its trailers pass.
    struct MeteredBody {
        #[pin]
        inner: Body,
        pending: Option<Pending>,
    }
}

impl http_body::Body for MeteredBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame.trailers_ref().map(|trailers| {
                trailers
                    .get("grpc-status")
                    .map_or(Code::Unknown, |c| Code::from_bytes(c.as_bytes()))
            }),
            Some(Err(status)) => Some(status.code()),
            // The body ended without trailers: not a well-formed gRPC response.
            None => Some(Code::Unknown),
        };
        if let Some(code) = code {
            if let Some(pending) = this.pending.take() {
                pending.finish(code);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
