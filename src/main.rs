//! The `rekey` binary: parse the command line and hand over to the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = rekey::cli::Cli::parse();
    match rekey::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rekey: error: {}", rekey::cli::error_message(&err));
            std::process::ExitCode::FAILURE
        }
    }
}
