//! Identifiers from the configuration. Only plain SQL identifiers are accepted, checked before
//! any SQL is built, and they are always double-quoted in SQL: nothing from the configuration
//! can change a statement's meaning.

use super::types::{TargetConfig, TargetError};

/// PostgreSQL silently truncates longer identifiers, which would name another object.
const MAX_IDENTIFIER_LEN: usize = 63;

/// The validated identifiers of a target.
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// The schema part of `schema.table`, unquoted (`None`: the default schema).
    pub(crate) schema: Option<String>,
    /// The table name, unquoted.
    pub(crate) table: String,
    /// Unquoted column names.
    pub(crate) pk: String,
    pub(crate) column: String,
    pub(crate) ad: Option<String>,
}

impl Names {
    /// Validates the table and column names of `config`.
    pub(super) fn from_config(config: &TargetConfig) -> Result<Names, TargetError> {
        let invalid = |reason: String| TargetError::Config {
            target: config.name.clone(),
            reason,
        };
        let plain = |field: &str, value: &str| {
            if is_plain_identifier(value) {
                Ok(value.to_owned())
            } else {
                Err(invalid(format!(
                    "{field} {value:?} is not a plain SQL identifier: use letters, digits and \
                     '_' (not starting with a digit, at most {MAX_IDENTIFIER_LEN} characters), \
                     without quotes"
                )))
            }
        };
        let (schema, table) = match config.table.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, config.table.as_str()),
        };
        let names = Names {
            schema: schema
                .map(|schema| plain("the schema of table", schema))
                .transpose()?,
            table: plain("table", table)?,
            pk: plain("primary_key", &config.primary_key)?,
            column: plain("column", &config.column)?,
            ad: config
                .associated_data_column
                .as_deref()
                .map(|ad| plain("associated_data_column", ad))
                .transpose()?,
        };
        if names.column.eq_ignore_ascii_case(&names.pk) {
            return Err(invalid(
                "column and primary_key must be different columns".into(),
            ));
        }
        if names
            .ad
            .as_ref()
            .is_some_and(|ad| ad.eq_ignore_ascii_case(&names.column))
        {
            return Err(invalid(
                "associated_data_column must differ from column".into(),
            ));
        }
        Ok(names)
    }

    /// The table for SQL: `"table"` or `"schema"."table"`.
    pub(super) fn quoted_table(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.table)),
            None => quote(&self.table),
        }
    }
}

/// Double-quotes a validated identifier (which contains no quote to escape).
pub(super) fn quote(identifier: &str) -> String {
    debug_assert!(is_plain_identifier(identifier));
    format!("\"{identifier}\"")
}

/// `[A-Za-z_][A-Za-z0-9_]*`, at most 63 characters.
fn is_plain_identifier(value: &str) -> bool {
    let mut bytes = value.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    starts_well
        && value.len() <= MAX_IDENTIFIER_LEN
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(table: &str, pk: &str, column: &str, ad: Option<&str>) -> TargetConfig {
        TargetConfig {
            name: "t".into(),
            database_url: "sqlite://x".into(),
            table: table.into(),
            primary_key: pk.into(),
            column: column.into(),
            encoding: Default::default(),
            key: "k".into(),
            associated_data_column: ad.map(Into::into),
            batch_size: None,
            rate_limit: None,
            parallelism: None,
        }
    }

    #[test]
    fn plain_identifiers() {
        for good in ["users", "_x", "A1_b2", "t", &"a".repeat(63)] {
            assert!(is_plain_identifier(good), "{good}");
        }
        for bad in [
            "",
            "1abc",
            "users; drop table x",
            "\"x\"",
            "x-y",
            "a b",
            "caf\u{e9}",
            "x\0",
            "a.b",
            "`x`",
            &"a".repeat(64),
        ] {
            assert!(!is_plain_identifier(bad), "{bad:?}");
        }
    }

    #[test]
    fn names_are_split_and_quoted() {
        let names =
            Names::from_config(&config("app.users", "id", "token", Some("email"))).expect("valid");
        assert_eq!(names.schema.as_deref(), Some("app"));
        assert_eq!(names.quoted_table(), r#""app"."users""#);
        assert_eq!(quote(&names.column), r#""token""#);
        let names = Names::from_config(&config("users", "id", "token", None)).expect("valid");
        assert_eq!(names.quoted_table(), r#""users""#);
        assert_eq!(names.ad, None);
    }

    #[test]
    fn bad_names_are_config_errors_naming_the_field() {
        for (config, field) in [
            (config("users; drop table x", "id", "c", None), "table"),
            (config("\"x\"", "id", "c", None), "table"),
            (config("a.b.c", "id", "c", None), "table"),
            (config(".users", "id", "c", None), "schema"),
            (config("users", "id)", "c", None), "primary_key"),
            (config("users", "id", "c--", None), "column"),
            (
                config("users", "id", "c", Some("x'")),
                "associated_data_column",
            ),
            (config("users", "id", "ID", None), "different"),
            (config("users", "id", "c", Some("c")), "differ"),
        ] {
            let error = Names::from_config(&config).expect_err("invalid");
            assert!(matches!(error, TargetError::Config { .. }), "{error}");
            assert!(error.to_string().contains(field), "{error}");
        }
    }
}
