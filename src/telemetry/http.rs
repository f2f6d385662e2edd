//! HTTP request metrics: the count and latency of the HTTP API's requests by route template,
//! method and status, the HTTP counterpart of `rekey_rpc_requests` and `rekey_rpc_duration`.

use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;

/// The method label of a method outside the standard set (a client may send any token).
const OTHER_METHOD: &str = "other";

#[derive(Debug)]
pub(crate) struct HttpMetrics {
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

impl HttpMetrics {
    pub(crate) fn new(meter: &Meter, buckets: &[f64]) -> Self {
        Self {
            requests: meter
                .u64_counter("rekey_http_requests")
                .with_description("HTTP requests by route, method and status")
                .build(),
            duration: meter
                .f64_histogram("rekey_http_duration")
                .with_unit("s")
                .with_description(
                    "HTTP request latency, from the request headers to the response headers",
                )
                .with_boundaries(buckets.to_vec())
                .build(),
        }
    }

    /// One finished request. `route` is the matched route template (or `unknown`), a bounded
    /// set chosen by the server, never the raw path.
    pub(crate) fn finished(
        &self,
        route: &str,
        method: &http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = [
            KeyValue::new("route", route.to_owned()),
            KeyValue::new("method", method_label(method)),
            KeyValue::new("status", i64::from(status)),
        ];
        self.requests.add(1, &labels);
        self.duration.record(elapsed.as_secs_f64(), &labels);
    }
}

fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unusual_methods_share_one_label() {
        let made_up = http::Method::from_bytes(b"FROBNICATE").unwrap();
        assert_eq!(super::method_label(&made_up), "other");
        assert_eq!(super::method_label(&http::Method::POST), "POST");
    }
}
