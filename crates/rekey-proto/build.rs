//! Compiles the workspace's `proto/` with protox (pure Rust, no system `protoc`) into the
//! `rekey.v1` types and stubs, and emits the file descriptor set that gRPC reflection serves.

use std::{env, path::PathBuf};

/// Messages holding plaintext or key bytes. Keep in sync with the impls in `src/lib.rs`.
const SECRET_MESSAGES: [&str; 5] = [
    ".rekey.v1.EncryptRequest",
    ".rekey.v1.DecryptResponse",
    ".rekey.v1.GenerateDataKeyResponse",
    ".rekey.v1.SignRequest",
    ".rekey.v1.CreateTokenResponse",
];

/// The public API lives at the workspace root (`proto/`, the buf module) so that every
/// language's client generates from the same files.
const PROTO_ROOT: &str = "../../proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let files = [
        "rekey/v1/key_service.proto",
        "rekey/v1/rotation_service.proto",
        "rekey/v1/admin_service.proto",
        "rekey/v1/errors.proto",
    ]
    .map(|f| format!("{PROTO_ROOT}/{f}"));
    let descriptors = protox::compile(files, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("rekey_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Messages that carry plaintext or key bytes get a redacting Debug (src/lib.rs) instead
        // of the derived one, so they never reach a log by accident.
        .skip_debug(SECRET_MESSAGES)
        .compile_fds(descriptors)?;
    Ok(())
}
