//! `rekey-testkit`: what Rekey's integration tests and its benchmark harness both need from
//! their surroundings, written once. Never a dependency of the product itself.
//!
//! - [`pg`]: scratch PostgreSQL databases, created with a random name and dropped afterwards.
//! - [`with_database`]: a server URL pointed at another database (scratch databases of any
//!   engine).
#![forbid(unsafe_code)]

pub mod pg;

/// `url` with its database name (the path after the host) replaced by `database`: a
/// PostgreSQL or MySQL/MariaDB URL of a scratch database made on the server `url` names.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..host_end])
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://root@127.0.0.1:5432/test", "rekey_t_1"),
            "postgres://root@127.0.0.1:5432/rekey_t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db/test?sslmode=disable", "x"),
            "postgres://u:p@db/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db:5432", "x"),
            "postgres://db:5432/x"
        );
    }
}
