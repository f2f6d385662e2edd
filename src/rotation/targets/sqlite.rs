//! SQLite targets: columns from `pragma_table_info` (classified by SQLite's type-affinity
//! rules), and compare-and-swap as one IMMEDIATE transaction of per-row updates.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Pool, Sqlite};

use super::schema::{Conventions, TypeClass};
use super::sql::{bind_pk, Backend, Parts};
use super::types::{Encoding, PkKind, PkValue, Update};

/// How long a statement waits for the application's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Backend for Sqlite {
    const BACKEND_NAME: &'static str = "sqlite";
    const CONVENTIONS: Conventions = Conventions {
        case_insensitive: true,
        binary_type: "BLOB",
        text_type: "TEXT",
    };
    const COLUMNS: &'static str = "SELECT name, type FROM pragma_table_info($1, $2) ORDER BY cid";

    /// Classifies a declared type by SQLite's affinity rules (section 3.1 of "Datatypes In
    /// SQLite"), which are tried in this order.
    fn classify(declared: &str) -> TypeClass {
        let upper = declared.to_ascii_uppercase();
        if upper.contains("INT") {
            TypeClass::Integer
        } else if ["CHAR", "CLOB", "TEXT"].iter().any(|t| upper.contains(t)) {
            TypeClass::Text
        } else if upper.contains("BLOB") || upper.trim().is_empty() {
            TypeClass::Binary
        } else {
            TypeClass::Other
        }
    }

    fn connect_options(url: &str) -> Option<SqliteConnectOptions> {
        // The application owns the file: it is not created, and its journal mode is kept.
        let options = SqliteConnectOptions::from_str(url).ok()?;
        Some(options.busy_timeout(BUSY_TIMEOUT))
    }

    fn address(options: &SqliteConnectOptions) -> String {
        options.get_filename().display().to_string()
    }

    fn stored_bytes(expr: &str, _encoding: Encoding) -> String {
        // Also turns values of another storage class (SQLite types are loose) into bytes.
        format!("CAST({expr} AS BLOB)")
    }

    fn text_in_order(expr: &str) -> String {
        expr.to_owned()
    }

    fn compare_and_swap_sql(parts: &Parts, _kind: PkKind, encoding: Encoding) -> String {
        let Parts { table, pk, column } = parts;
        // Values are bound as bytes; a base64 column holds text, which never equals a blob.
        let [new, old] = ["$1", "$3"].map(|value| match encoding {
            Encoding::Binary => value.to_owned(),
            Encoding::Base64 => format!("CAST({value} AS TEXT)"),
        });
        format!(
            "UPDATE {table} SET {column} = {new} \
             WHERE {pk} = $2 AND {column} = {old} COLLATE BINARY"
        )
    }

    async fn compare_and_swap(
        pool: &Pool<Sqlite>,
        sql: &str,
        _kind: PkKind,
        updates: &[&Update],
        _heads: bool,
    ) -> sqlx::Result<Vec<PkValue>> {
        let mut updated = Vec::new();
        // IMMEDIATE takes the write lock up front (waiting up to the busy timeout) instead of
        // failing when a read transaction cannot be upgraded.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for update in updates {
            let query = sqlx::query(sql).bind(update.new_stored.as_slice());
            let changed = bind_pk(query, &update.pk)
                .bind(update.old_stored.as_slice())
                .execute(&mut *tx)
                .await?;
            if changed.rows_affected() > 0 {
                updated.push(update.pk.clone());
            }
        }
        tx.commit().await?;
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_declared_types_by_affinity() {
        for (declared, class) in [
            ("INTEGER", TypeClass::Integer),
            ("int", TypeClass::Integer),
            ("BIGINT", TypeClass::Integer),
            ("UNSIGNED BIG INT", TypeClass::Integer),
            ("POINT", TypeClass::Integer), // "INT" wins, as in SQLite
            ("TEXT", TypeClass::Text),
            ("varchar(255)", TypeClass::Text),
            ("NATIVE CHARACTER(70)", TypeClass::Text),
            ("CLOB", TypeClass::Text),
            ("BLOB", TypeClass::Binary),
            ("", TypeClass::Binary),
            ("REAL", TypeClass::Other),
            ("NUMERIC", TypeClass::Other),
            ("DATETIME", TypeClass::Other),
            ("FLOATING POINT", TypeClass::Integer),
        ] {
            assert_eq!(Sqlite::classify(declared), class, "{declared:?}");
        }
    }
}
