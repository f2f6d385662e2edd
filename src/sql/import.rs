//! Creating a key with versions brought in from another system (`rekey import vault-transit`),
//! in one transaction with its audit record.

use sqlx::Pool;

use super::audit::append_in;
use super::rows::key_columns;
use super::{begin_write, Backend};
use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::keystore::store::{ImportedVersion, NewKey, VersionState};
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

with_sql_bounds! {
    /// See `KeyStore::import_key`.
    pub(super) async fn import_key<DB: Backend>(
        pool: &Pool<DB>,
        key: &NewKey,
        versions: &[ImportedVersion],
        now: Millis,
        audit: &AuditEntry,
    ) -> StoreResult<bool> {
        let primary = check_versions(&key.name, versions)?;
        let mut tx = begin_write(pool).await?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING"
        ))
        .bind(key.name.as_str())
        .bind(key.purpose.as_str())
        .bind(key.policy.rotation_interval_secs)
        .bind(key.policy.grace_period_secs)
        .bind(i64::from(primary))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&inserted) == 0 {
            return Ok(false); // dropping the transaction rolls it back
        }
        for version in versions {
            let deprecated_at = (version.state != VersionState::Active).then_some(now);
            let retired_at = (version.state == VersionState::Retired).then_some(now);
            sqlx::query(
                "INSERT INTO key_versions (key_name, version, state, wrapped_material, \
                 check_value, created_at, deprecated_at, retired_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(key.name.as_str())
            .bind(i64::from(version.version))
            .bind(version.state.as_str())
            .bind(version.material.wrapped_material.as_slice())
            .bind(version.material.check_value.as_str())
            .bind(version.created_at)
            .bind(deprecated_at)
            .bind(retired_at)
            .execute(&mut *tx)
            .await?;
        }
        append_in(&mut tx, &audit.clone().key(&key.name, Some(primary)), now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The primary of `versions`, which must be ascending and hold exactly one Active version.
fn check_versions(name: &str, versions: &[ImportedVersion]) -> StoreResult<u32> {
    let invalid = |problem: &str| StoreError::Corrupt(format!("import of key {name}: {problem}"));
    if versions.windows(2).any(|w| w[0].version >= w[1].version) {
        return Err(invalid("versions are not in ascending order"));
    }
    let mut active = versions.iter().filter(|v| v.state == VersionState::Active);
    match (active.next(), active.next()) {
        (Some(primary), None) => Ok(primary.version),
        _ => Err(invalid("exactly one version must be active")),
    }
}
