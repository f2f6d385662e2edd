//! `rekey report`: the server's JSON report, or Markdown / CSV made from it.

use std::path::Path;

use super::args::{ReportArgs, ReportFormat};
use super::client::Conn;
use super::exit::{CliError, Exit};
use super::output::emit;
use super::report_json;
use crate::admin::report_text::{csv, markdown};
use crate::proto::GetReportRequest;

pub(super) async fn run(conn: &Conn, args: ReportArgs) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .get_report(GetReportRequest {
            kind: crate::api::report_proto::kind(args.kind) as i32,
            start_time: args.from,
            end_time: args.to,
        })
        .await?;
    let report = report_json::report(&reply)?;
    let format = args.format.unwrap_or(if conn.json {
        ReportFormat::Json
    } else {
        ReportFormat::Markdown
    });
    let text = match format {
        ReportFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::failed(format!("cannot encode JSON: {e}")))?;
            text.push('\n');
            text
        }
        ReportFormat::Markdown => markdown(args.kind, &report),
        ReportFormat::Csv => csv(args.kind, &report),
    };
    match &args.output {
        Some(path) => write_file(path, &text)?,
        None => emit(&text)?,
    }
    Ok(Exit::Success)
}

fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))
}
