//! The proto is compiled once, in `crates/rekey-proto`; this build script only tells Cargo
//! to rebuild when a migration is added, because `sqlx::migrate!` embeds `migrations/` but does
//! not notice new files in it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
