//! PostgreSQL targets: columns from `information_schema`, and compare-and-swap of a whole
//! batch in one `UPDATE … FROM UNNEST(…)` statement.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Pool, Postgres};

use super::schema::{Conventions, TypeClass};
use super::sql::{pk_select, read_pk, Backend, Parts};
use super::types::{Encoding, PkKind, PkValue, Update};

impl Backend for Postgres {
    const BACKEND_NAME: &'static str = "postgres";
    const CONVENTIONS: Conventions = Conventions {
        case_insensitive: false,
        binary_type: "bytea",
        text_type: "text or varchar",
    };
    const COLUMNS: &'static str = "SELECT column_name::text, data_type::text \
         FROM information_schema.columns WHERE table_name::text = $1 \
         AND table_schema::text = COALESCE($2::text, current_schema()::text) \
         ORDER BY ordinal_position";

    /// Classifies an `information_schema.columns.data_type`.
    fn classify(data_type: &str) -> TypeClass {
        match data_type {
            "smallint" | "integer" | "bigint" => TypeClass::Integer,
            "text" | "character varying" => TypeClass::Text,
            "bytea" => TypeClass::Binary,
            _ => TypeClass::Other,
        }
    }

    fn connect_options(url: &str) -> Option<PgConnectOptions> {
        PgConnectOptions::from_str(url).ok()
    }

    fn address(options: &PgConnectOptions) -> String {
        format!("{}:{}", options.get_host(), options.get_port())
    }

    fn stored_bytes(expr: &str, encoding: Encoding) -> String {
        match encoding {
            Encoding::Binary => expr.to_owned(),
            Encoding::Base64 => format!("convert_to({expr}, 'UTF8')"),
        }
    }

    fn text_in_order(expr: &str) -> String {
        // Byte order, whatever the database's collation: stable and equal to `PkValue`'s.
        format!("{expr} COLLATE \"C\"")
    }

    fn compare_and_swap_sql(parts: &Parts, kind: PkKind, encoding: Encoding) -> String {
        let Parts { table, pk, column } = parts;
        // Primary keys travel as text and values as bytes, so one statement serves every
        // target; they are converted back to the column types here.
        let u_pk = match kind {
            PkKind::Int => "CAST(u.pk AS BIGINT)",
            PkKind::Text => "u.pk",
        };
        let [u_old, u_new] = ["u.old", "u.new"].map(|value| match encoding {
            Encoding::Binary => value.to_owned(),
            Encoding::Base64 => format!("convert_from({value}, 'UTF8')"),
        });
        format!(
            "UPDATE {table} AS t SET {column} = {u_new} \
             FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS u(pk, old, new) \
             WHERE t.{pk} = {u_pk} AND t.{column} = {u_old} RETURNING {}",
            pk_select(&format!("t.{pk}"), kind)
        )
    }

    fn swap_heads_sql(parts: &Parts, kind: PkKind) -> Option<String> {
        let Parts { table, pk, column } = parts;
        let u_pk = match kind {
            PkKind::Int => "CAST(u.pk AS BIGINT)",
            PkKind::Text => "u.pk",
        };
        // Bound like the whole-value statement: (pk, old head, new head), one array each.
        Some(format!(
            "UPDATE {table} AS t SET {column} = overlay(t.{column} placing u.new from 1) \
             FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS u(pk, old, new) \
             WHERE t.{pk} = {u_pk} AND substring(t.{column} from 1 for length(u.old)) = u.old \
             RETURNING {}",
            pk_select(&format!("t.{pk}"), kind)
        ))
    }

    async fn compare_and_swap(
        pool: &Pool<Postgres>,
        sql: &str,
        kind: PkKind,
        updates: &[&Update],
        _heads: bool,
    ) -> sqlx::Result<Vec<PkValue>> {
        let mut pks = Vec::with_capacity(updates.len());
        let mut old = Vec::with_capacity(updates.len());
        let mut new = Vec::with_capacity(updates.len());
        for update in updates {
            pks.push(match &update.pk {
                PkValue::Int(value) => value.to_string(),
                PkValue::Text(value) => value.clone(),
            });
            old.push(update.old_stored.as_slice());
            new.push(update.new_stored.as_slice());
        }
        let rows = sqlx::query(sql)
            .bind(pks)
            .bind(old)
            .bind(new)
            .fetch_all(pool)
            .await?;
        rows.iter().map(|row| read_pk(row, kind)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_data_types() {
        for (data_type, class) in [
            ("smallint", TypeClass::Integer),
            ("integer", TypeClass::Integer),
            ("bigint", TypeClass::Integer),
            ("text", TypeClass::Text),
            ("character varying", TypeClass::Text),
            ("bytea", TypeClass::Binary),
            ("numeric", TypeClass::Other),
            ("character", TypeClass::Other),
            ("uuid", TypeClass::Other),
            ("USER-DEFINED", TypeClass::Other),
        ] {
            assert_eq!(Postgres::classify(data_type), class, "{data_type}");
        }
    }

    #[test]
    fn compare_and_swap_statement() {
        let parts = Parts {
            table: r#""app"."users""#.into(),
            pk: r#""id""#.into(),
            column: r#""token""#.into(),
        };
        assert_eq!(
            Postgres::compare_and_swap_sql(&parts, PkKind::Int, Encoding::Binary),
            "UPDATE \"app\".\"users\" AS t SET \"token\" = u.new \
             FROM UNNEST($1::text[], $2::bytea[], $3::bytea[]) AS u(pk, old, new) \
             WHERE t.\"id\" = CAST(u.pk AS BIGINT) AND t.\"token\" = u.old \
             RETURNING CAST(t.\"id\" AS BIGINT)"
        );
        let text = Postgres::compare_and_swap_sql(&parts, PkKind::Text, Encoding::Base64);
        assert!(text.contains("SET \"token\" = convert_from(u.new, 'UTF8')"));
        assert!(text.contains("t.\"id\" = u.pk AND t.\"token\" = convert_from(u.old, 'UTF8')"));
    }
}
