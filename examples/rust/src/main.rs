//! `records`: a tiny service that keeps customer records in SQLite with one encrypted column.
//!
//! The `secret` column holds Rekey envelope ciphertexts sealed on this machine by
//! `rekey-client`: one GenerateDataKey call serves thousands of rows (the data key is cached
//! for `REKEY_CACHE_SECS`, default 300 s), and every row still gets a key of its own. The
//! row's id is the associated data, so a ciphertext copied onto another row does not decrypt.
//!
//! ```sh
//! export REKEY_ADDR=http://127.0.0.1:50051 REKEY_TOKEN=…   # a client token for TOKEN_ENCRYPTION
//! records add alice "4111 1111 1111 1111"
//! records show
//! ```
//!
//! Environment: what `rekey_client::Client::from_env` reads (REKEY_ADDR, REKEY_TOKEN or
//! REKEY_TOKEN_FILE, REKEY_CA_FILE, ...), plus RECORDS_DB (default `records.db`) and
//! RECORDS_KEY (default `TOKEN_ENCRYPTION`). Exit codes: 0 done, 1 failed, 2 usage.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use rekey_client::{CachePolicy, Client, EnvelopeCipher};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::Row;

const USAGE: &str = "usage: records add <name> <secret> | records show";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["add", name, secret] => Command::Add(name.to_owned(), secret.to_owned()),
        ["show"] => Command::Show,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the chain: what failed, then the client's typed error.
            eprintln!("records: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Command {
    Add(String, String),
    Show,
}

async fn run(command: Command) -> anyhow::Result<()> {
    let db = open_db().await?;
    let client = Client::from_env().await.context("connect to Rekey")?;
    let key = std::env::var("RECORDS_KEY").unwrap_or_else(|_| "TOKEN_ENCRYPTION".to_owned());
    let cache_secs = match std::env::var("REKEY_CACHE_SECS") {
        Ok(s) => s
            .parse()
            .context("REKEY_CACHE_SECS must be a number of seconds")?,
        Err(_) => 300,
    };
    // Reuse one data key for at most 5 minutes and 100,000 rows; decryption keeps the
    // unwrapped data keys of recent rows for the same time.
    let policy = CachePolicy::new(Duration::from_secs(cache_secs)).max_messages(100_000);
    let cipher = client.envelope(&key, policy)?;
    match command {
        Command::Add(name, secret) => add(&db, &cipher, &name, &secret).await,
        Command::Show => show(&db, &cipher).await,
    }
}

async fn open_db() -> anyhow::Result<SqlitePool> {
    let path = std::env::var("RECORDS_DB").unwrap_or_else(|_| "records.db".to_owned());
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let db = SqlitePool::connect_with(options)
        .await
        .with_context(|| format!("open {path}"))?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS records (
             id     INTEGER PRIMARY KEY,
             name   TEXT NOT NULL,
             secret BLOB NOT NULL
         )",
    )
    .execute(&db)
    .await?;
    Ok(db)
}

/// The associated data of a row: its id, so a ciphertext only decrypts on the row it was
/// written for.
fn row_aad(id: i64) -> Vec<u8> {
    format!("records/{id}").into_bytes()
}

async fn add(
    db: &SqlitePool,
    cipher: &EnvelopeCipher,
    name: &str,
    secret: &str,
) -> anyhow::Result<()> {
    // The id is chosen first (in the transaction) because the ciphertext binds it.
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM records")
        .fetch_one(&mut *tx)
        .await?
        .get(0);
    let sealed = cipher
        .encrypt(secret.as_bytes(), &row_aad(id))
        .await
        .context("encrypt the secret")?;
    sqlx::query("INSERT INTO records (id, name, secret) VALUES (?, ?, ?)")
        .bind(id)
        .bind(name)
        .bind(sealed)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    println!("added record {id} ({name})");
    Ok(())
}

async fn show(db: &SqlitePool, cipher: &EnvelopeCipher) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT id, name, secret FROM records ORDER BY id")
        .fetch_all(db)
        .await?;
    for row in rows {
        let id: i64 = row.get(0);
        let name: String = row.get(1);
        let sealed: Vec<u8> = row.get(2);
        let secret = cipher
            .decrypt(&sealed, &row_aad(id))
            .await
            .with_context(|| format!("decrypt record {id}"))?;
        let Ok(secret) = std::str::from_utf8(&secret) else {
            bail!("record {id}: the secret is not UTF-8");
        };
        println!("{id}\t{name}\t{secret}");
    }
    let stats = cipher.stats();
    eprintln!(
        "data keys unwrapped by Rekey: {} (cached: {} rows)",
        stats.decrypt_misses, stats.decrypt_hits
    );
    Ok(())
}
