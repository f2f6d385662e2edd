//! MySQL and MariaDB targets: columns from `information_schema`, and compare-and-swap as one
//! transaction of per-row updates whose outcome is exact. MySQL counts *changed* rows, not
//! matched ones; a migration's new value always differs from the old (a fresh nonce), so a
//! row counts as written exactly when it still held the old value, compared byte for byte
//! (`CAST(… AS BINARY)`, whatever the column's collation: a case-insensitive one would match a
//! base64 value that differs in case).
//!
//! The statements shared with the other backends are written with `$n` parameters, double-
//! quoted identifiers and `BIGINT`/`TEXT` casts; [`Backend::dialect`] turns them into MySQL's
//! `?`, backticks and `SIGNED`/`CHAR` (identifiers are checked to hold no quote of either kind).

use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{MySql, Pool};

use super::schema::{Conventions, TypeClass};
use super::sql::{bind_pk, Backend, Parts};
use super::types::{Encoding, PkKind, PkValue, Update};

impl Backend for MySql {
    const BACKEND_NAME: &'static str = "mysql";
    const CONVENTIONS: Conventions = Conventions {
        case_insensitive: true,
        binary_type: "VARBINARY or BLOB",
        text_type: "VARCHAR or TEXT",
    };
    const COLUMNS: &'static str = "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) \
         FROM information_schema.columns WHERE table_name = $1 \
         AND table_schema = COALESCE($2, DATABASE()) ORDER BY ordinal_position";

    fn classify(data_type: &str) -> TypeClass {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                TypeClass::Integer
            }
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => TypeClass::Text,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                TypeClass::Binary
            }
            _ => TypeClass::Other,
        }
    }

    fn connect_options(url: &str) -> Option<MySqlConnectOptions> {
        MySqlConnectOptions::from_str(url).ok()
    }

    fn address(options: &MySqlConnectOptions) -> String {
        format!("{}:{}", options.get_host(), options.get_port())
    }

    fn dialect(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                }
                '"' => out.push('`'),
                _ => out.push(c),
            }
        }
        out.replace(" AS BIGINT)", " AS SIGNED)")
            .replace(" AS TEXT)", " AS CHAR)")
    }

    fn stored_bytes(expr: &str, encoding: Encoding) -> String {
        match encoding {
            Encoding::Binary => expr.to_owned(),
            Encoding::Base64 => format!("CAST({expr} AS BINARY)"),
        }
    }

    fn text_in_order(expr: &str) -> String {
        // Byte order, whatever the column's collation: stable and equal to `PkValue`'s.
        format!("CAST({expr} AS BINARY)")
    }

    fn compare_and_swap_sql(parts: &Parts, _kind: PkKind, _encoding: Encoding) -> String {
        let Parts { table, pk, column } = parts;
        Self::dialect(&format!(
            "UPDATE {table} SET {column} = $1 WHERE {pk} = $2 AND CAST({column} AS BINARY) = $3"
        ))
    }

    fn swap_heads_sql(parts: &Parts, _kind: PkKind) -> Option<String> {
        let Parts { table, pk, column } = parts;
        // A binary column: INSERT and LEFT count bytes. The new head differs from the old
        // one (its version does), so a matched row is always a changed one.
        Some(Self::dialect(&format!(
            "UPDATE {table} SET {column} = INSERT({column}, 1, $1, $2) \
             WHERE {pk} = $3 AND LEFT({column}, $4) = $5"
        )))
    }

    async fn compare_and_swap(
        pool: &Pool<MySql>,
        sql: &str,
        _kind: PkKind,
        updates: &[&Update],
        heads: bool,
    ) -> sqlx::Result<Vec<PkValue>> {
        let mut updated = Vec::new();
        let mut tx = pool.begin().await?;
        for update in updates {
            let head_len = i64::try_from(update.old_stored.len()).unwrap_or(i64::MAX);
            let mut query = sqlx::query(sql);
            if heads {
                query = query.bind(head_len);
            }
            query = bind_pk(query.bind(update.new_stored.as_slice()), &update.pk);
            if heads {
                query = query.bind(head_len);
            }
            let changed = query
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
    fn classifies_data_types() {
        for (data_type, class) in [
            ("int", TypeClass::Integer),
            ("BIGINT", TypeClass::Integer),
            ("varchar", TypeClass::Text),
            ("longtext", TypeClass::Text),
            ("varbinary", TypeClass::Binary),
            ("blob", TypeClass::Binary),
            ("decimal", TypeClass::Other),
            ("json", TypeClass::Other),
        ] {
            assert_eq!(MySql::classify(data_type), class, "{data_type}");
        }
    }

    #[test]
    fn statements_in_mysqls_dialect() {
        assert_eq!(
            MySql::dialect(
                "SELECT CAST(\"id\" AS BIGINT), CAST(\"ad\" AS TEXT) FROM \"app\".\"t\" \
                 WHERE \"id\" > $1 LIMIT $2"
            ),
            "SELECT CAST(`id` AS SIGNED), CAST(`ad` AS CHAR) FROM `app`.`t` WHERE `id` > ? LIMIT ?"
        );
        let parts = Parts {
            table: "\"users\"".into(),
            pk: "\"id\"".into(),
            column: "\"token\"".into(),
        };
        assert_eq!(
            MySql::compare_and_swap_sql(&parts, PkKind::Int, Encoding::Base64),
            "UPDATE `users` SET `token` = ? WHERE `id` = ? AND CAST(`token` AS BINARY) = ?"
        );
    }
}
