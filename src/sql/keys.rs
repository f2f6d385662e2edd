//! [`KeyStore`] for the SQL backends: keys, their versions and the root-key check value. A
//! rotation or rollback writes its rotation event in the same transaction, through
//! `sql/events.rs`.

use async_trait::async_trait;
use sqlx::{Pool, Transaction};

use super::audit::append_in;
use super::event_inserts::{insert_event, settle_open_events};
use super::primary::install_primary;
use super::rows::{
    corrupt, key_columns, key_record, select_keys, select_versions, version_number, version_record,
    version_state, KeyRow, VersionRow,
};
use super::{begin_write, Backend, SqlStore};
use crate::audit::AuditEntry;
use crate::clock::Millis;
use crate::keystore::store::{
    EventDraft, ImportedVersion, KeyPolicy, KeyRecord, KeyStore, MakeVersion, NewKey, NewVersion,
    RolledBack, RotateGuard, Rotated, VersionRecord, VersionState,
};
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

const ROOT_CHECK_VALUE: &str = "root_check_value";

/// `audit` naming what the change it records did: the key, the version and the event.
fn audited(audit: &AuditEntry, key: &str, version: u32, event: Option<&EventDraft>) -> AuditEntry {
    let entry = audit.clone().key(key, Some(version));
    match event {
        Some(event) => entry.event(event.id.as_str()),
        None => entry,
    }
}

with_sql_bounds! {
    /// Begins a write transaction holding key `name`; returns it with the key's primary version.
    async fn begin_locked<DB: Backend>(
        pool: &Pool<DB>,
        name: &str,
    ) -> StoreResult<(Transaction<'static, DB>, i64)> {
        let mut tx = begin_write(pool).await?;
        let primary = sqlx::query_scalar(DB::LOCK_KEY)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::KeyNotFound(name.to_owned()))?;
        Ok((tx, primary))
    }
}

