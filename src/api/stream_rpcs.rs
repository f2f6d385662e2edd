//! `EncryptStream` and `DecryptStream`: stream ciphertexts (kind 0x04) made and opened by the
//! server for callers without a client library. The same bytes as the clients' streams
//! (`rekey-envelope`'s sealer and opener); one segment buffered per call whatever the
//! stream's length, and at most `QUEUED` answers waiting for a slow reader (the request side
//! is read only as fast as answers drain: backpressure, not buffering).

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use zeroize::Zeroizing;

use super::guard;
use crate::auth::{Authenticator, Operation};
use crate::crypto::{
    stream_header_len_from_prefix, validate_segment_size, DataKey, StreamHeader, StreamOpener,
    DATA_KEY_AAD, DEFAULT_SEGMENT_SIZE, TAG_LEN,
};
use crate::keystore::{KeyError, KeyManager};
use crate::proto;
use crate::rotation::RotationEngine;

/// Answers a call may have waiting for its reader before it stops reading requests.
const QUEUED: usize = 2;

pub(crate) type Answers<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// What the stream rpcs need of the service.
#[derive(Debug, Clone)]
pub(crate) struct StreamRpcs {
    pub(crate) manager: Arc<KeyManager>,
    pub(crate) engine: Arc<RotationEngine>,
    pub(crate) auth: Arc<Authenticator>,
}

