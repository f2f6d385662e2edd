//! `rekey status`, `impact`, `rotate`, `rollback` and `schedule`.

use super::args::{RollbackArgs, RotateArgs};
use super::client::Conn;
use super::exit::{CliError, Exit};
use super::json;
use super::output::{duration, emit, emit_json, or_dash, time, Table};
use super::wait::{self, Goal};
use crate::proto::{
    GetImpactRequest, GetScheduleRequest, GetStatusRequest, RollbackRequest,
    ScheduleRotationRequest, VersionImpact,
};

pub(super) async fn status(conn: &Conn, key: Option<String>) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .get_status(GetStatusRequest {
            key_name: key.unwrap_or_default(),
        })
        .await?;
    if conn.json {
        emit_json(&json::status(&reply))?;
        return Ok(Exit::Success);
    }
    let mut table = Table::new(&[
        "KEY",
        "PURPOSE",
        "PRIMARY",
        "VERSIONS",
        "AGE",
        "NEXT ROTATION DUE",
        "ALERT",
        "REASON",
    ]);
    for k in &reply.keys {
        let versions: Vec<String> = k
            .versions
            .iter()
            .map(|v| format!("{}:{}", v.version, json::state(v.state)))
            .collect();
        table.row(vec![
            k.key_name.clone(),
            json::purpose(k.purpose),
            k.primary_version.to_string(),
            versions.join(" "),
            duration(k.primary_age.as_ref()),
            time(k.next_rotation_due.as_ref()),
            json::alert(k.alert_level),
            or_dash(&k.alert_reason),
        ]);
    }
    emit(&table.render())?;
    Ok(Exit::Success)
}

fn version_list(versions: &[VersionImpact]) -> String {
    let parts: Vec<String> = versions
        .iter()
        .map(|v| format!("v{}: {}", v.version, v.records))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

pub(super) async fn impact(conn: &Conn, key: String) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .get_impact(GetImpactRequest { key_name: key })
        .await?;
    if conn.json {
        emit_json(&json::impact(&reply))?;
        return Ok(Exit::Success);
    }
    let mut out = format!(
        "{}: primary version {}, {} records to migrate\n\n",
        reply.key_name, reply.primary_version, reply.records_to_migrate
    );
    if !reply.versions.is_empty() {
        let mut versions = Table::new(&["VERSION", "RECORDS"]);
        for v in &reply.versions {
            versions.row(vec![v.version.to_string(), v.records.to_string()]);
        }
        out.push_str(&versions.render());
        out.push('\n');
    }
    if reply.targets.is_empty() {
        out.push_str("(no migration targets for this key)\n");
    } else {
        let mut targets = Table::new(&["TARGET", "RECORDS PER VERSION", "UNREADABLE"]);
        for t in &reply.targets {
            targets.row(vec![
                t.target.clone(),
                version_list(&t.versions),
                t.unreadable.to_string(),
            ]);
        }
        out.push_str(&targets.render());
    }
    emit(&out)?;
    Ok(Exit::Success)
}

pub(super) async fn rotate(conn: &Conn, args: RotateArgs) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .schedule_rotation(ScheduleRotationRequest {
            key_name: args.key.clone(),
            force: args.force,
        })
        .await?;
    let event = match &reply.event {
        Some(event) if reply.rotated => event,
        _ => {
            let reason = reply.reason.replace("pass force=true", "pass --force");
            if conn.json {
                emit_json(&json::scheduled(&reply, &reason))?;
            } else {
                emit(&format!("not due: {reason}\n"))?;
            }
            return Ok(Exit::NothingDone);
        }
    };
    if args.wait {
        if !conn.json {
            emit(&format!(
                "rotated {}: version {} -> {} ({})\nevent {}\n",
                event.key_name,
                event.from_version,
                event.to_version,
                json::trigger(event.trigger),
                event.event_id
            ))?;
        }
        return wait::follow(conn, &event.event_id, Goal::Completed).await;
    }
    if conn.json {
        emit_json(&json::scheduled(&reply, ""))?;
    } else {
        emit(&format!(
            "rotated {}: version {} -> {} ({})\nevent {}\nfollow it with: rekey events show {}\n",
            event.key_name,
            event.from_version,
            event.to_version,
            json::trigger(event.trigger),
            event.event_id,
            event.event_id
        ))?;
    }
    Ok(Exit::Success)
}

pub(super) async fn rollback(conn: &Conn, args: RollbackArgs) -> Result<Exit, CliError> {
    let reply = conn
        .rpc()
        .rollback(RollbackRequest { key_name: args.key })
        .await?;
    if !conn.json {
        emit(&format!(
            "rolled back {}: version {} is primary again, version {} is deprecated\nevent {}\n",
            reply.key_name, reply.primary_version, reply.rolled_back_version, reply.event_id
        ))?;
    } else if !args.wait {
        emit_json(&json::rolled_back(&reply))?;
    }
    if args.wait {
        return wait::follow(conn, &reply.event_id, Goal::Completed).await;
    }
    Ok(Exit::Success)
}

pub(super) async fn schedule(conn: &Conn) -> Result<Exit, CliError> {
    let reply = conn.rpc().get_schedule(GetScheduleRequest {}).await?;
    if conn.json {
        emit_json(&json::schedule(&reply))?;
        return Ok(Exit::Success);
    }
    let mut out = if reply.scheduler_enabled {
        format!(
            "scheduler: enabled, cron \"{}\" (UTC), next run {}\n\n",
            reply.cron,
            time(reply.next_run.as_ref())
        )
    } else {
        "scheduler: disabled\n\n".to_owned()
    };
    let mut table = Table::new(&[
        "KEY",
        "PRIMARY",
        "LAST ROTATION",
        "NEXT ROTATION DUE",
        "INTERVAL",
        "GRACE",
        "DUE",
    ]);
    for k in &reply.keys {
        table.row(vec![
            k.key_name.clone(),
            k.primary_version.to_string(),
            time(k.last_rotation.as_ref()),
            time(k.next_rotation_due.as_ref()),
            duration(k.rotation_interval.as_ref()),
            duration(k.grace_period.as_ref()),
            if k.due { "yes" } else { "no" }.into(),
        ]);
    }
    out.push_str(&table.render());
    emit(&out)?;
    Ok(Exit::Success)
}

/// `rekey health [--service NAME]`: SERVING is exit 0, anything else exit 1.
pub(super) async fn health(conn: &Conn, service: &str) -> Result<Exit, CliError> {
    use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
    let reply = conn
        .health()
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?
        .into_inner();
    let status = reply.status();
    println!("{}", status.as_str_name());
    Ok(if status == ServingStatus::Serving {
        Exit::Success
    } else {
        Exit::Failed
    })
}
