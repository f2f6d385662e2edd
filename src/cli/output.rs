//! Human output (aligned plain-text tables, times, durations) and JSON printing.

use std::io::Write as _;

use prost_types::{Duration, Timestamp};

use super::exit::CliError;

/// Plain columns separated by two spaces, padded to the widest cell.
#[derive(Debug, Default)]
pub(super) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `headers`.
    pub(super) fn new(headers: &[&str]) -> Self {
        Self {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// A table without a header row (e.g. name/value pairs).
    pub(super) fn plain() -> Self {
        Self::default()
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(super) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths[i] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes `text` to stdout.
pub(super) fn emit(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub(super) fn emit_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failed(format!("cannot encode JSON: {e}")))?;
    emit(&format!("{text}\n"))
}

/// RFC 3339 UTC to the second, or None when unset or out of range.
pub(super) fn rfc3339(ts: Option<&Timestamp>) -> Option<String> {
    let ts = ts?;
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// RFC 3339, or "-" when unset.
pub(super) fn time(ts: Option<&Timestamp>) -> String {
    rfc3339(ts).unwrap_or_else(|| "-".into())
}

/// "89d 23h", "5h 3m", "4m 10s", "42s"; "-" when unset.
pub(super) fn duration(d: Option<&Duration>) -> String {
    match d {
        Some(d) => human_secs(d.seconds),
        None => "-".into(),
    }
}

pub(super) fn human_secs(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// `text`, or "-" when empty.
pub(super) fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_the_last() {
        let mut t = Table::new(&["KEY", "V"]);
        t.row(vec!["TOKEN_ENCRYPTION".into(), "2".into()]);
        t.row(vec!["A".into(), "10".into()]);
        assert_eq!(
            t.render(),
            "KEY               V\nTOKEN_ENCRYPTION  2\nA                 10\n"
        );
    }

    #[test]
    fn durations_and_times_read_well() {
        assert_eq!(human_secs(90 * 86_400 + 7200), "90d 2h");
        assert_eq!(human_secs(3 * 3600 + 120), "3h 2m");
        assert_eq!(human_secs(61), "1m 1s");
        assert_eq!(human_secs(5), "5s");
        let ts = Timestamp {
            seconds: 86_400,
            nanos: 0,
        };
        assert_eq!(time(Some(&ts)), "1970-01-02T00:00:00Z");
        assert_eq!(time(None), "-");
    }
}