impl StreamRpcs {
    pub(crate) async fn encrypt(
        &self,
        request: Request<Streaming<proto::EncryptStreamRequest>>,
    ) -> Result<Response<Answers<proto::EncryptStreamResponse>>, Status> {
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Encrypt.as_str()).await?;
        let mut requests = request.into_inner();
        let first = requests.message().await?.ok_or_else(|| {
            Status::invalid_argument(
                "EncryptStream received no message: the first one names the key (key_name)",
            )
        })?;
        guard::scope(&self.auth, &principal, Operation::Encrypt, &first.key_name).await?;
        let segment_size = match first.segment_size {
            0 => DEFAULT_SEGMENT_SIZE,
            size => size,
        };
        validate_segment_size(segment_size).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let key = self.data_key(&first.key_name).await?;
        let (header, sealer) = key
            .stream_sealer(segment_size, &first.associated_data)
            .map_err(KeyError::from)?;
        let (tx, rx) = mpsc::channel(QUEUED);
        let served = self.clone();
        let key_name = first.key_name.clone();
        tokio::spawn(async move {
            let first_answer = proto::EncryptStreamResponse {
                chunk: header,
                key_version: key.key_version(),
            };
            if tx.send(Ok(first_answer)).await.is_err() {
                return;
            }
            let mut sealing = Sealing {
                sealer,
                buf: Zeroizing::new(Vec::with_capacity(segment_size as usize + TAG_LEN)),
                tx,
            };
            let result = sealing.run(first.chunk, &mut requests).await;
            match result {
                Ok(()) => {
                    served
                        .engine
                        .audit()
                        .data_plane(&principal.id, &key_name, Operation::Encrypt.as_str())
                        .await;
                }
                Err(status) => {
                    let _ = sealing.tx.send(Err(status)).await;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    pub(crate) async fn decrypt(
        &self,
        request: Request<Streaming<proto::DecryptStreamRequest>>,
    ) -> Result<Response<Answers<proto::DecryptStreamResponse>>, Status> {
        let principal =
            guard::authenticate(&self.auth, &request, Operation::Decrypt.as_str()).await?;
        let mut requests = request.into_inner();
        let first = requests.message().await?.ok_or_else(|| {
            Status::invalid_argument("DecryptStream received no message: send the stream")
        })?;
        let associated_data = first.associated_data;
        let mut bytes = first.chunk;
        let header = read_header(&mut bytes, &mut requests).await?;
        let parsed = StreamHeader::parse(&header).map_err(KeyError::Malformed)?;
        guard::scope(
            &self.auth,
            &principal,
            Operation::Decrypt,
            parsed.key_name(),
        )
        .await?;
        let key = self.manager.embedded_data_key(&header).await?;
        let opener = key
            .stream_opener(&parsed, &associated_data)
            .map_err(KeyError::from)?;
        let (key_name, key_version) = (parsed.key_name().to_owned(), parsed.key_version());
        let (tx, rx) = mpsc::channel(QUEUED);
        let served = self.clone();
        tokio::spawn(async move {
            let mut opening = Opening {
                buf: Zeroizing::new(Vec::with_capacity(opener.segment_size() + TAG_LEN + 1)),
                opener,
                index: 0,
                tx,
                first: Some((key_name.clone(), key_version)),
            };
            match opening.run(bytes, &mut requests).await {
                Ok(()) => {
                    served
                        .engine
                        .audit()
                        .data_plane(&principal.id, &key_name, Operation::Decrypt.as_str())
                        .await;
                }
                Err(status) => {
                    let _ = opening.tx.send(Err(status)).await;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    /// A fresh data key of `key_name`'s primary version, as GenerateDataKey makes one.
    async fn data_key(&self, key_name: &str) -> Result<DataKey, Status> {
        let generated = self
            .manager
            .generate_data_key(key_name, DATA_KEY_AAD)
            .await?;
        Ok(DataKey::new(
            key_name,
            generated.key_version,
            generated.plaintext_key.expose(),
            generated.wrapped_key,
        )
        .map_err(KeyError::from)?)
    }
}

/// Reads until `bytes` holds the whole stream header; returns it and leaves the rest.
async fn read_header(
    bytes: &mut Vec<u8>,
    requests: &mut Streaming<proto::DecryptStreamRequest>,
) -> Result<Vec<u8>, Status> {
    let mut need = 5;
    loop {
        if bytes.len() >= need {
            if need == 5 {
                need = stream_header_len_from_prefix(&bytes[..5]).map_err(KeyError::Malformed)?;
                continue;
            }
            let rest = bytes.split_off(need);
            return Ok(std::mem::replace(bytes, rest));
        }
        match requests.message().await? {
            Some(more) => bytes.extend_from_slice(&more.chunk),
            None => {
                // The input ended inside the header: the parser names what is missing.
                let err = StreamHeader::parse(bytes).err().unwrap_or(
                    crate::crypto::FormatError::TooShort {
                        len: bytes.len(),
                        need,
                    },
                );
                return Err(KeyError::Malformed(err).into());
            }
        }
    }
}

struct Sealing {
    sealer: crate::crypto::StreamSealer,
    /// The segment being filled (plaintext), wiped on drop.
    buf: Zeroizing<Vec<u8>>,
    tx: mpsc::Sender<Result<proto::EncryptStreamResponse, Status>>,
}

impl Sealing {
    async fn run(
        &mut self,
        first_chunk: Vec<u8>,
        requests: &mut Streaming<proto::EncryptStreamRequest>,
    ) -> Result<(), Status> {
        let mut chunk = Zeroizing::new(first_chunk);
        loop {
            self.take(&chunk).await?;
            match requests.message().await? {
                Some(next) => chunk = Zeroizing::new(next.chunk),
                None => break,
            }
        }
        self.seal_and_send(true).await
    }

    /// Adds plaintext, sealing each full segment once more data follows it.
    async fn take(&mut self, mut data: &[u8]) -> Result<(), Status> {
        let size = self.sealer.segment_size();
        while !data.is_empty() {
            if self.buf.len() == size {
                self.seal_and_send(false).await?;
            }
            let n = (size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        Ok(())
    }

    async fn seal_and_send(&mut self, last: bool) -> Result<(), Status> {
        self.sealer
            .seal_segment(&mut self.buf, last)
            .map_err(KeyError::from)?;
        let chunk = std::mem::take(&mut *self.buf);
        self.buf.reserve(self.sealer.segment_size() + TAG_LEN);
        self.tx
            .send(Ok(proto::EncryptStreamResponse {
                chunk,
                key_version: 0,
            }))
            .await
            .map_err(|_| Status::cancelled("the caller stopped reading"))
    }
}

struct Opening {
    opener: StreamOpener,
    /// Ciphertext of the current segment and at most one byte of the next.
    buf: Zeroizing<Vec<u8>>,
    index: u64,
    tx: mpsc::Sender<Result<proto::DecryptStreamResponse, Status>>,
    /// Key name and version, sent with the first answer.
    first: Option<(String, u32)>,
}

impl Opening {
    async fn run(
        &mut self,
        first_bytes: Vec<u8>,
        requests: &mut Streaming<proto::DecryptStreamRequest>,
    ) -> Result<(), Status> {
        let full = self.opener.segment_size() + TAG_LEN;
        let mut chunk = first_bytes;
        loop {
            let mut data = &chunk[..];
            while !data.is_empty() {
                // A full segment with a byte after it is not the last one.
                if self.buf.len() == full + 1 {
                    self.open_and_send(false).await?;
                }
                let n = (full + 1 - self.buf.len()).min(data.len());
                self.buf.extend_from_slice(&data[..n]);
                data = &data[n..];
            }
            match requests.message().await? {
                Some(next) => chunk = next.chunk,
                None => break,
            }
        }
        if self.buf.len() == full + 1 {
            self.open_and_send(false).await?;
        }
        self.open_and_send(true).await
    }

    async fn open_and_send(&mut self, last: bool) -> Result<(), Status> {
        let full = self.opener.segment_size() + TAG_LEN;
        let carry = if last { None } else { self.buf.pop() };
        let segment_len = self.buf.len().min(full);
        let plain_len = self
            .opener
            .open_segment_in_place(self.index, last, &mut self.buf[..segment_len])
            .map_err(KeyError::from)?;
        self.index += 1;
        let chunk = self.buf[..plain_len].to_vec();
        self.buf.clear();
        self.buf.extend(carry);
        let (key_name, key_version) = self.first.take().unwrap_or_default();
        self.tx
            .send(Ok(proto::DecryptStreamResponse {
                chunk,
                key_name,
                key_version,
            }))
            .await
            .map_err(|_| Status::cancelled("the caller stopped reading"))
    }
}
