//! The data routes: encrypt, decrypt, rewrap, datakey, hmac and verify, each item through the
//! same key manager, scope check and audit count as the gRPC rpc of the same name, and each
//! with Vault's `batch_input` / `batch_results`.

use axum::extract::State;
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::wire::{
    base64_field, items, parse_body, RawBody, TransitError, TransitResult, Unsupported,
    VaultResponse,
};
use super::{Caller, KeyPath, TransitState};
use crate::auth::Operation;
use crate::crypto::format_vault_value;
use crate::keystore::manager::vault_values::TransitValue;

/// One item of a request: the top-level fields, or one entry of `batch_input`. No `Debug`:
/// it holds plaintext.
#[derive(Default, Clone, Deserialize)]
pub(super) struct Item {
    #[serde(default)]
    plaintext: Option<String>,
    #[serde(default)]
    ciphertext: Option<String>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    hmac: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    associated_data: Option<String>,
    /// Echoed back in the item's batch result, as Vault does.
    #[serde(default)]
    reference: Option<String>,
    #[serde(flatten)]
    unsupported: Unsupported,
}

/// A data route's body: one item, or `batch_input`.
#[derive(Deserialize)]
pub(super) struct Body {
    #[serde(flatten)]
    item: Item,
    #[serde(default)]
    batch_input: Option<Vec<Item>>,
    #[serde(default)]
    partial_failure_response_code: Option<u16>,
    /// hmac and verify: only `sha2-256` (Rekey's HMAC keys are HMAC-SHA256).
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    hash_algorithm: Option<String>,
    /// datakey: 128, 256 or 512.
    #[serde(default)]
    bits: Option<u32>,
    /// encrypt: Vault creates a missing key of this type; Rekey's keys are declared.
    #[serde(default, rename = "type")]
    key_type: Option<String>,
    #[serde(default)]
    convergent_encryption: Option<bool>,
}

fn required<'a>(field: &str, value: Option<&'a str>) -> Result<&'a str, TransitError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| TransitError::bad_request(format!("missing {field}")))
}

/// The operation of each route, for the scope check, the audit count and the batch metric.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    Encrypt,
    Decrypt,
    Rewrap,
    Hmac,
    Verify,
}

impl Route {
    fn operation(self) -> Operation {
        match self {
            Route::Encrypt => Operation::Encrypt,
            Route::Decrypt => Operation::Decrypt,
            Route::Rewrap => Operation::Rewrap,
            Route::Hmac => Operation::Sign,
            Route::Verify => Operation::Verify,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Route::Encrypt => "transit/encrypt",
            Route::Decrypt => "transit/decrypt",
            Route::Rewrap => "transit/rewrap",
            Route::Hmac => "transit/hmac",
            Route::Verify => "transit/verify",
        }
    }
}

/// The encrypt, decrypt, rewrap, hmac and verify routes: the body read once, each route's
/// own checks, then every item through [`one`].
pub(super) async fn handle(
    route: Route,
    State(state): State<TransitState>,
    caller: Caller,
    path: KeyPath,
    RawBody(body): RawBody,
) -> TransitResult {
    let body: Body = parse_body(&body)?;
    match route {
        Route::Encrypt => check_encrypt(&body)?,
        Route::Hmac | Route::Verify => check_algorithm(&path, &body)?,
        Route::Decrypt | Route::Rewrap => {}
    }
    run(&state, &caller, &path.name, route, body).await
}

/// What Vault's encrypt may ask that Rekey does not do: refused by name.
fn check_encrypt(body: &Body) -> Result<(), TransitError> {
    if body.convergent_encryption == Some(true) {
        return Err(TransitError::bad_request(
            "convergent_encryption is not supported: Rekey gives every value a random nonce",
        ));
    }
    if body
        .key_type
        .as_deref()
        .is_some_and(|t| t != "aes256-gcm96")
    {
        return Err(TransitError::bad_request(
            "type: Rekey does not create keys on encrypt; its keys are declared in its configuration (AES-256-GCM)",
        ));
    }
    Ok(())
}