with_sql_bounds! {
    #[async_trait]
    impl<DB: Backend> KeyStore for SqlStore<DB> {
        fn backend(&self) -> &'static str {
            DB::BACKEND
        }

        async fn root_check_value(&self, value: &str) -> StoreResult<String> {
            sqlx::query(
                "INSERT INTO keystore_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(ROOT_CHECK_VALUE)
            .bind(value)
            .execute(&self.pool)
            .await?;
            let stored = sqlx::query_scalar("SELECT value FROM keystore_meta WHERE name = $1")
                .bind(ROOT_CHECK_VALUE)
                .fetch_one(&self.pool)
                .await?;
            Ok(stored)
        }

        async fn create_key(&self, key: &NewKey, first: NewVersion, now: Millis) -> StoreResult<bool> {
            let mut tx = begin_write(&self.pool).await?;
            let inserted = sqlx::query(concat!(
                "INSERT INTO keys (",
                key_columns!(),
                ") VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (name) DO NOTHING"
            ))
            .bind(key.name.as_str())
            .bind(key.purpose.as_str())
            .bind(key.policy.rotation_interval_secs)
            .bind(key.policy.grace_period_secs)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if DB::rows_affected(&inserted) == 0 {
                return Ok(false); // dropping the transaction rolls it back
            }
            install_primary(&mut tx, &key.name, None, 1, Some(&first), now).await?;
            tx.commit().await?;
            tracing::debug!(backend = DB::BACKEND, key = %key.name, "created key with version 1");
            Ok(true)
        }

        async fn import_key(
            &self,
            key: &NewKey,
            versions: &[ImportedVersion],
            now: Millis,
            audit: &AuditEntry,
        ) -> StoreResult<bool> {
            super::import::import_key(&self.pool, key, versions, now, audit).await
        }

        async fn update_policy(&self, name: &str, policy: KeyPolicy) -> StoreResult<()> {
            let updated = sqlx::query(
                "UPDATE keys SET rotation_interval_secs = $2, grace_period_secs = $3 WHERE name = $1",
            )
            .bind(name)
            .bind(policy.rotation_interval_secs)
            .bind(policy.grace_period_secs)
            .execute(&self.pool)
            .await?;
            if DB::rows_affected(&updated) == 0 {
                return Err(StoreError::KeyNotFound(name.to_owned()));
            }
            Ok(())
        }

        async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
            let rows: Vec<KeyRow> = sqlx::query_as(select_keys!("ORDER BY name"))
                .fetch_all(&self.pool)
                .await?;
            rows.into_iter().map(key_record).collect()
        }

        async fn get_key(&self, name: &str) -> StoreResult<Option<KeyRecord>> {
            let row: Option<KeyRow> = sqlx::query_as(select_keys!("WHERE name = $1"))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
            row.map(key_record).transpose()
        }

        async fn list_versions(&self, name: &str) -> StoreResult<Vec<VersionRecord>> {
            let rows: Vec<VersionRow> =
                sqlx::query_as(select_versions!("WHERE key_name = $1 ORDER BY version"))
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?;
            rows.into_iter().map(version_record).collect()
        }

        async fn get_version(&self, name: &str, version: u32) -> StoreResult<Option<VersionRecord>> {
            let row: Option<VersionRow> =
                sqlx::query_as(select_versions!("WHERE key_name = $1 AND version = $2"))
                    .bind(name)
                    .bind(i64::from(version))
                    .fetch_optional(&self.pool)
                    .await?;
            row.map(version_record).transpose()
        }

        async fn rotate(
            &self,
            name: &str,
            now: Millis,
            guard: RotateGuard,
            make: MakeVersion<'_>,
            event: Option<&EventDraft>,
            audit: &AuditEntry,
        ) -> StoreResult<Rotated> {
            let (mut tx, primary) = begin_locked(&self.pool, name).await?;
            let previous_version = version_number(name, primary)?;
            if guard != RotateGuard::Always {
                let created_at: i64 = sqlx::query_scalar(
                    "SELECT created_at FROM key_versions WHERE key_name = $1 AND version = $2",
                )
                .bind(name)
                .bind(primary)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| corrupt(name, format!("primary version {primary} has no row")))?;
                match guard {
                    RotateGuard::NotRotatedSince(after)
                        if previous_version > 1 && created_at > after =>
                    {
                        return Err(StoreError::RotatedRecently {
                            key: name.to_owned(),
                            version: previous_version,
                            rotated_at: created_at,
                        });
                    }
                    RotateGuard::DueBy(by) if created_at > by => {
                        return Err(StoreError::NotDue {
                            key: name.to_owned(),
                            version: previous_version,
                            created_at,
                        });
                    }
                    _ => {}
                }
            }
            if event.is_some() {
                settle_open_events(&mut tx, name, guard == RotateGuard::Always, now).await?;
            }
            let latest: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM key_versions WHERE key_name = $1",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
            let new_version = version_number(name, latest.saturating_add(1))?;
            let material = make(new_version).await?;

            install_primary(
                &mut tx,
                name,
                Some(primary),
                new_version,
                Some(&material),
                now,
            )
            .await?;
            if let Some(event) = event {
                insert_event(&mut tx, name, event, previous_version, new_version, now).await?;
            }
            append_in(&mut tx, &audited(audit, name, new_version, event), now).await?;
            tx.commit().await?;
            tracing::debug!(
                backend = DB::BACKEND,
                key = name,
                previous_version,
                new_version,
                "rotated key"
            );
            Ok(Rotated {
                previous_version,
                new_version,
            })
        }

        async fn rollback(
            &self,
            name: &str,
            now: Millis,
            event: Option<&EventDraft>,
            audit: &AuditEntry,
        ) -> StoreResult<RolledBack> {
            let (mut tx, primary) = begin_locked(&self.pool, name).await?;
            let rolled_back_version = version_number(name, primary)?;
            let previous: Option<VersionRow> = sqlx::query_as(select_versions!(
                "WHERE key_name = $1 AND version < $2 ORDER BY version DESC LIMIT 1"
            ))
            .bind(name)
            .bind(primary)
            .fetch_optional(&mut *tx)
            .await?;
            let previous = previous.map(version_record).transpose()?.ok_or_else(|| {
                StoreError::NoPreviousVersion {
                    key: name.to_owned(),
                    primary: rolled_back_version,
                }
            })?;
            if previous.state == VersionState::Retired {
                return Err(StoreError::PreviousVersionRetired {
                    key: name.to_owned(),
                    version: previous.version,
                });
            }
            let primary_version = previous.version;

            install_primary(&mut tx, name, Some(primary), primary_version, None, now).await?;
            if let Some(event) = event {
                settle_open_events(&mut tx, name, true, now).await?;
                insert_event(
                    &mut tx,
                    name,
                    event,
                    rolled_back_version,
                    primary_version,
                    now,
                )
                .await?;
            }
            append_in(&mut tx, &audited(audit, name, primary_version, event), now).await?;
            tx.commit().await?;
            tracing::debug!(
                backend = DB::BACKEND,
                key = name,
                primary_version,
                rolled_back_version,
                "rolled back key"
            );
            Ok(RolledBack {
                primary_version,
                rolled_back_version,
            })
        }

        async fn replace_wrapped_material(
            &self,
            name: &str,
            version: u32,
            wrapped_material: &[u8],
        ) -> StoreResult<()> {
            let updated = sqlx::query(
                "UPDATE key_versions SET wrapped_material = $3 WHERE key_name = $1 AND version = $2",
            )
            .bind(name)
            .bind(i64::from(version))
            .bind(wrapped_material)
            .execute(&self.pool)
            .await?;
            if DB::rows_affected(&updated) == 0 {
                return Err(StoreError::VersionNotFound {
                    key: name.to_owned(),
                    version,
                });
            }
            Ok(())
        }

        async fn replace_root_check_value(&self, old: &str, new: &str) -> StoreResult<bool> {
            let updated =
                sqlx::query("UPDATE keystore_meta SET value = $3 WHERE name = $1 AND value = $2")
                    .bind(ROOT_CHECK_VALUE)
                    .bind(old)
                    .bind(new)
                    .execute(&self.pool)
                    .await?;
            Ok(DB::rows_affected(&updated) == 1)
        }

        async fn retire_version(
            &self,
            name: &str,
            version: u32,
            now: Millis,
            audit: &AuditEntry,
        ) -> StoreResult<bool> {
            let (mut tx, primary) = begin_locked(&self.pool, name).await?;
            if primary == i64::from(version) {
                return Ok(false);
            }
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM key_versions WHERE key_name = $1 AND version = $2",
            )
            .bind(name)
            .bind(i64::from(version))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(state) = state else {
                return Err(StoreError::VersionNotFound {
                    key: name.to_owned(),
                    version,
                });
            };
            match version_state(name, &state)? {
                VersionState::Retired => return Ok(true),
                VersionState::Active => {
                    return Err(corrupt(
                        name,
                        format!("version {version} is active but not primary"),
                    ))
                }
                VersionState::Deprecated => {}
            }
            sqlx::query(
                "UPDATE key_versions SET state = 'retired', retired_at = $3 \
                 WHERE key_name = $1 AND version = $2",
            )
            .bind(name)
            .bind(i64::from(version))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append_in(&mut tx, &audited(audit, name, version, None), now).await?;
            tx.commit().await?;
            tracing::debug!(
                backend = DB::BACKEND,
                key = name,
                version,
                "retired key version"
            );
            Ok(true)
        }
    }
}
