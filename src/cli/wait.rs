//! `--wait`: follow an event until it ends, with a progress bar on stderr (redrawn in place on
//! a terminal, one line per second otherwise).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use super::client::Conn;
use super::exit::{CliError, Exit};
use super::json;
use super::output::{emit, emit_json};
use crate::proto::{
    GetEventRequest, GetImpactRequest, RotationEvent, RotationEventStatus as EventStatus,
};

const POLL: Duration = Duration::from_millis(250);
const LINE_EVERY: Duration = Duration::from_secs(1);
const BAR_WIDTH: usize = 30;
/// Consecutive UNAVAILABLE answers tolerated while following (a replica restarting).
const UNAVAILABLE_RETRIES: u32 = 40;

/// The status the command wants the event to end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Goal {
    Completed,
    RolledBack,
}

impl Goal {
    fn status(self) -> i32 {
        match self {
            Goal::Completed => EventStatus::Completed as i32,
            Goal::RolledBack => EventStatus::RolledBack as i32,
        }
    }
}

fn finished(status: i32) -> bool {
    matches!(
        EventStatus::try_from(status),
        Ok(EventStatus::Completed | EventStatus::Failed | EventStatus::RolledBack)
    )
}

/// Polls the event until it is completed, failed or rolled back; prints it (a summary, or
/// JSON with --json) and returns Success when it ended as `goal` wants, Failed otherwise.
pub(super) async fn follow(conn: &Conn, event_id: &str, goal: Goal) -> Result<Exit, CliError> {
    // The bar's total: records still to move (read before the event's counts, so that a batch
    // written in between is counted twice rather than never), plus those already moved.
    let key = get(conn, event_id).await?.key_name;
    let remaining = conn
        .rpc()
        .get_impact(GetImpactRequest { key_name: key })
        .await
        .ok()
        .map(|r| r.records_to_migrate);
    let mut event = get(conn, event_id).await?;
    let total = remaining.map(|r| r + migrated(&event));
    let mut bar = Bar::new(std::io::stderr().is_terminal(), total);
    loop {
        bar.show(&event);
        if finished(event.status) {
            break;
        }
        tokio::time::sleep(POLL).await;
        event = get(conn, event_id).await?;
    }
    bar.done();
    if conn.json {
        emit_json(&json::event(&event))?;
    } else {
        emit(&summary(&event))?;
    }
    if event.status == goal.status() {
        return Ok(Exit::Success);
    }
    let why = if event.last_error.is_empty() {
        String::new()
    } else {
        format!(": {}", event.last_error)
    };
    eprintln!(
        "rekey: error: event {} ended {}{why}",
        event.event_id,
        json::event_status(event.status)
    );
    Ok(Exit::Failed)
}

async fn get(conn: &Conn, event_id: &str) -> Result<RotationEvent, CliError> {
    let mut attempts = 0;
    loop {
        let answer = conn
            .rpc()
            .get_event(GetEventRequest {
                event_id: event_id.to_owned(),
            })
            .await;
        match answer {
            Ok(reply) => return json::answered_event(reply.event),
            // The client already retried this call; a replica restarting takes longer.
            Err(rekey_client::Error::Unavailable { .. }) if attempts < UNAVAILABLE_RETRIES => {
                attempts += 1;
                tokio::time::sleep(POLL).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

fn migrated(event: &RotationEvent) -> u64 {
    event.totals.as_ref().map_or(0, |t| t.migrated)
}

fn summary(e: &RotationEvent) -> String {
    let t = e.totals.unwrap_or_default();
    let secs = match (&e.started_at, &e.finished_at) {
        (Some(s), Some(f)) => {
            let ms = (f.seconds - s.seconds) * 1000 + i64::from((f.nanos - s.nanos) / 1_000_000);
            format!(" in {:.1} s", ms as f64 / 1000.0)
        }
        _ => String::new(),
    };
    format!(
        "event {} {}: {} of {} records migrated ({} already current, {} skipped, {} failed){secs}, {:.0} records/s\n",
        e.event_id,
        json::event_status(e.status),
        t.migrated,
        t.total,
        t.already_current,
        t.skipped,
        t.failed,
        e.records_per_second
    )
}

/// Renders progress lines on stderr.
struct Bar {
    tty: bool,
    total: Option<u64>,
    last_line: Option<Instant>,
    drawn: bool,
}

impl Bar {
    fn new(tty: bool, total: Option<u64>) -> Self {
        Self {
            tty,
            total,
            last_line: None,
            drawn: false,
        }
    }

    fn show(&mut self, event: &RotationEvent) {
        let done = finished(event.status);
        let line = line(event, self.total);
        let mut stderr = std::io::stderr().lock();
        if self.tty {
            let _ = write!(stderr, "\r{line}\x1b[K");
            self.drawn = true;
        } else if done || self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
            let _ = writeln!(stderr, "{line}");
            self.last_line = Some(Instant::now());
        }
        let _ = stderr.flush();
    }

    fn done(&mut self) {
        if self.tty && self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `[#####-----] 500/1000  50%  250 records/s  in_progress`.
fn line(event: &RotationEvent, total: Option<u64>) -> String {
    let migrated = migrated(event);
    let status = if event.rolling_back && !finished(event.status) {
        format!("{} (rolling back)", json::event_status(event.status))
    } else {
        json::event_status(event.status)
    };
    let rate = event.records_per_second;
    let Some(total) = total else {
        let examined = event.totals.as_ref().map_or(0, |t| t.total);
        return format!("migrated {migrated} (examined {examined})  {rate:.0} records/s  {status}");
    };
    let completed = event.status == EventStatus::Completed as i32;
    // The total was an estimate (a batch written while it was read counts twice); once the
    // event completed, what it migrated is the total.
    let total = if completed {
        migrated
    } else {
        total.max(migrated)
    };
    let fraction = if completed {
        1.0
    } else if total == 0 {
        0.0
    } else {
        migrated as f64 / total as f64
    };
    let filled = ((fraction * BAR_WIDTH as f64).round() as usize).min(BAR_WIDTH);
    format!(
        "[{}{}] {migrated}/{total} {:>3.0}%  {rate:.0} records/s  {status}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        fraction * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::MigrationCounts;

    fn event(status: EventStatus, migrated: u64) -> RotationEvent {
        RotationEvent {
            event_id: "evt-1".into(),
            status: status as i32,
            records_per_second: 1234.4,
            totals: Some(MigrationCounts {
                total: migrated,
                migrated,
                ..MigrationCounts::default()
            }),
            ..RotationEvent::default()
        }
    }

    #[test]
    fn the_bar_shows_counts_rate_and_status() {
        let half = line(&event(EventStatus::InProgress, 50), Some(100));
        assert_eq!(
            half,
            "[###############---------------] 50/100  50%  1234 records/s  in_progress"
        );
        assert!(line(&event(EventStatus::Completed, 100), Some(90)).contains("100/100 100%"));
        assert!(line(&event(EventStatus::Completed, 0), Some(0)).contains("0/0 100%"));
        assert!(line(&event(EventStatus::Pending, 0), Some(0)).contains("0/0   0%"));
        assert!(line(&event(EventStatus::Pending, 0), None).starts_with("migrated 0 (examined 0)"));
    }
}