/// Rekey's HMAC keys are HMAC-SHA256: any other algorithm is refused by name.
fn check_algorithm(path: &KeyPath, body: &Body) -> Result<(), TransitError> {
    for algorithm in [
        path.algorithm.as_deref(),
        body.algorithm.as_deref(),
        body.hash_algorithm.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        if algorithm != "sha2-256" {
            return Err(TransitError::bad_request(format!(
                "unsupported algorithm {algorithm:?}: Rekey's HMAC keys are HMAC-SHA256 (sha2-256)"
            )));
        }
    }
    Ok(())
}

/// Every item of the request through `route`, answered as Vault does: one item's data, or
/// `batch_results` with a status that says whether items failed.
async fn run(
    state: &TransitState,
    caller: &Caller,
    name: &str,
    route: Route,
    body: Body,
) -> TransitResult {
    let (items, batch) = items(body.item, body.batch_input);
    if batch {
        let bytes = items.iter().map(Item::payload_len).sum();
        state
            .limits
            .check(route.label(), items.len(), bytes)
            .map_err(TransitError::from)?;
    }
    let mut results = Vec::with_capacity(items.len());
    let (mut ok, mut failed) = (0, 0);
    for item in &items {
        let result = one(state, caller, name, route, item).await;
        match &result {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
        results.push(result);
    }
    if !batch {
        return results.pop().expect("one item").map(VaultResponse::ok);
    }
    state.metrics.batch_items(route.label(), ok, failed);
    let status = match (ok, failed) {
        (_, 0) => StatusCode::OK,
        (0, _) if results.iter().any(is_server_fault) => StatusCode::INTERNAL_SERVER_ERROR,
        (0, _) => StatusCode::BAD_REQUEST,
        _ => body
            .partial_failure_response_code
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::BAD_REQUEST),
    };
    let batch_results: Vec<Value> = results
        .into_iter()
        .zip(&items)
        .map(|(result, item)| {
            let mut entry = match result {
                Ok(Value::Object(map)) => map,
                Ok(other) => Map::from_iter([("value".to_owned(), other)]),
                Err(error) => {
                    Map::from_iter([("error".to_owned(), json!(error.message.unwrap_or_default()))])
                }
            };
            entry.insert(
                "reference".to_owned(),
                json!(item.reference.clone().unwrap_or_default()),
            );
            Value::Object(entry)
        })
        .collect();
    Ok(VaultResponse {
        status,
        data: json!({ "batch_results": batch_results }),
        warnings: Vec::new(),
    })
}

fn is_server_fault(result: &Result<Value, TransitError>) -> bool {
    matches!(result, Err(e) if e.status.is_server_error())
}

impl Item {
    /// The bytes an item carries, for the batch size limit: its base64 fields decoded (3
    /// bytes for every 4 characters), as the gRPC batch rpcs count raw bytes.
    fn payload_len(&self) -> usize {
        [
            &self.plaintext,
            &self.ciphertext,
            &self.input,
            &self.hmac,
            &self.associated_data,
        ]
        .iter()
        .map(|f| f.as_ref().map_or(0, |text| text.len() / 4 * 3))
        .sum()
    }
}

