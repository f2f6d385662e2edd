//! Rows of the SQL backends and their strict mapping to keystore records: a value the store
//! cannot interpret is reported as [`StoreError::Corrupt`] naming the key, never a panic.

use super::store::{
    KeyPolicy, KeyRecord, Purpose, StoreError, StoreResult, VersionRecord, VersionState,
};

/// `keys` columns, in the order of [`KeyRow`].
macro_rules! key_columns {
    () => {
        "name, purpose, rotation_interval_secs, grace_period_secs, primary_version, created_at"
    };
}

/// `SELECT` of [`KeyRow`]s from `keys`, followed by the given clauses.
macro_rules! select_keys {
    ($clauses:literal) => {
        concat!(
            "SELECT ",
            $crate::keystore::sql_rows::key_columns!(),
            " FROM keys ",
            $clauses
        )
    };
}

/// `SELECT` of [`VersionRow`]s from `key_versions`, followed by the given clauses.
macro_rules! select_versions {
    ($clauses:literal) => {
        concat!(
            "SELECT key_name, version, state, wrapped_material, check_value, created_at, \
             deprecated_at, retired_at FROM key_versions ",
            $clauses
        )
    };
}

pub(crate) use {key_columns, select_keys, select_versions};

/// A `keys` row, as selected by [`select_keys!`].
pub type KeyRow = (String, String, i64, i64, i64, i64);

/// A `key_versions` row, as selected by [`select_versions!`].
pub type VersionRow = (
    String,
    i64,
    String,
    Vec<u8>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

pub(crate) fn key_record(row: KeyRow) -> StoreResult<KeyRecord> {
    let (name, purpose, rotation_interval_secs, grace_period_secs, primary, created_at) = row;
    let purpose = Purpose::parse(&purpose)
        .ok_or_else(|| corrupt(&name, format!("unknown purpose {purpose:?}")))?;
    let primary_version = version_number(&name, primary)?;
    Ok(KeyRecord {
        name,
        purpose,
        policy: KeyPolicy {
            rotation_interval_secs,
            grace_period_secs,
        },
        primary_version,
        created_at,
    })
}

pub(crate) fn version_record(row: VersionRow) -> StoreResult<VersionRecord> {
    let (key_name, version, state, wrapped_material, check_value, created_at, deprecated, retired) =
        row;
    let version = version_number(&key_name, version)?;
    let state = version_state(&key_name, &state)?;
    Ok(VersionRecord {
        key_name,
        version,
        state,
        wrapped_material,
        check_value,
        created_at,
        deprecated_at: deprecated,
        retired_at: retired,
    })
}

/// A stored version number as the API's `u32`; versions start at 1.
pub(crate) fn version_number(key: &str, version: i64) -> StoreResult<u32> {
    u32::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| corrupt(key, format!("version {version} is out of range")))
}

pub(crate) fn version_state(key: &str, state: &str) -> StoreResult<VersionState> {
    VersionState::parse(state).ok_or_else(|| corrupt(key, format!("unknown state {state:?}")))
}

pub(crate) fn corrupt(key: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("key {key:?}: {what}"))
}
