//! The target logic shared by the SQL backends. Statements are written once in the dialect
//! SQLite and PostgreSQL share (`$n` parameters, `CAST`, `substr`); each backend supplies only
//! what differs through [`Backend`].

use std::future::Future;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Connection, Database, Decode, Encode, Pool, Row as _, Type};

use super::counts::{stored_prefix_len, tally};
use super::ident::{quote, Names};
use super::schema::{self, Column, Conventions, TypeClass};
use super::types::{
    Encoding, PkKind, PkValue, Row, TargetConfig, TargetError, Update, VersionCounts,
};
use super::MAX_CONNECTIONS;
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

    /// Runs `sql` from [`Backend::compare_and_swap_sql`] for `updates` in one transaction;
    /// returns the primary keys of the rows it changed. Every update's primary key is of
    /// type `kind`, and for base64 its values are UTF-8.
    fn compare_and_swap(
        pool: &Pool<Self>,
        sql: &str,
        kind: PkKind,
        updates: &[&Update],
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
    count_prefixes: String,
    compare_and_swap: String,
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
        let select = format!(
            "SELECT {}, {}, {} FROM {table} WHERE {column} IS NOT NULL AND {pk} IS NOT NULL",
            pk_select(pk, kind),
            DB::stored_bytes(column, encoding),
            DB::stored_bytes(&format!("CAST({ad} AS TEXT)"), Encoding::Base64),
        );
        let prefix = DB::stored_bytes(&format!("substr({column}, 1, $1)"), encoding);
        Statements {
            fetch_first: DB::dialect(&format!("{select} ORDER BY {pk_order} LIMIT $1")),
            fetch_after: DB::dialect(&format!(
                "{select} AND {pk_order} > $1 ORDER BY {pk_order} LIMIT $2"
            )),
            count_prefixes: DB::dialect(&format!(
                "SELECT {prefix}, COUNT(*) FROM {table} WHERE {column} IS NOT NULL GROUP BY 1"
            )),
            compare_and_swap: DB::compare_and_swap_sql(&parts, kind, encoding),
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
            let pool = connect_pool::<DB>(DB::BACKEND_NAME, address, options, MAX_CONNECTIONS)
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
            limit: u32,
        ) -> Result<Vec<Row>, TargetError> {
            let query = match after {
                None => sqlx::query(&self.statements.fetch_first),
                Some(after) => bind_pk(sqlx::query(&self.statements.fetch_after), after),
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

        pub(super) async fn compare_and_swap(&self, updates: &[&Update]) -> Result<Vec<PkValue>, TargetError> {
            let sql = &self.statements.compare_and_swap;
            DB::compare_and_swap(&self.pool, sql, self.kind, updates)
                .await
                .map_err(|error| self.database_error(error))
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
