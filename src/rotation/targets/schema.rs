//! Checks a table's columns (as each backend reports them) against a target's configuration.

use super::ident::Names;
use super::types::{Encoding, PkKind, TargetError};

/// What a column's declared type can hold, as far as a target cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TypeClass {
    Integer,
    Text,
    Binary,
    Other,
}

/// A column of the target table.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(crate) name: String,
    /// The type as the database reports it, for messages.
    pub(crate) declared: String,
    pub(crate) class: TypeClass,
}

/// How a backend names and matches columns, for [`check`].
pub(super) struct Conventions {
    /// Whether column names match regardless of ASCII case (SQLite).
    pub(crate) case_insensitive: bool,
    /// Type names to suggest for binary and base64 ciphertext columns.
    pub(crate) binary_type: &'static str,
    pub(crate) text_type: &'static str,
}

/// Checks that the table exists with the configured columns of suitable types; returns how
/// to read the primary key.
pub(super) fn check(
    target: &str,
    names: &Names,
    encoding: Encoding,
    columns: &[Column],
    conventions: &Conventions,
) -> Result<PkKind, TargetError> {
    let table = names.quoted_table();
    let schema_error = |reason: String| TargetError::Schema {
        target: target.to_owned(),
        reason,
    };
    if columns.is_empty() {
        return Err(schema_error(format!(
            "table {table} does not exist (or the database user may not see it); check \
             `table` and `database_url`"
        )));
    }
    let find = |field: &str, wanted: &str| {
        let exact = columns.iter().find(|c| c.name == wanted);
        let loose = || columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted));
        let found = if conventions.case_insensitive {
            exact.or_else(loose)
        } else {
            exact
        };
        found.ok_or_else(|| {
            let hint = match loose() {
                Some(c) => format!("; names are case-sensitive: did you mean {:?}?", c.name),
                None => String::new(),
            };
            schema_error(format!(
                "table {table} has no column {wanted:?} (configured as `{field}`){hint}"
            ))
        })
    };
    let pk = find("primary_key", &names.pk)?;
    let kind = match pk.class {
        TypeClass::Integer => PkKind::Int,
        TypeClass::Text => PkKind::Text,
        TypeClass::Binary | TypeClass::Other => {
            return Err(schema_error(format!(
                "primary_key column {:?} has type {:?}; expected an integer or text type",
                pk.name, pk.declared
            )))
        }
    };
    let column = find("column", &names.column)?;
    let (needed, expected, other) = match encoding {
        Encoding::Binary => (TypeClass::Binary, conventions.binary_type, "base64"),
        Encoding::Base64 => (TypeClass::Text, conventions.text_type, "binary"),
    };
    if column.class != needed {
        let encoding = format!("{encoding:?}").to_lowercase();
        return Err(schema_error(format!(
            "column {:?} has type {:?}, but encoding {encoding:?} needs {expected} \
             (or set `encoding = \"{other}\"` if the column holds that)",
            column.name, column.declared
        )));
    }
    if let Some(ad) = &names.ad {
        find("associated_data_column", ad)?;
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE: Conventions = Conventions {
        case_insensitive: true,
        binary_type: "BLOB",
        text_type: "TEXT",
    };
    const PG: Conventions = Conventions {
        case_insensitive: false,
        binary_type: "bytea",
        text_type: "text",
    };

    fn names(pk: &str, column: &str, ad: Option<&str>) -> Names {
        Names {
            schema: None,
            table: "users".into(),
            pk: pk.into(),
            column: column.into(),
            ad: ad.map(Into::into),
        }
    }

    fn columns() -> Vec<Column> {
        [
            ("id", TypeClass::Integer),
            ("email", TypeClass::Text),
            ("Token", TypeClass::Binary),
            ("score", TypeClass::Other),
        ]
        .into_iter()
        .map(|(name, class)| Column {
            name: name.into(),
            declared: format!("{class:?}"),
            class,
        })
        .collect()
    }

    fn reason(result: Result<PkKind, TargetError>) -> String {
        match result {
            Err(TargetError::Schema { reason, .. }) => reason,
            other => panic!("expected a schema error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_matching_columns() {
        let kind = check(
            "t",
            &names("id", "Token", Some("email")),
            Encoding::Binary,
            &columns(),
            &PG,
        );
        assert_eq!(kind.expect("valid"), PkKind::Int);
        let kind = check(
            "t",
            &names("email", "token", None),
            Encoding::Binary,
            &columns(),
            &SQLITE,
        );
        assert_eq!(kind.expect("valid"), PkKind::Text);
    }

    #[test]
    fn explains_mismatches() {
        let columns = columns();
        let cases = [
            (
                names("id", "token", None),
                Encoding::Binary,
                "did you mean \"Token\"",
            ),
            (
                names("nope", "Token", None),
                Encoding::Binary,
                "no column \"nope\"",
            ),
            (
                names("score", "Token", None),
                Encoding::Binary,
                "integer or text",
            ),
            (names("id", "email", None), Encoding::Binary, "needs bytea"),
            (names("id", "Token", None), Encoding::Base64, "needs text"),
            (
                names("id", "Token", Some("ad")),
                Encoding::Binary,
                "associated_data",
            ),
        ];
        for (names, encoding, expected) in cases {
            let reason = reason(check("t", &names, encoding, &columns, &PG));
            assert!(reason.contains(expected), "{reason}");
        }
        let reason = reason(check(
            "t",
            &names("id", "c", None),
            Encoding::Binary,
            &[],
            &PG,
        ));
        assert!(reason.contains("does not exist"), "{reason}");
    }
}
