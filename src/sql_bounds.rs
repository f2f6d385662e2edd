//! The trait bounds generic sqlx code needs from a database, written once.
//!
//! Code that runs the same SQL on SQLite and PostgreSQL is generic over the database `DB`, and
//! sqlx states what such code may do as bounds on other types: `&mut DB::Connection` must be an
//! executor, `&str` must encode for `DB`, `String` must decode from it, and so on. A trait
//! cannot carry these for its users (Rust only passes a trait's bounds on `Self` on to the
//! code that names the trait), so [`with_sql_bounds!`] writes them into the `where` clause of
//! the item it wraps instead. They are the union of what the keystore's SQL (`sql/`) and the
//! migration targets' SQL (`rotation/targets/`) use; SQLite and PostgreSQL meet all of them.
//!
//! This module imports nothing from the crate, so every room that speaks SQL can use it.

/// Wraps an `impl` block or an `async fn` generic over one database type parameter and adds
/// the bounds generic sqlx code needs on it:
///
/// ```text
/// with_sql_bounds! {
///     impl<DB: Backend> KeyStore for SqlStore<DB> { … }
/// }
/// with_sql_bounds! {
///     async fn helper<DB: Backend>(tx: &mut Transaction<'static, DB>) -> StoreResult<()> { … }
/// }
/// ```
macro_rules! with_sql_bounds {
    (@emit $db:ident [$($head:tt)*] $body:tt) => {
        $($head)*
        where
            for<'c> &'c mut <$db as ::sqlx::Database>::Connection:
                ::sqlx::Executor<'c, Database = $db>,
            for<'q> <$db as ::sqlx::Database>::Arguments<'q>: ::sqlx::IntoArguments<'q, $db>,
            for<'q> &'q str: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'q> &'q [u8]: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'q> i64: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'q> i32: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'q> Option<i64>: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'q> Option<&'q str>: ::sqlx::Encode<'q, $db> + ::sqlx::Type<$db>,
            for<'r> i64: ::sqlx::Decode<'r, $db>,
            for<'r> String: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
            for<'r> Vec<u8>: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
            usize: ::sqlx::ColumnIndex<<$db as ::sqlx::Database>::Row>,
            for<'r> &'r str: ::sqlx::ColumnIndex<<$db as ::sqlx::Database>::Row>,
        $body
    };
    (
        $(#[$attr:meta])*
        impl<$db:ident: $bound:path> $trait_:ident for $ty:ty { $($body:tt)* }
    ) => {
        $crate::sql_bounds::with_sql_bounds!(@emit $db
            [$(#[$attr])* impl<$db: $bound> $trait_ for $ty] { $($body)* });
    };
    (
        $(#[$attr:meta])*
        impl<$db:ident: $bound:path> $ty:ty { $($body:tt)* }
    ) => {
        $crate::sql_bounds::with_sql_bounds!(@emit $db
            [$(#[$attr])* impl<$db: $bound> $ty] { $($body)* });
    };
    (
        $(#[$attr:meta])*
        $vis:vis async fn $name:ident<$db:ident: $bound:path>($($params:tt)*) -> $ret:ty
        $body:block
    ) => {
        $crate::sql_bounds::with_sql_bounds!(@emit $db
            [$(#[$attr])* $vis async fn $name<$db: $bound>($($params)*) -> $ret] $body);
    };
}

pub(crate) use with_sql_bounds;
