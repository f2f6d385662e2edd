//! [`TokenStore`] for the SQL backends. Creating and revoking a token write its audit row in
//! the same transaction.

use async_trait::async_trait;
use sqlx::FromRow;

use super::audit::append_in;
use super::{begin_write, Backend, SqlStore};
use crate::audit::AuditEntry;
use crate::auth::store::{TokenRecord, TokenStore};
use crate::clock::Millis;
use crate::sql_bounds::with_sql_bounds;
use crate::storage_error::StoreResult;

#[derive(Debug, FromRow)]
pub(super) struct TokenRow {
    id: String,
    name: String,
    role: String,
    key_names: String,
    operations: String,
    secret_hash: String,
    created_at: i64,
    created_by: String,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, role, key_names, operations, secret_hash, created_at, \
    created_by, expires_at, revoked_at";

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<TokenRow> for TokenRecord {
    fn from(row: TokenRow) -> Self {
        TokenRecord {
            key_names: split(&row.key_names),
            operations: split(&row.operations),
            id: row.id,
            name: row.name,
            role: row.role,
            secret_hash: row.secret_hash,
            created_at: row.created_at,
            created_by: row.created_by,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

with_sql_bounds! {
    #[async_trait]
    impl<DB: Backend> TokenStore for SqlStore<DB> {
        async fn insert_token(&self, token: &TokenRecord, audit: &AuditEntry) -> StoreResult<()> {
            let mut tx = begin_write(self.pool()).await?;
            sqlx::query(&format!(
                "INSERT INTO api_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(token.id.as_str())
            .bind(token.name.as_str())
            .bind(token.role.as_str())
            .bind(token.key_names.join(",").as_str())
            .bind(token.operations.join(",").as_str())
            .bind(token.secret_hash.as_str())
            .bind(token.created_at)
            .bind(token.created_by.as_str())
            .bind(token.expires_at)
            .bind(token.revoked_at)
            .execute(&mut *tx)
            .await?;
            append_in(&mut tx, audit, token.created_at).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn list_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
            let rows: Vec<TokenRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"
            ))
            .fetch_all(self.pool())
            .await?;
            Ok(rows.into_iter().map(TokenRecord::from).collect())
        }

        async fn get_token(&self, id: &str) -> StoreResult<Option<TokenRecord>> {
            let row: Option<TokenRow> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.pool())
                    .await?;
            Ok(row.map(TokenRecord::from))
        }

        async fn revoke_token(&self, id: &str, now: Millis, audit: &AuditEntry) -> StoreResult<bool> {
            let mut tx = begin_write(self.pool()).await?;
            let done = sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if DB::rows_affected(&done) == 0 {
                return Ok(false); // dropping the transaction rolls it back
            }
            append_in(&mut tx, audit, now).await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn claim_admin_bootstrap(&self) -> StoreResult<bool> {
            let done = sqlx::query(
                "INSERT INTO keystore_meta (name, value) VALUES ('admin_token_bootstrapped', 'true') \
                 ON CONFLICT (name) DO NOTHING",
            )
            .execute(self.pool())
            .await?;
            Ok(DB::rows_affected(&done) == 1)
        }
    }
}
