//! The `keys` routes: read, list, create (of a key that exists), rotate and config. They need
//! an admin token, as Rekey's GetStatus and Rotate do; rotate and config go through the admin
//! core, so they are audited and start the key's migration exactly as `rekey rotate` does.

use axum::extract::{Query, State};
use axum::http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::wire::{parse_body, RawBody, TransitError, TransitResult, VaultResponse};
use super::{Caller, KeyPath, TransitState};
use crate::keystore::manager::KeySnapshot;
use crate::keystore::store::{Purpose, VersionState};
use crate::keystore::KeyError;

/// Vault's read of a key, from Rekey's record of it. `keys` lists the versions that still
/// decrypt (with their creation time in Unix seconds, as Vault shows them); `latest_version`
/// is the version encryption uses (Rekey's primary).
fn key_data(snapshot: &KeySnapshot) -> Value {
    let record = &snapshot.record;
    let encryption = record.purpose == Purpose::EncryptDecrypt;
    let versions: Map<String, Value> = snapshot
        .versions
        .iter()
        .filter(|v| v.state != VersionState::Retired)
        .map(|v| (v.version.to_string(), json!(v.created_at / 1000)))
        .collect();
    json!({
        "name": record.name,
        "type": if encryption { "aes256-gcm96" } else { "hmac" },
        "keys": versions,
        "latest_version": record.primary_version,
        "min_decryption_version": snapshot.min_usable_version(),
        "min_encryption_version": 0,
        "min_available_version": 0,
        "deletion_allowed": false,
        "derived": false,
        "exportable": false,
        "allow_plaintext_backup": false,
        "convergent_encryption": false,
        "imported_key": false,
        "supports_encryption": encryption,
        "supports_decryption": encryption,
        "supports_derivation": false,
        "supports_signing": false,
        "auto_rotate_period": record.policy.rotation_interval_secs,
    })
}

async fn snapshot(state: &TransitState, name: &str) -> Result<KeySnapshot, TransitError> {
    match state.manager.snapshots(Some(name)).await {
        Ok(mut found) => found.pop().ok_or_else(TransitError::not_found),
        // Vault answers a read of a missing key with a bare 404.
        Err(KeyError::KeyNotFound(_)) => Err(TransitError::not_found()),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn read(
    State(state): State<TransitState>,
    caller: Caller,
    KeyPath { name, .. }: KeyPath,
) -> TransitResult {
    caller.admin(&state, "GET transit/keys/:name").await?;
    Ok(VaultResponse::ok(key_data(&snapshot(&state, &name).await?)))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    list: Option<String>,
}

/// `LIST keys`, or `GET keys?list=true`, as Vault takes both.
pub(super) async fn list(
    State(state): State<TransitState>,
    method: Method,
    Query(query): Query<ListQuery>,
    caller: Caller,
) -> TransitResult {
    let listing = method.as_str() == "LIST"
        || (method == Method::GET && query.list.as_deref() == Some("true"));
    if !listing {
        return Err(TransitError::with_status(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "unsupported operation: list the keys with LIST, or GET ?list=true",
        ));
    }
    caller.admin(&state, "LIST transit/keys").await?;
    let keys: Vec<String> = state
        .manager
        .snapshots(None)
        .await?
        .into_iter()
        .map(|s| s.record.name)
        .collect();
    Ok(VaultResponse::ok(json!({ "keys": keys })))
}

/// `POST keys/:name`: Vault creates the key. Rekey's keys are declared in its configuration or
/// imported, so an existing key is answered as Vault answers one that exists (a warning),
/// and a missing one is refused with what to do.
pub(super) async fn create(
    State(state): State<TransitState>,
    caller: Caller,
    KeyPath { name, .. }: KeyPath,
) -> TransitResult {
    caller.admin(&state, "POST transit/keys/:name").await?;
    match snapshot(&state, &name).await {
        Ok(found) => Ok(VaultResponse {
            warnings: vec![format!("key {name} already existed; nothing was changed")],
            ..VaultResponse::ok(key_data(&found))
        }),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => Err(TransitError::bad_request(format!(
            "key {name:?} does not exist, and Rekey does not create keys through Transit: declare it in the [[keys]] configuration, or import it from Vault with `rekey import vault-transit`"
        ))),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct RotateBody {
    /// Rekey's own: rotate even when the key was rotated less than the minimum interval ago.
    #[serde(default)]
    force: bool,
}

pub(super) async fn rotate(
    State(state): State<TransitState>,
    caller: Caller,
    KeyPath { name, .. }: KeyPath,
    RawBody(body): RawBody,
) -> TransitResult {
    caller
        .admin(&state, "POST transit/keys/:name/rotate")
        .await?;
    let body: RotateBody = parse_body(&body)?;
    state.admin.rotate(&name, body.force, caller.id()).await?;
    Ok(VaultResponse::ok(key_data(&snapshot(&state, &name).await?)))
}

#[derive(Debug, Default, Deserialize)]
struct ConfigBody {
    #[serde(default)]
    min_decryption_version: Option<u32>,
    #[serde(default)]
    min_encryption_version: Option<u32>,
    #[serde(default)]
    deletion_allowed: Option<bool>,
    #[serde(default)]
    exportable: Option<bool>,
    #[serde(default)]
    allow_plaintext_backup: Option<bool>,
    #[serde(default)]
    auto_rotate_period: Option<Value>,
}

pub(super) async fn config(
    State(state): State<TransitState>,
    caller: Caller,
    KeyPath { name, .. }: KeyPath,
    RawBody(body): RawBody,
) -> TransitResult {
    caller
        .admin(&state, "POST transit/keys/:name/config")
        .await?;
    let body: ConfigBody = parse_body(&body)?;
    for (field, on) in [
        ("deletion_allowed", body.deletion_allowed),
        ("exportable", body.exportable),
        ("allow_plaintext_backup", body.allow_plaintext_backup),
    ] {
        if on == Some(true) {
            return Err(TransitError::bad_request(format!(
                "{field} is not supported: Rekey never deletes or exports key material"
            )));
        }
    }
    if body.min_encryption_version.is_some_and(|v| v != 0) {
        return Err(TransitError::bad_request(
            "min_encryption_version is not supported: Rekey always encrypts with the key's latest version",
        ));
    }
    if body.auto_rotate_period.is_some() {
        return Err(TransitError::bad_request(
            "auto_rotate_period is set by the key's rotation_interval_days in Rekey's [[keys]] configuration",
        ));
    }
    let mut warnings = Vec::new();
    if let Some(min) = body.min_decryption_version {
        let retired = state
            .admin
            .retire_versions_below(&name, min, caller.id())
            .await?;
        if !retired.is_empty() {
            warnings.push(format!(
                "retired versions {retired:?} of key {name}: Rekey refuses them from now on and never brings them back"
            ));
        }
    }
    Ok(VaultResponse {
        warnings,
        ..VaultResponse::ok(key_data(&snapshot(&state, &name).await?))
    })
}
