//! `rekey events list|show|retry|execute|rollback`.

use super::args::EventsCommand;
use super::client::Conn;
use super::exit::{CliError, Exit};
use super::json;
use super::output::{emit, emit_json, or_dash, time, Table};
use super::wait::{self, Goal};
use crate::proto::{
    ExecuteEventRequest, GetEventRequest, ListEventsRequest, RetryEventRequest,
    RollbackEventRequest, RotationEvent,
};

pub(super) async fn run(conn: &Conn, command: EventsCommand) -> Result<Exit, CliError> {
    match command {
        EventsCommand::List { key, status, limit } => list(conn, key, status, limit).await,
        EventsCommand::Show { id } => show(conn, id).await,
        EventsCommand::Retry { id, wait } => {
            let request = RetryEventRequest {
                event_id: id.clone(),
            };
            let event = json::answered_event(conn.rpc().retry_event(request).await?.event)?;
            started(
                conn,
                &event,
                "resumed from its checkpoint",
                wait,
                Goal::Completed,
            )
            .await
        }
        EventsCommand::Execute {
            id,
            batch_size,
            wait,
        } => {
            let request = ExecuteEventRequest {
                event_id: id.clone(),
                batch_size: batch_size.map_or(0, u32::from),
            };
            let event = json::answered_event(conn.rpc().execute_event(request).await?.event)?;
            started(conn, &event, "running", wait, Goal::Completed).await
        }
        EventsCommand::Rollback { id, wait } => {
            let request = RollbackEventRequest {
                event_id: id.clone(),
            };
            let event = json::answered_event(conn.rpc().rollback_event(request).await?.event)?;
            let what = format!(
                "rolling back: version {} of {} is primary again",
                event.from_version, event.key_name
            );
            started(conn, &event, &what, wait, Goal::RolledBack).await
        }
    }
}

/// After retry/execute/rollback: print the event, or follow it with --wait.
async fn started(
    conn: &Conn,
    event: &RotationEvent,
    what: &str,
    wait: bool,
    goal: Goal,
) -> Result<Exit, CliError> {
    if !conn.json {
        emit(&format!(
            "event {} {what} (status {})\n",
            event.event_id,
            json::event_status(event.status)
        ))?;
    } else if !wait {
        emit_json(&json::event(event))?;
    }
    if wait {
        return wait::follow(conn, &event.event_id, goal).await;
    }
    Ok(Exit::Success)
}

async fn list(
    conn: &Conn,
    key: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .list_events(ListEventsRequest {
            key_name: key.unwrap_or_default(),
            status: status.as_deref().map_or(Ok(0), json::event_status_value)?,
            limit: limit.unwrap_or(0),
        })
        .await?;
    if conn.json {
        emit_json(&json::events(&reply.events))?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new(&[
        "EVENT", "KEY", "VERSIONS", "TRIGGER", "STATUS", "MIGRATED", "FAILED", "CREATED",
        "FINISHED",
    ]);
    for e in &reply.events {
        let totals = e.totals.unwrap_or_default();
        table.row(vec![
            e.event_id.clone(),
            e.key_name.clone(),
            format!("{} -> {}", e.from_version, e.to_version),
            json::trigger(e.trigger),
            status_words(e),
            totals.migrated.to_string(),
            totals.failed.to_string(),
            time(e.created_at.as_ref()),
            time(e.finished_at.as_ref()),
        ]);
    }
    emit(&table.render())?;
    Ok(Exit::Success)
}

fn status_words(e: &RotationEvent) -> String {
    if e.rolling_back {
        format!("{} (rolling back)", json::event_status(e.status))
    } else {
        json::event_status(e.status)
    }
}

async fn show(conn: &Conn, id: String) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .get_event(GetEventRequest { event_id: id })
        .await?;
    let e = json::answered_event(reply.event)?;
    if conn.json {
        emit_json(&json::event(&e))?;
        return Ok(Exit::Success);
    }
    let t = e.totals.unwrap_or_default();
    let rate_limit = match e.rate_limit {
        0 => "unlimited".to_owned(),
        n => format!("{n} records/s"),
    };
    let mut fields = Table::plain();
    for (name, value) in [
        ("event", e.event_id.clone()),
        ("key", e.key_name.clone()),
        (
            "versions",
            format!("{} -> {}", e.from_version, e.to_version),
        ),
        (
            "trigger",
            format!("{} (by {})", json::trigger(e.trigger), e.actor),
        ),
        ("status", status_words(&e)),
        ("created", time(e.created_at.as_ref())),
        ("started", time(e.started_at.as_ref())),
        ("finished", time(e.finished_at.as_ref())),
        (
            "batch size",
            format!("{} (rate limit: {rate_limit})", e.batch_size),
        ),
        (
            "records",
            format!(
                "{} examined, {} migrated, {} already current, {} skipped, {} failed",
                t.total, t.migrated, t.already_current, t.skipped, t.failed
            ),
        ),
        (
            "speed",
            format!(
                "{:.0} records/s ({:.0} records/s while working, rate limit {})",
                e.records_per_second,
                e.work_records_per_second,
                match e.rate_limit {
                    0 => "none".to_owned(),
                    n => format!("{n}/s"),
                }
            ),
        ),
        ("last error", or_dash(&e.last_error)),
    ] {
        fields.row(vec![format!("{name}:"), value]);
    }
    let mut out = fields.render();
    if !e.targets.is_empty() {
        let mut targets = Table::new(&[
            "TARGET",
            "DONE",
            "EXAMINED",
            "MIGRATED",
            "CURRENT",
            "SKIPPED",
            "FAILED",
            "CHECKPOINT",
        ]);
        for target in &e.targets {
            let c = target.counts.unwrap_or_default();
            targets.row(vec![
                target.target.clone(),
                if target.done { "yes" } else { "no" }.into(),
                c.total.to_string(),
                c.migrated.to_string(),
                c.already_current.to_string(),
                c.skipped.to_string(),
                c.failed.to_string(),
                or_dash(&target.checkpoint),
            ]);
        }
        out.push('\n');
        out.push_str(&targets.render());
        for target in e.targets.iter().filter(|t| !t.failed_ids.is_empty()) {
            out.push_str(&format!(
                "failed rows in {}: {}\n",
                target.target,
                target.failed_ids.join(", ")
            ));
        }
    }
    emit(&out)?;
    Ok(Exit::Success)
}
