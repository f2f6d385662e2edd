//! The one step a rotation, a rollback and an event's rollback share: installing a version as
//! its key's primary inside the caller's write transaction.

use sqlx::Transaction;

use super::rows::corrupt;
use super::Backend;
use crate::clock::Millis;
use crate::keystore::store::NewVersion;
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::StoreResult;

with_sql_bounds! {
    /// Makes version `new` of key `name` its Active primary (the caller commits). The previous primary
    /// `old`, if any, becomes Deprecated. With `material`, version `new` is inserted; without, the
    /// existing version `new` is made Active again.
    pub(super) async fn install_primary<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        name: &str,
        old: Option<i64>,
        new: u32,
        material: Option<&NewVersion>,
        now: Millis,
    ) -> StoreResult<()> {
        // First, as at most one version of a key may be active at any moment.
        if let Some(old) = old {
            let deprecated = sqlx::query(
                "UPDATE key_versions SET state = 'deprecated', deprecated_at = $3 \
                 WHERE key_name = $1 AND version = $2 AND state = 'active'",
            )
            .bind(name)
            .bind(old)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if DB::rows_affected(&deprecated) == 0 {
                let problem = format!("primary version {old} is not an active row");
                return Err(corrupt(name, problem));
            }
        }
        let new = i64::from(new);
        match material {
            Some(material) => {
                sqlx::query(
                    "INSERT INTO key_versions \
                     (key_name, version, state, wrapped_material, check_value, created_at) \
                     VALUES ($1, $2, 'active', $3, $4, $5)",
                )
                .bind(name)
                .bind(new)
                .bind(material.wrapped_material.as_slice())
                .bind(material.check_value.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE key_versions SET state = 'active', deprecated_at = NULL \
                     WHERE key_name = $1 AND version = $2",
                )
                .bind(name)
                .bind(new)
                .execute(&mut **tx)
                .await?;
            }
        }
        sqlx::query("UPDATE keys SET primary_version = $2 WHERE name = $1")
            .bind(name)
            .bind(new)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