/// One item: the scope check, the key manager, the audit count; the item's `data` fields.
async fn one(
    state: &TransitState,
    caller: &Caller,
    name: &str,
    route: Route,
    item: &Item,
) -> Result<Value, TransitError> {
    item.unsupported.check()?;
    caller.scope(state, route.operation(), name).await?;
    let manager = &state.manager;
    let aad = base64_field("associated_data", item.associated_data.as_deref())?;
    let data = match route {
        Route::Encrypt => {
            let plaintext =
                base64_field(
                    "plaintext",
                    Some(item.plaintext.as_deref().ok_or_else(|| {
                        TransitError::bad_request("missing plaintext to encrypt")
                    })?),
                )?;
            let (ciphertext, version) = manager.encrypt(name, &plaintext, &aad).await?;
            json!({ "ciphertext": format_vault_value(version, &ciphertext), "key_version": version })
        }
        Route::Decrypt => {
            let text = required("ciphertext to decrypt", item.ciphertext.as_deref())?;
            let decrypted = manager.decrypt_transit(name, text.as_bytes(), &aad).await?;
            let plaintext = Zeroizing::new(B64.encode(&*decrypted.plaintext));
            json!({ "plaintext": plaintext.as_str() })
        }
        Route::Rewrap => {
            let text = required("ciphertext to rewrap", item.ciphertext.as_deref())?;
            let (ciphertext, version) = match TransitValue::parse(name, text.as_bytes())? {
                TransitValue::Rekey(bytes) => manager.rewrap(&bytes, &aad).await?,
                TransitValue::VaultSealed { version, sealed } => {
                    let opened = manager
                        .decrypt_vault_sealed(name, version, &sealed, &aad)
                        .await?;
                    manager.encrypt(name, &opened.plaintext, &aad).await?
                }
            };
            json!({ "ciphertext": format_vault_value(version, &ciphertext), "key_version": version })
        }
        Route::Hmac => {
            let input = base64_field("input", Some(required("input", item.input.as_deref())?))?;
            let (signature, version) = manager.sign(name, &input).await?;
            json!({ "hmac": format_vault_value(version, &signature) })
        }
        Route::Verify => {
            if item.signature.is_some() {
                return Err(TransitError::bad_request(
                    "signature is not supported: Rekey's signing keys are HMAC keys; send hmac",
                ));
            }
            let input = base64_field("input", Some(required("input", item.input.as_deref())?))?;
            let hmac = required("hmac", item.hmac.as_deref())?;
            let signature = match TransitValue::parse(name, hmac.as_bytes())? {
                TransitValue::Rekey(bytes) => bytes,
                TransitValue::VaultSealed { .. } => {
                    return Err(TransitError::bad_request(
                        "this HMAC was not made by Rekey: HMACs Vault made with an imported key cannot be verified (Vault's HMAC keys are not imported)",
                    ))
                }
            };
            let verified = manager.verify(&input, &signature).await?;
            json!({ "valid": verified.valid })
        }
    };
    caller.served(state, name, route.operation()).await;
    Ok(data)
}

/// `datakey/plaintext/:name` and `datakey/wrapped/:name`: a fresh data key of `bits`, wrapped
/// under the key's latest version (and, for `plaintext`, also returned as it is).
pub(super) async fn datakey(
    State(state): State<TransitState>,
    caller: Caller,
    KeyPath { name, kind, .. }: KeyPath,
    RawBody(body): RawBody,
) -> TransitResult {
    let body: Body = parse_body(&body)?;
    body.item.unsupported.check()?;
    let with_plaintext = match kind.as_deref() {
        Some("plaintext") => true,
        Some("wrapped") => false,
        other => {
            return Err(TransitError::bad_request(format!(
                "invalid type {:?}: use datakey/plaintext or datakey/wrapped",
                other.unwrap_or_default()
            )))
        }
    };
    let bits = body.bits.unwrap_or(256);
    if !matches!(bits, 128 | 256 | 512) {
        return Err(TransitError::bad_request(format!(
            "invalid bits {bits}: use 128, 256 or 512"
        )));
    }
    caller
        .scope(&state, Operation::GenerateDataKey, &name)
        .await?;
    let mut key = Zeroizing::new(vec![0u8; (bits / 8) as usize]);
    crate::crypto::rng::fill(&mut key);
    let aad = base64_field("associated_data", body.item.associated_data.as_deref())?;
    let (wrapped, version) = state.manager.encrypt(&name, &key, &aad).await?;
    caller
        .served(&state, &name, Operation::GenerateDataKey)
        .await;
    let mut data = json!({
        "ciphertext": format_vault_value(version, &wrapped),
        "key_version": version,
    });
    if with_plaintext {
        let plaintext = Zeroizing::new(B64.encode(&*key));
        data["plaintext"] = json!(plaintext.as_str());
    }
    Ok(VaultResponse::ok(data))
}
