//! `encrypt_many`, `decrypt_many`, `rewrap_many`: any number of items through the batch rpcs
//! (EncryptBatch, DecryptBatch, RewrapBatch). Items are split into consecutive calls within
//! the batch limits, counting bytes as the server does (the value — plaintext for Encrypt,
//! ciphertext otherwise — plus the associated data); the calls go one after the other, each
//! with the client's deadline and retries; the answer has one result per item, in input order.
//! An item too large for any batch is not sent: its result is [`Error::TooLarge`]. The same
//! rules as the Python and TypeScript clients' (docs/clients.md).

use rekey_proto::{
    decrypt_batch_result, encrypt_batch_result, rewrap_batch_result, DecryptBatchRequest,
    DecryptBatchResult, DecryptRequest, DecryptResponse, EncryptBatchRequest, EncryptBatchResult,
    EncryptRequest, EncryptResponse, ErrorReason, ItemError, RewrapBatchRequest, RewrapBatchResult,
    RewrapRequest, RewrapResponse,
};

use crate::client::Client;
use crate::error::{Error, Input};

/// How much one batch call carries; defaults are the server's default limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchLimits {
    pub(crate) max_items: usize,
    pub(crate) max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_items: 10_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Consecutive batches of item indices within `limits`, and the indices of the items too
/// large to go in any batch.
fn plan(sizes: &[usize], limits: BatchLimits) -> (Vec<Vec<usize>>, Vec<usize>) {
    let (mut batches, mut oversized) = (Vec::new(), Vec::new());
    let (mut current, mut bytes) = (Vec::new(), 0usize);
    for (i, &size) in sizes.iter().enumerate() {
        if size > limits.max_bytes {
            oversized.push(i);
            continue;
        }
        if !current.is_empty()
            && (current.len() == limits.max_items || bytes + size > limits.max_bytes)
        {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, oversized)
}

/// The typed error of one failed item: what the single rpc's status would have mapped to.
fn item_error(error: &ItemError, input: Input) -> Error {
    let code = tonic::Code::from_i32(error.code);
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Ok(reason) = ErrorReason::try_from(error.reason) {
        if reason != ErrorReason::Unspecified {
            metadata.insert(
                "rekey-error-reason",
                tonic::metadata::MetadataValue::from_static(reason.as_str_name()),
            );
        }
    }
    let status = tonic::Status::with_metadata(code, error.message.clone(), metadata);
    Error::from_status(&status, input)
}

fn too_large(index: usize, size: usize, limit: usize) -> Error {
    Error::TooLarge {
        message: format!("item {index} is {size} bytes, above the batch limit of {limit} bytes"),
    }
}

fn wrong_count(rpc: &str, got: usize, sent: usize) -> Error {
    Error::Internal {
        message: format!("{rpc} answered {got} results for {sent} items"),
    }
}

/// Runs `items` through batch calls made by `send` and puts every result in its item's place.
async fn run<Req, Resp, F, Fut>(
    limits: BatchLimits,
    items: Vec<Req>,
    size: impl Fn(&Req) -> usize,
    send: F,
) -> Result<Vec<Result<Resp, Error>>, Error>
where
    F: Fn(Vec<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Result<Resp, Error>>, Error>>,
{
    let sizes: Vec<usize> = items.iter().map(size).collect();
    let (batches, oversized) = plan(&sizes, limits);
    let mut slots: Vec<Option<Req>> = items.into_iter().map(Some).collect();
    let mut results: Vec<Option<Result<Resp, Error>>> = slots.iter().map(|_| None).collect();
    for i in oversized {
        results[i] = Some(Err(too_large(i, sizes[i], limits.max_bytes)));
    }
    for batch in batches {
        let requests = batch.iter().filter_map(|&i| slots[i].take()).collect();
        let answers = send(requests).await?;
        if answers.len() != batch.len() {
            return Err(wrong_count("the batch rpc", answers.len(), batch.len()));
        }
        for (i, answer) in batch.into_iter().zip(answers) {
            results[i] = Some(answer);
        }
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(Error::Internal {
                    message: "an item got no result".into(),
                })
            })
        })
        .collect())
}

/// A batch answer's per-item `oneof`, as the item's response or its `ItemError`.
trait BatchResult {
    type Response;
    fn into_result(self) -> Option<Result<Self::Response, ItemError>>;
}

macro_rules! batch_result {
    ($result:ty, $module:ident, $response:ty) => {
        impl BatchResult for $result {
            type Response = $response;
            fn into_result(self) -> Option<Result<$response, ItemError>> {
                self.result.map(|r| match r {
                    $module::Result::Response(ok) => Ok(ok),
                    $module::Result::Error(e) => Err(e),
                })
            }
        }
    };
}

batch_result!(EncryptBatchResult, encrypt_batch_result, EncryptResponse);
batch_result!(DecryptBatchResult, decrypt_batch_result, DecryptResponse);
batch_result!(RewrapBatchResult, rewrap_batch_result, RewrapResponse);

