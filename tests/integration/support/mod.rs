//! Test harness: real servers on `127.0.0.1:0` over a fresh keystore (a temporary SQLite
//! folder, or a fresh PostgreSQL database when REKEY_TEST_DATABASE_URL is set), driven with
//! the generated gRPC client through typed calls (`s.encrypt(key, pt)`, see `calls/`).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use base64::Engine as _;
use rekey::clock::{Clock, SystemClock};
use rekey::config::Config;
use rekey::server::RunningServer;
use secrecy::{ExposeSecret, SecretString};
use tonic::transport::Channel;

mod calls;
mod clients;
pub mod softhsm;

pub use calls::{enc_req, token_request};
pub use clients::{Authed, Clients};
pub use rekey_testkit::pg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One keystore that servers can be started on, stopped and started again.
pub struct TestEnv {
    pub config: Config,
    temp: tempfile::TempDir,
    database: Option<pg::TestDatabase>,
}

impl TestEnv {
    /// A fresh keystore.
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, |_| {}).await
    }

    /// As `new`, with config changes applied before any server starts.
    pub async fn with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            http_listen: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin_url = pg::test_database_url().expect(
                    "the PostgreSQL suite needs REKEY_TEST_DATABASE_URL, e.g. \
                     postgres://root@127.0.0.1:5432/test",
                );
                let database = pg::fresh_database(&admin_url).await;
                config.database.url = Some(SecretString::from(database.url.clone()));
                config.keystore.master_key = Some(SecretString::from(random_root_key()));
                Some(database)
            }
        };
        config.admin_token = Some(SecretString::from(random_root_key()));
        adjust(&mut config);
        Self {
            config,
            temp: dir,
            database,
        }
    }

    pub async fn start(&self) -> TestServer {
        self.start_with(&self.config, Arc::new(SystemClock)).await
    }

    pub async fn start_with(&self, config: &Config, clock: Arc<dyn Clock>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = rekey::server::start(config, listener, clock)
            .await
            .expect("server starts");
        let channel = Channel::from_shared(format!("http://{}", server.grpc_addr()))
            .unwrap()
            .connect()
            .await
            .expect("client connects");
        let admin_token = config.admin_token.as_ref().expect("admin token");
        TestServer {
            server,
            clients: Clients::new(&channel, admin_token.expose_secret()),
            channel,
        }
    }

    /// The admin token the servers of this environment accept.
    pub fn admin_token(&self) -> String {
        self.config
            .admin_token
            .as_ref()
            .expect("admin token")
            .expose_secret()
            .to_owned()
    }

    /// A temporary folder for this test's files.
    pub fn dir(&self) -> &std::path::Path {
        self.temp.path()
    }

    /// A connection pool of its own to this environment's keystore database (SQLite file or
    /// PostgreSQL), for tests that read or alter rows behind the server's back.
    pub async fn keystore_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = self.database_url().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.config.data_dir.join("rekey.db").display()
            )
        });
        sqlx::AnyPool::connect(&url).await.unwrap()
    }

    /// The PostgreSQL test database (also usable as an application database).
    pub fn database_url(&self) -> Option<String> {
        self.database.as_ref().map(|d| d.url.clone())
    }

    /// Drops the PostgreSQL database; call at the end of a test (SQLite cleans itself up).
    pub async fn finish(self) {
        if let Some(db) = self.database {
            db.drop().await;
        }
    }
}

/// A running server and admin clients for it. It dereferences to its [`Clients`], so the
/// typed calls (`s.encrypt(..)`) and the raw clients (`s.client`, `s.rotation`, `s.admin`)
/// are reached on the server itself.
pub struct TestServer {
    pub server: RunningServer,
    /// For clients with other credentials, or none.
    pub channel: Channel,
    /// Clients authenticated with the admin token.
    clients: Clients,
}

impl TestServer {
    pub async fn stop(self) {
        drop(self.clients);
        drop(self.channel);
        self.server.shutdown().await.expect("clean shutdown");
    }
}

impl Deref for TestServer {
    type Target = Clients;

    fn deref(&self) -> &Clients {
        &self.clients
    }
}

impl DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Clients {
        &mut self.clients
    }
}

pub fn random_root_key() -> String {
    base64::engine::general_purpose::STANDARD
        .encode(rekey::crypto::KeyMaterial::generate().expose())
}

/// Runs each named `async fn(Backend)` case as two tests: `sqlite::name`, and `postgres::name`
/// which is ignored by a plain `cargo test` (it says why) and run by the PostgreSQL suite:
/// `REKEY_TEST_DATABASE_URL=postgres://… cargo test -- --ignored`.
#[macro_export]
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
                async fn $case() {
                    super::$case($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Runs each named `async fn(AppBackend)` case once per kind of migration target database:
/// `sqlite::name` (SQLite keystore and table), `postgres::name` (PostgreSQL keystore and table;
/// the PostgreSQL suite) and `mariadb::name` (a SQLite keystore migrating a MariaDB table; the
/// MariaDB suite, `REKEY_TEST_MYSQL_URL=mysql://… cargo test -- --ignored`).
#[macro_export]
macro_rules! on_every_target_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::app_db::AppBackend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "PostgreSQL suite: REKEY_TEST_DATABASE_URL=postgres://... cargo test -- --ignored"]
                async fn $case() {
                    super::$case($crate::app_db::AppBackend::Postgres).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "MariaDB suite: REKEY_TEST_MYSQL_URL=mysql://... cargo test -- --ignored"]
                async fn $case() {
                    super::$case($crate::app_db::AppBackend::MariaDb).await;
                }
            )*
        }
    };
}
