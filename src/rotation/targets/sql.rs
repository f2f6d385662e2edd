//! The target logic shared by the SQL backends. Statements are written once in the dialect
//! SQLite and PostgreSQL share (`$n` parameters, `CAST`, `substr`); each backend supplies only
//! what differs through [`Backend`].

use std::future::Future;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Connection, Database, Decode, Encode, Pool, Row as _, Type};

use super::bounds;
use super::counts::{stored_prefix_len, tally};
use super::ident::{quote, Names};
use super::pool_size;
use super::schema::{self, Column, Conventions, TypeClass};
use super::types::{
    Encoding, PkKind, PkValue, Row, TargetConfig, TargetError, Update, VersionCounts,
};
use crate::sql_bounds::with_sql_bounds;
use crate::sql_connect::connect_pool;

/// What a database needs to hold migration targets.
pub(super) trait Backend: Database {
    /// Short name for logs.
    const BACKEND_NAME: &'static str;
    const CONVENTIONS: Conventions;

    /// Columns `name, type` of table `$1` in schema `$2` (NULL: the default schema), in
    /// order; no rows if there is no such table.
    const COLUMNS: &'static str;

    /// Classifies a column type as reported by [`Backend::COLUMNS`].
    fn classify(declared: &str) -> TypeClass;

    /// Connection options from `url` (already known to use this backend's scheme); `None`
    /// if it does not parse.
    fn connect_options(url: &str) -> Option<<Self::Connection as Connection>::Options>;

    /// Where the database is, for error messages: host and port, or the file; never the
    /// user or password.
    fn address(options: &<Self::Connection as Connection>::Options) -> String;

    /// `sql`, written in the dialect SQLite and PostgreSQL share (`$n` parameters, double-
    /// quoted identifiers, `BIGINT` and `TEXT` casts), in this database's own.
    fn dialect(sql: &str) -> String {
        sql.to_owned()
    }

    /// An expression giving the bytes of a stored value (`expr` is the column or a prefix
    /// of it): identity or a conversion to a byte string.
    fn stored_bytes(expr: &str, encoding: Encoding) -> String;

    /// A text primary-key expression in the order pages follow.
    fn text_in_order(expr: &str) -> String;

    /// The statement [`Backend::compare_and_swap`] runs, for the table in `parts`.
    fn compare_and_swap_sql(parts: &Parts, kind: PkKind, encoding: Encoding) -> String;

    /// The statement that writes a new head over a binary value's old one (see
    /// [`Update::head_only`]), if this database has one: comparing and rewriting only the
    /// head, in the database, so a large value never travels whole for it.
    fn swap_heads_sql(_parts: &Parts, _kind: PkKind) -> Option<String> {
        None
    }

    /// Runs `sql` from [`Backend::compare_and_swap_sql`] (or, with `heads`, from
    /// [`Backend::swap_heads_sql`]) for `updates` in one transaction; returns the primary
    /// keys of the rows it changed. Every update's primary key is of type `kind`, and for
    /// base64 its values are UTF-8.
    fn compare_and_swap(
        pool: &Pool<Self>,
        sql: &str,
        kind: PkKind,
        updates: &[&Update],
        heads: bool,
    ) -> impl Future<Output = sqlx::Result<Vec<PkValue>>> + Send;
}

/// Quoted identifiers for building statements.
pub(super) struct Parts {
    pub(crate) table: String,
    pub(crate) pk: String,
    pub(crate) column: String,
}

/// The SELECT expression of a primary key of type `kind`.
pub(super) fn pk_select(expr: &str, kind: PkKind) -> String {
    match kind {
        PkKind::Int => format!("CAST({expr} AS BIGINT)"),
        PkKind::Text => format!("CAST({expr} AS TEXT)"),
    }
}

/// Reads a primary key of type `kind` from the first column of `row`.
pub(super) fn read_pk<R>(row: &R, kind: PkKind) -> sqlx::Result<PkValue>
where
    R: sqlx::Row,
    usize: ColumnIndex<R>,
    i64: for<'r> Decode<'r, R::Database> + Type<R::Database>,
    String: for<'r> Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(match kind {
        PkKind::Int => PkValue::Int(row.try_get(0)?),
        PkKind::Text => PkValue::Text(row.try_get(0)?),
    })
}

/// Binds a primary-key value as the next parameter.
pub(super) fn bind_pk<'q, DB>(
    query: Query<'q, DB, DB::Arguments<'q>>,
    pk: &'q PkValue,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
{
    match pk {
        PkValue::Int(value) => query.bind(*value),
        PkValue::Text(value) => query.bind(value.as_str()),
    }
}

/// Statements of one target, built once at connect time.
struct Statements {
    fetch_first: String,
    fetch_after: String,
    /// The same, up to an inclusive upper bound (a partition's end).
    fetch_first_upto: String,
    fetch_after_upto: String,
    /// For partition bounds: the rows a migration reads, the first and last key, the key at
    /// a row position.
    pub(super) count_rows: String,
    pub(super) first_key: String,
    pub(super) last_key: String,
    pub(super) key_at: String,
    count_prefixes: String,
    compare_and_swap: String,
    /// Binary columns on a database that can: writes a value's new head over its old one.
    swap_heads: Option<String>,
}

