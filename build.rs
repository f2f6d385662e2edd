//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and emits the file descriptor
//! set that gRPC server reflection serves.

use std::{env, path::PathBuf};

/// Messages holding plaintext or key bytes. Keep in sync with the impls in `src/proto.rs`.
const SECRET_MESSAGES: [&str; 5] = [
    ".rekey.v1.EncryptRequest",
    ".rekey.v1.DecryptResponse",
    ".rekey.v1.GenerateDataKeyResponse",
    ".rekey.v1.SignRequest",
    ".rekey.v1.CreateTokenResponse",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // sqlx::migrate! embeds migrations/ but does not notice new files in it.
    println!("cargo:rerun-if-changed=migrations");
    let files = [
        "proto/rekey/v1/key_service.proto",
        "proto/rekey/v1/rotation_service.proto",
        "proto/rekey/v1/admin_service.proto",
    ];
    let descriptors = protox::compile(files, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("rekey_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Messages that carry plaintext or key bytes get a redacting Debug (src/proto.rs) instead
        // of the derived one, so they never reach a log by accident.
        .skip_debug(SECRET_MESSAGES)
        .compile_fds(descriptors)?;
    Ok(())
}
