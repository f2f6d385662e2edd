//! The RPC baseline: the same generated `rekey.v1.KeyService` trait, implemented by methods
//! that do no work, served by a tonic server built like Rekey's (same message-size limits,
//! same response layer, same services beside it, same kind of listener, TCP_NODELAY on each
//! accepted connection). Codec, framing, HTTP/2 and client are therefore identical; only
//! Rekey's own work differs.

use std::net::SocketAddr;

use rekey::proto::key_service_server::{KeyService, KeyServiceServer};
use rekey::proto::{self};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// Rekey's server adds this much to `max_plaintext_bytes` for its message-size limits
/// (`MESSAGE_OVERHEAD_BYTES` in src/server.rs).
pub const MESSAGE_OVERHEAD_BYTES: usize = 64 * 1024;

/// Answers without doing anything: Encrypt returns the plaintext as the ciphertext, Decrypt
/// the ciphertext as the plaintext, GenerateDataKey 32 zero bytes twice, Sign a constant of
/// a real signature's length (32 bytes of MAC plus the envelope header).
#[derive(Debug, Clone)]
pub struct EchoKeyService {
    signature: Vec<u8>,
}

type RpcResult<T> = Result<Response<T>, Status>;

/// The answer stream of the echoing stream rpcs.
pub type Echoed<T> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl KeyService for EchoKeyService {
    async fn encrypt(
        &self,
        request: Request<proto::EncryptRequest>,
    ) -> RpcResult<proto::EncryptResponse> {
        let mut request = request.into_inner();
        Ok(Response::new(proto::EncryptResponse {
            ciphertext: std::mem::take(&mut request.plaintext),
            key_version: 1,
        }))
    }

    async fn decrypt(
        &self,
        request: Request<proto::DecryptRequest>,
    ) -> RpcResult<proto::DecryptResponse> {
        let request = request.into_inner();
        Ok(Response::new(proto::DecryptResponse {
            plaintext: request.ciphertext,
            key_name: "TOKEN_ENCRYPTION".to_owned(),
            key_version: 1,
        }))
    }

    async fn generate_data_key(
        &self,
        _request: Request<proto::GenerateDataKeyRequest>,
    ) -> RpcResult<proto::GenerateDataKeyResponse> {
        Ok(Response::new(proto::GenerateDataKeyResponse {
            plaintext_key: vec![0; 32],
            wrapped_key: vec![0; 32],
            key_version: 1,
        }))
    }

    async fn rewrap(
        &self,
        _request: Request<proto::RewrapRequest>,
    ) -> RpcResult<proto::RewrapResponse> {
        Err(Status::unimplemented("echo baseline"))
    }

    async fn encrypt_batch(
        &self,
        request: Request<proto::EncryptBatchRequest>,
    ) -> RpcResult<proto::EncryptBatchResponse> {
        use proto::encrypt_batch_result::Result as Item;
        let results = request
            .into_inner()
            .items
            .into_iter()
            .map(|mut item| proto::EncryptBatchResult {
                result: Some(Item::Response(proto::EncryptResponse {
                    ciphertext: std::mem::take(&mut item.plaintext),
                    key_version: 1,
                })),
            })
            .collect();
        Ok(Response::new(proto::EncryptBatchResponse { results }))
    }

    async fn decrypt_batch(
        &self,
        request: Request<proto::DecryptBatchRequest>,
    ) -> RpcResult<proto::DecryptBatchResponse> {
        use proto::decrypt_batch_result::Result as Item;
        let results = request
            .into_inner()
            .items
            .into_iter()
            .map(|item| proto::DecryptBatchResult {
                result: Some(Item::Response(proto::DecryptResponse {
                    plaintext: item.ciphertext,
                    key_name: "TOKEN_ENCRYPTION".to_owned(),
                    key_version: 1,
                })),
            })
            .collect();
        Ok(Response::new(proto::DecryptBatchResponse { results }))
    }

    async fn rewrap_batch(
        &self,
        _request: Request<proto::RewrapBatchRequest>,
    ) -> RpcResult<proto::RewrapBatchResponse> {
        Err(Status::unimplemented("echo baseline"))
    }

    type EncryptStreamStream = Echoed<proto::EncryptStreamResponse>;

    /// Each plaintext chunk straight back: the transport's ceiling for EncryptStream.
    async fn encrypt_stream(
        &self,
        request: Request<tonic::Streaming<proto::EncryptStreamRequest>>,
    ) -> RpcResult<Self::EncryptStreamStream> {
        let answers = request.into_inner().map(|r| {
            r.map(|r| proto::EncryptStreamResponse {
                chunk: r.chunk,
                key_version: 1,
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }

    type DecryptStreamStream = Echoed<proto::DecryptStreamResponse>;

    /// Each ciphertext chunk straight back.
    async fn decrypt_stream(
        &self,
        request: Request<tonic::Streaming<proto::DecryptStreamRequest>>,
    ) -> RpcResult<Self::DecryptStreamStream> {
        let answers = request.into_inner().map(|r| {
            r.map(|r| proto::DecryptStreamResponse {
                chunk: r.chunk,
                key_name: String::new(),
                key_version: 1,
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }

    async fn sign(&self, _request: Request<proto::SignRequest>) -> RpcResult<proto::SignResponse> {
        Ok(Response::new(proto::SignResponse {
            signature: self.signature.clone(),
            key_version: 1,
        }))
    }

    async fn verify(
        &self,
        _request: Request<proto::VerifyRequest>,
    ) -> RpcResult<proto::VerifyResponse> {
        Err(Status::unimplemented("echo baseline"))
    }

    async fn rotate(
        &self,
        _request: Request<proto::RotateRequest>,
    ) -> RpcResult<proto::RotateResponse> {
        Err(Status::unimplemented("echo baseline"))
    }

    async fn rollback(
        &self,
        _request: Request<proto::RollbackRequest>,
    ) -> RpcResult<proto::RollbackResponse> {
        Err(Status::unimplemented("echo baseline"))
    }

    async fn get_status(
        &self,
        _request: Request<proto::GetStatusRequest>,
    ) -> RpcResult<proto::GetStatusResponse> {
        Err(Status::unimplemented("echo baseline"))
    }
}

/// A running echo server.
pub struct EchoServer {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl EchoServer {
    /// Serves on `listener` (bind it on the runtime that should serve). `max_plaintext_bytes`
    /// is Rekey's setting, so that both servers have the same message-size limits;
    /// `signature_len` is the length of a real Rekey signature.
    pub async fn start(
        listener: TcpListener,
        max_plaintext_bytes: usize,
        signature_len: usize,
    ) -> anyhow::Result<EchoServer> {
        let addr = listener.local_addr()?;
        let limit = max_plaintext_bytes + MESSAGE_OVERHEAD_BYTES;
        let key_service = KeyServiceServer::new(EchoKeyService {
            signature: vec![0x5A; signature_len],
        })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
        // The same companions as Rekey's router, so that routing is the same shape.
        let (_health_reporter, health_service) = tonic_health::server::health_reporter();
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(rekey::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(rekey::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let router = tonic::transport::Server::builder()
            .layer(tower::util::MapResponseLayer::new(
                rekey::server::oversized_is_resource_exhausted,
            ))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(key_service);
        // Served as Rekey serves: connections on threads of their own, one per core, with
        // TCP_NODELAY (src/server/grpc_threads.rs).
        let shutdown = CancellationToken::new();
        let serve_connections = move |connections: UnboundedReceiverStream<std::net::TcpStream>,
                                      stop: CancellationToken| {
            let router = router.clone();
            async move {
                router
                    .serve_with_incoming_shutdown(
                        connections.map(tokio::net::TcpStream::from_std),
                        stop.cancelled_owned(),
                    )
                    .await
                    .map_err(anyhow::Error::from)
            }
        };
        let task = tokio::spawn(rekey::server::serve_on_connection_threads(
            listener,
            rekey::server::connection_threads(),
            shutdown.clone(),
            std::time::Duration::from_secs(5),
            serve_connections,
        ));
        Ok(EchoServer {
            addr,
            shutdown,
            task,
        })
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}
