//! Trace export: a `rekey serve` process configured with an OTLP endpoint sends its spans to
//! a real OTLP/gRPC receiver (started here); a caller's `traceparent` is continued on gRPC and
//! HTTP; spans name the key and version and never carry the plaintext.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use rekey::proto::EncryptRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::TcpListenerStream;

use crate::processes::Replica;
use crate::support::{Backend, TestEnv};

/// An OTLP trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const HTTP_TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const SECRET: &str = "plaintext-that-must-never-leave";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_otlp_receiver_and_continue_the_callers_trace() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let env = TestEnv::new(Backend::Sqlite).await;
    let replica = Replica::start(
        &env,
        "traced",
        &format!("telemetry.otlp_endpoint = \"http://{otlp}\""),
        &[],
    )
    .await;
    let mut request = tonic::Request::new(EncryptRequest {
        key_name: "TOKEN_ENCRYPTION".into(),
        plaintext: SECRET.as_bytes().to_vec(),
        associated_data: Vec::new(),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN}-01").parse().unwrap(),
    );
    let encrypted = replica.keys().encrypt(request).await.unwrap().into_inner();
    assert_eq!(encrypted.key_version, 1);

    // The HTTP admin API continues a trace too.
    let token = env.admin_token();
    let mut http = tokio::net::TcpStream::connect(replica.http_addr())
        .await
        .unwrap();
    http.write_all(
        format!(
            "GET /api/v1/key-rotation/status HTTP/1.1\r\nHost: rekey\r\nAuthorization: Bearer {token}\r\ntraceparent: 00-{HTTP_TRACE_ID}-{CALLER_SPAN}-01\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    http.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // A clean shutdown flushes the spans still batched.
    replica.terminate();
    let wanted = |spans: &[Span]| {
        let grpc = spans.iter().any(|s| hex::encode(&s.trace_id) == TRACE_ID);
        let http = spans
            .iter()
            .any(|s| hex::encode(&s.trace_id) == HTTP_TRACE_ID);
        grpc && http
    };
    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = receiver.spans.lock().unwrap().clone();
        if wanted(&spans) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serving.abort();
    assert!(
        wanted(&spans),
        "spans received: {:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    // The rpc span is a child of the caller's span, in the caller's trace.
    let rpc = spans
        .iter()
        .find(|s| s.name == "rekey.v1.KeyService/Encrypt")
        .expect("a span for the Encrypt rpc");
    assert_eq!(hex::encode(&rpc.trace_id), TRACE_ID);
    assert_eq!(hex::encode(&rpc.parent_span_id), CALLER_SPAN);
    assert_eq!(attribute(rpc, "rpc.grpc.status_code").as_deref(), Some("0"));
    // It names the key and the version used.
    assert_eq!(attribute(rpc, "key").as_deref(), Some("TOKEN_ENCRYPTION"));
    assert_eq!(attribute(rpc, "key_version").as_deref(), Some("1"));

    let route = spans
        .iter()
        .find(|s| hex::encode(&s.trace_id) == HTTP_TRACE_ID)
        .unwrap();
    assert_eq!(route.name, "GET /api/v1/key-rotation/status");
    assert_eq!(hex::encode(&route.parent_span_id), CALLER_SPAN);

    // Nothing exported carries the plaintext or the ciphertext.
    let exported = format!("{spans:?}");
    assert!(!exported.contains(SECRET));
    assert!(!exported.contains(&format!("{:?}", SECRET.as_bytes())));
    assert!(!exported.contains(&hex::encode(&encrypted.ciphertext)));
    env.finish().await;
}
