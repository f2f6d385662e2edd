//! The event half of a key rotation or rollback, run inside its transaction by `sql/keys.rs`:
//! an unfinished event of the key is superseded or refuses the change
//! ([`settle_open_events`]), then the new event and its targets' progress rows are inserted
//! ([`insert_event`]). The rest of the event statements are in `events.rs`.

use sqlx::Transaction;

use super::Backend;
use crate::clock::Millis;
use crate::keystore::store::EventDraft;
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::{StoreError, StoreResult};

with_sql_bounds! {
    /// Before a new event of key `name`: an unfinished one is superseded (marked failed, its lease
    /// released) when `supersede`, and refused otherwise.
    pub(super) async fn settle_open_events<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        name: &str,
        supersede: bool,
        now: Millis,
    ) -> StoreResult<()> {
        let open: Option<String> = sqlx::query_scalar(
            "SELECT id FROM rotation_events WHERE key_name = $1 AND status IN ('pending', 'in_progress')",
        )
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(event_id) = open else {
            return Ok(());
        };
        if !supersede {
            return Err(StoreError::MigrationInProgress {
                key: name.to_owned(),
                event_id,
            });
        }
        sqlx::query(
            "UPDATE rotation_events SET status = 'failed', finished_at = $2, lease_owner = NULL, \
             lease_expires_at = NULL, last_error = 'superseded by a newer rotation or rollback of the key' \
             WHERE id = $1",
        )
        .bind(event_id.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        super::event_work::release_partitions(tx, &event_id).await?;
        Ok(())
    }
}

with_sql_bounds! {
    /// Inserts a pending rotation event and one progress row per migration target.
    pub(super) async fn insert_event<DB: Backend>(
        tx: &mut Transaction<'static, DB>,
        name: &str,
        event: &EventDraft,
        from_version: u32,
        to_version: u32,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO rotation_events (id, key_name, from_version, to_version, trigger_kind, actor, \
             status, created_at, batch_size, rate_limit) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9)",
        )
        .bind(event.id.as_str())
        .bind(name)
        .bind(i64::from(from_version))
        .bind(i64::from(to_version))
        .bind(event.trigger)
        .bind(event.actor.as_str())
        .bind(now)
        .bind(i64::from(event.batch_size))
        .bind(i64::from(event.rate_limit))
        .execute(&mut **tx)
        .await?;
        for target in &event.targets {
            sqlx::query("INSERT INTO rotation_event_targets (event_id, target) VALUES ($1, $2)")
                .bind(event.id.as_str())
                .bind(target.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
