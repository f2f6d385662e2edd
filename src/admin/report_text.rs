//! A report's text forms, Markdown and CSV, made from its JSON: one renderer for every face
//! (`rekey report --format`, `GET /api/v1/key-rotation/report?format=`, the console's
//! downloads).

use serde_json::Value;

use super::reports::ReportKind;

/// How a column's cell is taken from a record.
enum Cell {
    /// The value at a JSON pointer.
    At(&'static str),
    /// The length of the array at a pointer.
    Count(&'static str),
    /// The sum of one field over the array at a pointer.
    Sum(&'static str, &'static str),
    /// "a:b" for each object of the array at a pointer, space-separated.
    Pairs(&'static str, &'static str, &'static str),
}

struct Column(&'static str, Cell);

const EVENT_COLUMNS: &[Column] = &[
    Column("event_id", Cell::At("/event_id")),
    Column("key_type", Cell::At("/key_type")),
    Column("from_version", Cell::At("/from_version")),
    Column("to_version", Cell::At("/to_version")),
    Column("trigger", Cell::At("/trigger")),
    Column("status", Cell::At("/status")),
    Column("created_at", Cell::At("/created_at")),
    Column("duration_secs", Cell::At("/duration_secs")),
    Column("records_total", Cell::At("/records/total")),
    Column("migrated", Cell::At("/records/migrated")),
    Column("already_current", Cell::At("/records/already_current")),
    Column("skipped", Cell::At("/records/skipped")),
    Column("failed", Cell::At("/records/failed")),
    Column("records_per_second", Cell::At("/records_per_second")),
    Column("last_error", Cell::At("/last_error")),
];

const WEEKLY_KEY_COLUMNS: &[Column] = &[
    Column("key_type", Cell::At("/key_type")),
    Column("primary_version", Cell::At("/primary_version")),
    Column("versions", Cell::Pairs("/versions", "version", "state")),
    Column("primary_age_secs", Cell::At("/primary_age_secs")),
    Column("next_rotation_due", Cell::At("/next_rotation_due")),
    Column("alert_level", Cell::At("/alert_level")),
    Column("rotations_in_period", Cell::At("/rotations_in_period")),
    Column("alert_reason", Cell::At("/alert_reason")),
];

const QUARTERLY_KEY_COLUMNS: &[Column] = &[
    Column("key_type", Cell::At("/key_type")),
    Column("purpose", Cell::At("/purpose")),
    Column(
        "rotation_interval_secs",
        Cell::At("/policy/rotation_interval_secs"),
    ),
    Column("grace_period_secs", Cell::At("/policy/grace_period_secs")),
    Column("rotations", Cell::Count("/rotations")),
    Column("overdue_periods", Cell::Count("/overdue_periods")),
    Column("overdue_secs", Cell::Sum("/overdue_periods", "secs")),
    Column(
        "versions_past_grace",
        Cell::Pairs("/versions_in_use_past_grace", "version", "records"),
    ),
    Column("compliant", Cell::At("/compliant")),
];

const OVERDUE_COLUMNS: &[Column] = &[
    Column("key_type", Cell::At("/key_type")),
    Column("from", Cell::At("/from")),
    Column("to", Cell::At("/to")),
    Column("secs", Cell::At("/secs")),
];

/// The report's list of records (one CSV row each) and its columns.
fn main_list(kind: ReportKind) -> (&'static str, &'static [Column]) {
    match kind {
        ReportKind::PostRotation | ReportKind::Monthly => ("events", EVENT_COLUMNS),
        ReportKind::Weekly => ("keys", WEEKLY_KEY_COLUMNS),
        ReportKind::Quarterly => ("keys", QUARTERLY_KEY_COLUMNS),
    }
}

fn title(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::PostRotation => "Post-rotation report",
        ReportKind::Weekly => "Weekly key status report",
        ReportKind::Monthly => "Monthly rotation performance report",
        ReportKind::Quarterly => "Quarterly compliance report",
    }
}

/// A scalar as text: strings bare, null empty; in `short` form, fractions to two places.
fn scalar(value: &Value, short: bool) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) if short && n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => items
            .iter()
            .map(|v| scalar(v, short))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn cell(record: &Value, cell: &Cell, short: bool) -> String {
    let array = |path: &str| {
        record
            .pointer(path)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    match *cell {
        Cell::At(path) => record
            .pointer(path)
            .map_or(String::new(), |v| scalar(v, short)),
        Cell::Count(path) => array(path).len().to_string(),
        Cell::Sum(path, field) => array(path)
            .iter()
            .filter_map(|item| item.get(field).and_then(Value::as_f64))
            .fold(0.0, |sum, n| sum + n)
            .to_string(),
        Cell::Pairs(path, a, b) => array(path)
            .iter()
            .map(|item| {
                let part = |f: &str| item.get(f).map_or(String::new(), |v| scalar(v, short));
                format!("{}:{}", part(a), part(b))
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn records<'a>(report: &'a Value, list: &str) -> &'a [Value] {
    report
        .get(list)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A header row, then one row per event (post_rotation, monthly) or per key (weekly,
/// quarterly).
pub(crate) fn csv(kind: ReportKind, report: &Value) -> String {
    let (list, columns) = main_list(kind);
    let mut out = String::new();
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for record in records(report, list) {
        let row: Vec<String> = columns
            .iter()
            .map(|c| csv_field(&cell(record, &c.1, false)))
            .collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn md_table(out: &mut String, heading: &str, rows: &[Value], columns: &[Column]) {
    out.push_str(&format!("\n## {heading}\n\n"));
    if rows.is_empty() {
        out.push_str("None in this period.\n");
        return;
    }
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(columns.len())));
    for record in rows {
        let row: Vec<String> = columns
            .iter()
            .map(|c| md_escape(&cell(record, &c.1, true)))
            .collect();
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
}

fn label(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
}

/// A title, the period, the report's summary figures, then a table per list of records.
pub(crate) fn markdown(kind: ReportKind, report: &Value) -> String {
    let get = |k: &str| report.get(k).map_or(String::new(), |v| scalar(v, true));
    let mut out = format!(
        "# {}\n\nPeriod: {} to {} (generated {})\n",
        title(kind),
        get("from"),
        get("to"),
        get("generated_at")
    );
    let summary: Vec<(&String, &Value)> = report
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "kind" | "from" | "to" | "generated_at")
                && !v.is_object()
                && !v.as_array().is_some_and(|a| a.iter().any(Value::is_object))
        })
        .collect();
    if !summary.is_empty() {
        out.push('\n');
        for (k, v) in summary {
            out.push_str(&format!("- {}: {}\n", label(k), scalar(v, true)));
        }
    }
    let (list, columns) = main_list(kind);
    md_table(&mut out, &label(list), records(report, list), columns);
    if kind == ReportKind::Quarterly {
        let keys = records(report, "keys");
        let nested = |field: &str| -> Vec<Value> {
            keys.iter()
                .flat_map(|k| {
                    let key = k.get("key_type").cloned().unwrap_or(Value::Null);
                    records(k, field).iter().map(move |item| {
                        let mut item = item.clone();
                        if let Value::Object(map) = &mut item {
                            map.entry("key_type").or_insert_with(|| key.clone());
                        }
                        item
                    })
                })
                .collect()
        };
        md_table(&mut out, "Rotations", &nested("rotations"), EVENT_COLUMNS);
        md_table(
            &mut out,
            "Overdue periods",
            &nested("overdue_periods"),
            OVERDUE_COLUMNS,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quarterly() -> Value {
        json!({
            "kind": "quarterly", "from": "2025-01-01T00:00:00Z", "to": "2025-04-01T00:00:00Z",
            "generated_at": "2025-04-01T00:00:00Z", "standards": ["SOX", "PCI DSS", "GDPR"],
            "keys": [
                {"key_type": "A", "purpose": "encrypt_decrypt",
                 "policy": {"rotation_interval_secs": 7776000, "grace_period_secs": 2592000},
                 "rotations": [{"event_id": "evt-1", "status": "completed", "records": {"migrated": 5}}],
                 "overdue_periods": [{"from": "x", "to": "y", "secs": 259200}],
                 "versions_in_use_past_grace": [{"version": 1, "records": 7}],
                 "compliant": false},
                {"key_type": "B, \"quoted\"", "purpose": "sign_verify", "policy": {},
                 "rotations": [], "overdue_periods": [], "versions_in_use_past_grace": [],
                 "compliant": true}
            ]
        })
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_key() {
        let text = csv(ReportKind::Quarterly, &quarterly());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("key_type,purpose,rotation_interval_secs"));
        assert_eq!(
            lines[1],
            "A,encrypt_decrypt,7776000,2592000,1,1,259200,1:7,false"
        );
        assert!(lines[2].starts_with("\"B, \"\"quoted\"\"\",sign_verify"));
        assert!(lines[2].ends_with(",0,0,0,,true"), "{}", lines[2]);
    }

    #[test]
    fn markdown_has_title_period_summary_and_tables() {
        let text = markdown(ReportKind::Quarterly, &quarterly());
        assert!(text.starts_with("# Quarterly compliance report\n\nPeriod: 2025-01-01T00:00:00Z"));
        assert!(text.contains("- Standards: SOX, PCI DSS, GDPR\n"));
        assert!(text.contains("## Keys\n\n| key_type | purpose |"));
        assert!(text.contains("| evt-1 | A |"));
        assert!(text.contains("## Overdue periods"));
        let empty = markdown(ReportKind::PostRotation, &json!({"events": []}));
        assert!(empty.contains("## Events\n\nNone in this period.\n"));
    }
}