impl Statements {
    fn new<DB: Backend>(names: &Names, kind: PkKind, encoding: Encoding) -> Statements {
        let parts = Parts {
            table: names.quoted_table(),
            pk: quote(&names.pk),
            column: quote(&names.column),
        };
        let Parts { table, pk, column } = &parts;
        let pk_order = match kind {
            PkKind::Int => pk.clone(),
            PkKind::Text => DB::text_in_order(pk),
        };
        let ad = names.ad.as_deref().map_or_else(|| "NULL".to_owned(), quote);
        let key = pk_select(pk, kind);
        let migratable = format!("FROM {table} WHERE {column} IS NOT NULL AND {pk} IS NOT NULL");
        let select = format!(
            "SELECT {key}, {}, {} {migratable}",
            DB::stored_bytes(column, encoding),
            DB::stored_bytes(&format!("CAST({ad} AS TEXT)"), Encoding::Base64),
        );
        let prefix = DB::stored_bytes(&format!("substr({column}, 1, $1)"), encoding);
        Statements {
            fetch_first: DB::dialect(&format!("{select} ORDER BY {pk_order} LIMIT $1")),
            fetch_after: DB::dialect(&format!(
                "{select} AND {pk_order} > $1 ORDER BY {pk_order} LIMIT $2"
            )),
            fetch_first_upto: DB::dialect(&format!(
                "{select} AND {pk_order} <= $1 ORDER BY {pk_order} LIMIT $2"
            )),
            fetch_after_upto: DB::dialect(&format!(
                "{select} AND {pk_order} > $1 AND {pk_order} <= $2 ORDER BY {pk_order} LIMIT $3"
            )),
            count_rows: DB::dialect(&format!("SELECT COUNT(*) {migratable}")),
            first_key: DB::dialect(&format!(
                "SELECT {key} {migratable} ORDER BY {pk_order} LIMIT 1"
            )),
            last_key: DB::dialect(&format!(
                "SELECT {key} {migratable} ORDER BY {pk_order} DESC LIMIT 1"
            )),
            key_at: DB::dialect(&format!(
                "SELECT {key} {migratable} ORDER BY {pk_order} LIMIT 1 OFFSET $1"
            )),
            count_prefixes: DB::dialect(&format!(
                "SELECT {prefix}, COUNT(*) FROM {table} WHERE {column} IS NOT NULL GROUP BY 1"
            )),
            compare_and_swap: DB::compare_and_swap_sql(&parts, kind, encoding),
            swap_heads: match encoding {
                Encoding::Binary => DB::swap_heads_sql(&parts, kind),
                // A head's bytes do not map to whole characters of a value's base64 text.
                Encoding::Base64 => None,
            },
        }
    }
}

/// A connected, validated target in a database of type `DB`.
pub(super) struct SqlTarget<DB: Database> {
    name: String,
    encoding: Encoding,
    kind: PkKind,
    pool: Pool<DB>,
    statements: Statements,
}