/// Every item's result of one answer: its response, or the typed error its `ItemError` maps
/// to (`input` says whether the items were Rekey values).
fn item_results<R: BatchResult>(results: Vec<R>, input: Input) -> Vec<Result<R::Response, Error>> {
    results
        .into_iter()
        .map(|r| match r.into_result() {
            Some(Ok(response)) => Ok(response),
            Some(Err(error)) => Err(item_error(&error, input)),
            None => Err(Error::Internal {
                message: "a batch result holds neither a response nor an error".into(),
            }),
        })
        .collect()
}

impl Client {
    /// Encrypts every item (any keys the token may use) through EncryptBatch calls within the
    /// batch limits; one result per item, in input order. An item that fails (unknown key,
    /// out of the token's scope, too large) gets its own error; the others their ciphertext.
    ///
    /// # Errors
    /// The error of a whole call (e.g. [`Error::Unauthenticated`], [`Error::Unavailable`]
    /// after the retries): then no results are returned.
    pub async fn encrypt_many(
        &self,
        items: Vec<EncryptRequest>,
    ) -> Result<Vec<Result<EncryptResponse, Error>>, Error> {
        run(
            self.batch_limits(),
            items,
            |i| i.plaintext.len() + i.associated_data.len(),
            |items| async move {
                let answer = self.encrypt_batch(EncryptBatchRequest { items }).await?;
                Ok(item_results(answer.results, Input::Other))
            },
        )
        .await
    }

    /// Decrypts every item (ciphertexts and envelope values of any keys the token may use)
    /// through DecryptBatch calls; one result per item, in input order: a tampered,
    /// retired-version or out-of-scope item gets its own typed error.
    ///
    /// # Errors
    /// As [`Client::encrypt_many`].
    pub async fn decrypt_many(
        &self,
        items: Vec<DecryptRequest>,
    ) -> Result<Vec<Result<DecryptResponse, Error>>, Error> {
        run(
            self.batch_limits(),
            items,
            |i| i.ciphertext.len() + i.associated_data.len(),
            |items| async move {
                let answer = self.decrypt_batch(DecryptBatchRequest { items }).await?;
                Ok(item_results(answer.results, Input::Value))
            },
        )
        .await
    }

    /// Rewraps every item through RewrapBatch calls; one result per item, in input order.
    ///
    /// # Errors
    /// As [`Client::encrypt_many`].
    pub async fn rewrap_many(
        &self,
        items: Vec<RewrapRequest>,
    ) -> Result<Vec<Result<RewrapResponse, Error>>, Error> {
        run(
            self.batch_limits(),
            items,
            |i| i.ciphertext.len() + i.associated_data.len(),
            |items| async move {
                let answer = self.rewrap_batch(RewrapBatchRequest { items }).await?;
                Ok(item_results(answer.results, Input::Value))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        max_items: 3,
        max_bytes: 10,
    };

    #[test]
    fn batches_are_consecutive_and_within_both_limits() {
        let (batches, oversized) = plan(&[1, 1, 1, 1, 9, 2, 11, 10, 0], LIMITS);
        // 3 items (the item limit); 1 + 9 (the byte limit); 2, as 2 + 10 would pass it;
        // 10 + 0 fits exactly; 11 bytes cannot go in any batch.
        assert_eq!(
            batches,
            vec![vec![0, 1, 2], vec![3, 4], vec![5], vec![7, 8]]
        );
        assert_eq!(oversized, vec![6]);
        let (batches, _) = plan(&[5, 5, 5], LIMITS);
        assert_eq!(
            batches,
            vec![vec![0, 1], vec![2]],
            "exactly the byte limit fits"
        );
        assert_eq!(plan(&[], LIMITS), (Vec::<Vec<usize>>::new(), Vec::new()));
    }

    #[test]
    fn twenty_five_thousand_items_make_three_calls_by_default() {
        let (batches, _) = plan(&vec![16; 25_000], BatchLimits::default());
        let lens: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![10_000, 10_000, 5_000]);
    }

    #[test]
    fn item_errors_map_as_statuses_do() {
        let retired = ItemError {
            code: tonic::Code::FailedPrecondition as i32,
            reason: ErrorReason::VersionRetired as i32,
            message: "version 1 is retired".into(),
        };
        assert!(matches!(
            item_error(&retired, Input::Value),
            Error::VersionRetired { .. }
        ));
        // No reason: the code (and the input kind) decide, as for a status.
        let bare = ItemError {
            code: tonic::Code::InvalidArgument as i32,
            reason: 0,
            message: "ciphertext is truncated".into(),
        };
        assert!(matches!(
            item_error(&bare, Input::Value),
            Error::InvalidCiphertext { .. }
        ));
        assert!(matches!(
            item_error(&bare, Input::Other),
            Error::InvalidArgument { .. }
        ));
    }
}
