//! The Rust side of the cross-language check (`scripts/cross-lang.sh`): envelope values made
//! by one client must open with every other. Against the server in `REKEY_ADDR` with
//! `REKEY_TOKEN`, key `TOKEN_ENCRYPTION`:
//!
//! - `cross_lang encrypt OUT.json`: 20 envelope values and 5 stream ciphertexts made by this
//!   client's `EnvelopeCipher`;
//! - `cross_lang decrypt IN.json`: opens every value and stream of a file made by any client
//!   and checks its plaintext (a stream whole, and one byte range of it); exits 1 naming the
//!   first that does not open.
//!
//! The file format is shared with the Python and TypeScript drivers:
//! `{"made_by", "key_name", "values": [{"plaintext_hex", "associated_data_hex", "value_hex"}],
//!   "streams": [{"plaintext_hex", "associated_data_hex", "segment_size", "value_hex"}]}`.

use std::process::ExitCode;
use std::time::Duration;

use rekey_client::{CachePolicy, ClientBuilder, StreamOptions};
use serde_json::{json, Value};

const KEY: &str = "TOKEN_ENCRYPTION";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [verb, path] if verb == "encrypt" => encrypt(path).await,
        [verb, path] if verb == "decrypt" => decrypt(path).await,
        _ => Err("usage: cross_lang encrypt OUT.json | cross_lang decrypt IN.json".into()),
    };
    match result {
        Ok(summary) => {
            println!("rust: {summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("rust: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn cipher() -> Result<rekey_client::EnvelopeCipher, String> {
    let client = ClientBuilder::from_env()
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    client
        .envelope(KEY, CachePolicy::new(Duration::from_secs(300)))
        .map_err(|e| e.to_string())
}

/// The streams each driver writes: (plaintext length, segment size).
const STREAMS: [(usize, u32); 5] = [
    (0, 256),
    (1, 256),
    (256, 256),
    (1000, 256),
    (200_000, 65_536),
];

/// Plaintexts of 0, 1, 1 KiB and 100,000 bytes among 20, each with its own associated data.
fn plaintext(i: usize) -> Vec<u8> {
    let len = match i {
        0 => 0,
        1 => 1,
        2 => 1024,
        3 => 100_000,
        _ => 7 * i,
    };
    (0..len).map(|j| ((i * 31 + j) % 256) as u8).collect()
}

async fn encrypt(path: &str) -> Result<String, String> {
    let cipher = cipher().await?;
    let mut values = Vec::new();
    for i in 0..20 {
        let pt = plaintext(i);
        let ad = if i % 5 == 4 {
            Vec::new()
        } else {
            format!("row={i}").into_bytes()
        };
        let value = cipher.encrypt(&pt, &ad).await.map_err(|e| e.to_string())?;
        values.push(json!({
            "plaintext_hex": hex::encode(&pt),
            "associated_data_hex": hex::encode(&ad),
            "value_hex": hex::encode(&value),
        }));
    }
    let mut streams = Vec::new();
    for (i, (len, segment_size)) in STREAMS.into_iter().enumerate() {
        let pt = plaintext(100 + i)
            .into_iter()
            .cycle()
            .take(len)
            .collect::<Vec<_>>();
        let ad = format!("file={i}").into_bytes();
        let mut value = Vec::new();
        let options = StreamOptions::default().segment_size(segment_size);
        cipher
            .encrypt_stream(&mut &pt[..], &mut value, &ad, options)
            .await
            .map_err(|e| e.to_string())?;
        streams.push(json!({
            "plaintext_hex": hex::encode(&pt),
            "associated_data_hex": hex::encode(&ad),
            "segment_size": segment_size,
            "value_hex": hex::encode(&value),
        }));
    }
    let count = values.len();
    let file = json!({"made_by": "rust", "key_name": KEY, "values": values, "streams": streams});
    std::fs::write(path, file.to_string()).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(format!(
        "wrote {count} values and {} streams to {path}",
        STREAMS.len()
    ))
}

async fn decrypt(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let made_by = file["made_by"].as_str().unwrap_or("?").to_owned();
    let values = file["values"]
        .as_array()
        .ok_or_else(|| format!("{path}: no values"))?;
    let cipher = cipher().await?;
    let field = |v: &Value, name: &str| -> Result<Vec<u8>, String> {
        hex::decode(v[name].as_str().unwrap_or_default()).map_err(|e| format!("{name}: {e}"))
    };
    for (i, v) in values.iter().enumerate() {
        let opened = cipher
            .decrypt(&field(v, "value_hex")?, &field(v, "associated_data_hex")?)
            .await
            .map_err(|e| format!("value {i} made by {made_by} does not open: {e}"))?;
        if opened.as_slice() != field(v, "plaintext_hex")? {
            return Err(format!("value {i} made by {made_by} opened to other bytes"));
        }
    }
    let streams = file["streams"]
        .as_array()
        .ok_or_else(|| format!("{path}: no streams"))?;
    for (i, v) in streams.iter().enumerate() {
        let (value, ad, pt) = (
            field(v, "value_hex")?,
            field(v, "associated_data_hex")?,
            field(v, "plaintext_hex")?,
        );
        let mut opened = Vec::new();
        cipher
            .decrypt_stream(&value[..], &mut opened, &ad)
            .await
            .map_err(|e| format!("stream {i} made by {made_by} does not open: {e}"))?;
        let (from, to) = (pt.len() as u64 / 3, pt.len() as u64 - pt.len() as u64 / 4);
        let range = cipher
            .decrypt_range(&mut std::io::Cursor::new(value), from..to, &ad)
            .await
            .map_err(|e| format!("a range of stream {i} made by {made_by}: {e}"))?;
        if opened != pt || range.as_slice() != &pt[from as usize..to as usize] {
            return Err(format!(
                "stream {i} made by {made_by} opened to other bytes"
            ));
        }
    }
    Ok(format!(
        "opened all {} values and {} streams made by {made_by}",
        values.len(),
        streams.len()
    ))
}