with_sql_bounds! {
    impl<DB: Backend> SqlTarget<DB> {
        /// Connects to the target's database and checks the table against `config`.
        pub(super) async fn open(
            config: &TargetConfig,
            names: &Names,
            url: &str,
        ) -> Result<Self, TargetError> {
            let name = config.name.clone();
            let database_error = |cause| TargetError::Database {
                target: name.clone(),
                cause,
            };
            // The parser's message may quote the URL, so it is not passed on.
            let options = DB::connect_options(url).ok_or_else(|| TargetError::Config {
                target: name.clone(),
                reason: format!("database_url is not a valid {} URL", DB::BACKEND_NAME),
            })?;
            let address = DB::address(&options);
            let pool = connect_pool::<DB>(DB::BACKEND_NAME, address, options, pool_size(config.parallelism))
                .await
                .map_err(|source| TargetError::Unreachable {
                    target: name.clone(),
                    source,
                })?;
            let columns_sql = DB::dialect(DB::COLUMNS);
            let columns: Vec<(String, String)> = sqlx::query_as(&columns_sql)
                .bind(names.table.as_str())
                .bind(names.schema.as_deref())
                .fetch_all(&pool)
                .await
                .map_err(database_error)?;
            let columns: Vec<Column> = columns
                .into_iter()
                .map(|(name, declared)| Column {
                    class: DB::classify(&declared),
                    name,
                    declared,
                })
                .collect();
            let kind = schema::check(&name, names, config.encoding, &columns, &DB::CONVENTIONS)?;
            Ok(SqlTarget {
                statements: Statements::new::<DB>(names, kind, config.encoding),
                name,
                encoding: config.encoding,
                kind,
                pool,
            })
        }

        pub(super) fn backend(&self) -> &'static str {
            DB::BACKEND_NAME
        }

        pub(super) fn kind(&self) -> PkKind {
            self.kind
        }

        fn database_error(&self, cause: sqlx::Error) -> TargetError {
            TargetError::Database {
                target: self.name.clone(),
                cause,
            }
        }

        pub(super) async fn fetch_batch(
            &self,
            after: Option<&PkValue>,
            upto: Option<&PkValue>,
            limit: u32,
        ) -> Result<Vec<Row>, TargetError> {
            let s = &self.statements;
            let query = match (after, upto) {
                (None, None) => sqlx::query(&s.fetch_first),
                (Some(after), None) => bind_pk(sqlx::query(&s.fetch_after), after),
                (None, Some(upto)) => bind_pk(sqlx::query(&s.fetch_first_upto), upto),
                (Some(after), Some(upto)) => {
                    bind_pk(bind_pk(sqlx::query(&s.fetch_after_upto), after), upto)
                }
            };
            let read = |row: &DB::Row| {
                Ok(Row {
                    pk: read_pk(row, self.kind)?,
                    stored: row.try_get(1)?,
                    associated_data: row.try_get::<Option<Vec<u8>>, _>(2)?.unwrap_or_default(),
                })
            };
            query
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .and_then(|rows| rows.iter().map(read).collect())
                .map_err(|error| self.database_error(error))
        }

        /// Up to `n - 1` ascending keys cutting the migratable rows into `n` partitions (see
        /// `bounds`): none for an empty table or `n` of 1.
        pub(super) async fn partition_bounds(&self, n: u32) -> Result<Vec<PkValue>, TargetError> {
            if n <= 1 {
                return Ok(Vec::new());
            }
            let s = &self.statements;
            let bounds = match self.kind {
                PkKind::Int => {
                    let first = self.key_at(&s.first_key, None).await?;
                    let last = self.key_at(&s.last_key, None).await?;
                    match (first, last) {
                        (Some(PkValue::Int(min)), Some(PkValue::Int(max))) => {
                            bounds::int_boundaries(min, max, n).into_iter().map(PkValue::Int).collect()
                        }
                        _ => Vec::new(),
                    }
                }
                PkKind::Text => {
                    let rows: i64 = sqlx::query_scalar(&s.count_rows)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|error| self.database_error(error))?;
                    let mut keys: Vec<PkValue> = Vec::new();
                    for position in bounds::row_positions(u64::try_from(rows).unwrap_or(0), n) {
                        let offset = i64::try_from(position).unwrap_or(i64::MAX);
                        if let Some(key) = self.key_at(&s.key_at, Some(offset)).await? {
                            // Rows may come and go between two samples: keep them ascending.
                            if keys.last().is_none_or(|last| key > *last) {
                                keys.push(key);
                            }
                        }
                    }
                    keys
                }
            };
            Ok(bounds)
        }

        /// The key `sql` selects (at row `offset` if given), if there is a row.
        async fn key_at(&self, sql: &str, offset: Option<i64>) -> Result<Option<PkValue>, TargetError> {
            let mut query = sqlx::query(sql);
            if let Some(offset) = offset {
                query = query.bind(offset);
            }
            query
                .fetch_optional(&self.pool)
                .await
                .and_then(|row| row.map(|row| read_pk(&row, self.kind)).transpose())
                .map_err(|error| self.database_error(error))
        }

        /// Writes `updates` (whole values and heads alike, see [`Update::head_only`]; heads
        /// only where [`SqlTarget::writes_heads`]): the primary keys of the rows changed.
        pub(super) async fn compare_and_swap(&self, updates: &[&Update]) -> Result<Vec<PkValue>, TargetError> {
            let (heads, wholes): (Vec<&Update>, Vec<&Update>) =
                updates.iter().copied().partition(|u| u.head_only);
            let mut written = Vec::with_capacity(updates.len());
            if !wholes.is_empty() {
                let sql = &self.statements.compare_and_swap;
                let swapped = DB::compare_and_swap(&self.pool, sql, self.kind, &wholes, false).await;
                written.extend(swapped.map_err(|error| self.database_error(error))?);
            }
            if let (Some(sql), false) = (&self.statements.swap_heads, heads.is_empty()) {
                let swapped = DB::compare_and_swap(&self.pool, sql, self.kind, &heads, true).await;
                written.extend(swapped.map_err(|error| self.database_error(error))?);
            }
            Ok(written)
        }

        /// Whether this target takes head-only updates (binary column, PostgreSQL or MySQL).
        pub(super) fn writes_heads(&self) -> bool {
            self.statements.swap_heads.is_some()
        }

        pub(super) async fn version_counts(&self, key_name: &str) -> Result<VersionCounts, TargetError> {
            let prefix_len = stored_prefix_len(self.encoding, key_name.len());
            let groups: Vec<(Vec<u8>, i64)> = sqlx::query_as(&self.statements.count_prefixes)
                .bind(i32::try_from(prefix_len).unwrap_or(i32::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(|error| self.database_error(error))?;
            Ok(tally(self.encoding, key_name, groups))
        }
    }
}
