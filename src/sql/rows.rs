//! Rows of the key and rotation-event tables and their strict mapping to records: a value the
//! store cannot interpret is reported as [`StoreError::Corrupt`] naming the key or event,
//! never a panic. (The token and audit rows are small and live with their SQL.)

use sqlx::FromRow;

use crate::keystore::store::{KeyPolicy, KeyRecord, Purpose, VersionRecord, VersionState};
use crate::rotation::events::{
    Counts, EventStatus, PartitionProgress, RotationEvent, TargetProgress,
};
use crate::storage_error::{StoreError, StoreResult};

/// `keys` columns, in the order of [`KeyRow`].
macro_rules! key_columns {
    () => {
        "name, purpose, rotation_interval_secs, grace_period_secs, primary_version, created_at"
    };
}

/// `SELECT` of [`KeyRow`]s from `keys`, followed by the given clauses.
macro_rules! select_keys {
    ($clauses:literal) => {
        concat!(
            "SELECT ",
            $crate::sql::rows::key_columns!(),
            " FROM keys ",
            $clauses
        )
    };
}

/// `SELECT` of [`VersionRow`]s from `key_versions`, followed by the given clauses.
macro_rules! select_versions {
    ($clauses:literal) => {
        concat!(
            "SELECT key_name, version, state, wrapped_material, check_value, created_at, \
             deprecated_at, retired_at FROM key_versions ",
            $clauses
        )
    };
}

pub(super) use {key_columns, select_keys, select_versions};

/// A `keys` row, as selected by [`select_keys!`].
pub(super) type KeyRow = (String, String, i64, i64, i64, i64);

/// A `key_versions` row, as selected by [`select_versions!`].
pub(super) type VersionRow = (
    String,
    i64,
    String,
    Vec<u8>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

pub(super) fn key_record(row: KeyRow) -> StoreResult<KeyRecord> {
    let (name, purpose, rotation_interval_secs, grace_period_secs, primary, created_at) = row;
    let purpose = Purpose::parse(&purpose)
        .ok_or_else(|| corrupt(&name, format!("unknown purpose {purpose:?}")))?;
    let primary_version = version_number(&name, primary)?;
    Ok(KeyRecord {
        name,
        purpose,
        policy: KeyPolicy {
            rotation_interval_secs,
            grace_period_secs,
        },
        primary_version,
        created_at,
    })
}

pub(super) fn version_record(row: VersionRow) -> StoreResult<VersionRecord> {
    let (key_name, version, state, wrapped_material, check_value, created_at, deprecated, retired) =
        row;
    let version = version_number(&key_name, version)?;
    let state = version_state(&key_name, &state)?;
    Ok(VersionRecord {
        key_name,
        version,
        state,
        wrapped_material,
        check_value,
        created_at,
        deprecated_at: deprecated,
        retired_at: retired,
    })
}

/// A stored version number as the API's `u32`; versions start at 1.
pub(super) fn version_number(key: &str, version: i64) -> StoreResult<u32> {
    u32::try_from(version)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| corrupt(key, format!("version {version} is out of range")))
}

pub(super) fn version_state(key: &str, state: &str) -> StoreResult<VersionState> {
    VersionState::parse(state).ok_or_else(|| corrupt(key, format!("unknown state {state:?}")))
}

pub(super) fn corrupt(key: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("key {key:?}: {what}"))
}

/// At most this many failed primary keys are kept per target.
const MAX_FAILED_IDS: usize = 100;

/// A `rotation_events` row, as selected with [`EVENT_COLUMNS`].
#[derive(Debug, FromRow)]
pub(super) struct EventRow {
    id: String,
    key_name: String,
    from_version: i64,
    to_version: i64,
    trigger_kind: String,
    actor: String,
    status: String,
    rolling_back: i64,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    batch_size: i64,
    rate_limit: i64,
    active_millis: i64,
    pass: i64,
    last_error: Option<String>,
    lease_owner: Option<String>,
}

/// A `rotation_event_targets` row.
#[derive(Debug, FromRow)]
pub(super) struct TargetRow {
    target: String,
    total: i64,
    migrated: i64,
    already_current: i64,
    skipped: i64,
    failed: i64,
    checkpoint: Option<String>,
    done: i64,
    failed_ids: String,
}

/// A `rotation_event_partitions` row, as selected with [`PARTITION_COLUMNS`].
#[derive(Debug, FromRow)]
pub(super) struct PartitionRow {
    target: String,
    idx: i64,
    lower_bound: Option<String>,
    upper_bound: Option<String>,
    checkpoint: Option<String>,
    done: i64,
    total: i64,
    migrated: i64,
    already_current: i64,
    skipped: i64,
    failed: i64,
    failed_ids: String,
    active_millis: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
}

/// `rotation_event_partitions` columns, in the order of [`PartitionRow`].
pub(super) const PARTITION_COLUMNS: &str =
    "target, idx, lower_bound, upper_bound, checkpoint, done, total, migrated, \
    already_current, skipped, failed, failed_ids, active_millis, lease_owner, lease_expires_at";

/// `rotation_events` columns, in the order of [`EventRow`].
pub(super) const EVENT_COLUMNS: &str =
    "id, key_name, from_version, to_version, trigger_kind, actor, status, \
    rolling_back, created_at, started_at, finished_at, batch_size, rate_limit, active_millis, \
    pass, last_error, lease_owner";

/// A stored number of event `id` as the type the record wants.
pub(super) fn number<T: TryFrom<i64>>(id: &str, what: &str, value: i64) -> StoreResult<T> {
    T::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("event {id}: {what} {value} is out of range")))
}

fn counts(
    id: &str,
    total: i64,
    migrated: i64,
    already_current: i64,
    skipped: i64,
    failed: i64,
) -> StoreResult<Counts> {
    Ok(Counts {
        total: number(id, "total", total)?,
        migrated: number(id, "migrated", migrated)?,
        already_current: number(id, "already_current", already_current)?,
        skipped: number(id, "skipped", skipped)?,
        failed: number(id, "failed", failed)?,
    })
}

fn failed_id_lines(stored: &str) -> impl Iterator<Item = String> + '_ {
    stored.lines().filter(|l| !l.is_empty()).map(str::to_owned)
}

/// One target's progress: its own row (counts of events started before partitions existed)
/// plus its partitions' counts.
fn target_progress(
    id: &str,
    t: TargetRow,
    partitions: &[PartitionRow],
    active_millis: &mut i64,
) -> StoreResult<TargetProgress> {
    let mut sum = counts(
        id,
        t.total,
        t.migrated,
        t.already_current,
        t.skipped,
        t.failed,
    )?;
    let mut failed_ids: Vec<String> = failed_id_lines(&t.failed_ids).collect();
    let mut parts = Vec::new();
    for p in partitions.iter().filter(|p| p.target == t.target) {
        sum += counts(
            id,
            p.total,
            p.migrated,
            p.already_current,
            p.skipped,
            p.failed,
        )?;
        failed_ids.extend(failed_id_lines(&p.failed_ids));
        *active_millis += p.active_millis;
        parts.push(PartitionProgress {
            index: number(id, "partition index", p.idx)?,
            lower: p.lower_bound.clone(),
            upper: p.upper_bound.clone(),
            checkpoint: p.checkpoint.clone(),
            done: p.done != 0,
            lease_owner: p.lease_owner.clone(),
            lease_expires_at: p.lease_expires_at,
        });
    }
    failed_ids.truncate(MAX_FAILED_IDS);
    let (checkpoint, done) = match parts.as_slice() {
        [] => (t.checkpoint, t.done != 0),
        [only] => (only.checkpoint.clone(), only.done),
        many => (None, many.iter().all(|p| p.done)),
    };
    Ok(TargetProgress {
        counts: sum,
        target: t.target,
        checkpoint,
        done,
        failed_ids,
        partitions: parts,
    })
}

pub(super) fn event_record(
    row: EventRow,
    targets: Vec<TargetRow>,
    partitions: &[PartitionRow],
) -> StoreResult<RotationEvent> {
    let id = row.id;
    let status = EventStatus::parse(&row.status).ok_or_else(|| {
        StoreError::Corrupt(format!("event {id}: unknown status {:?}", row.status))
    })?;
    let mut active_millis = row.active_millis;
    let targets = targets
        .into_iter()
        .map(|t| target_progress(&id, t, partitions, &mut active_millis))
        .collect::<StoreResult<Vec<_>>>()?;
    // Who works the event: the holder of its own lease while it is being cut into
    // partitions, else the holders of its unfinished partitions.
    let mut holders: Vec<String> = partitions
        .iter()
        .filter(|p| p.done == 0)
        .filter_map(|p| p.lease_owner.clone())
        .collect();
    holders.sort();
    holders.dedup();
    let lease_owner = row
        .lease_owner
        .or_else(|| (!holders.is_empty()).then(|| holders.join(", ")));
    Ok(RotationEvent {
        from_version: number(&id, "from_version", row.from_version)?,
        to_version: number(&id, "to_version", row.to_version)?,
        batch_size: number(&id, "batch_size", row.batch_size)?,
        rate_limit: number(&id, "rate_limit", row.rate_limit)?,
        pass: number(&id, "pass", row.pass)?,
        id,
        key_name: row.key_name,
        trigger: row.trigger_kind,
        actor: row.actor,
        status,
        rolling_back: row.rolling_back != 0,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        active_millis,
        last_error: row.last_error,
        lease_owner,
        targets,
    })
}

/// Failed ids are stored one per line; a line break inside a key is escaped.
pub(super) fn append_failed_ids(stored: &str, new: &[String]) -> String {
    let mut ids: Vec<String> = stored
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    for id in new {
        if ids.len() >= MAX_FAILED_IDS {
            break;
        }
        ids.push(id.replace('\n', "\\n"));
    }
    ids.join("\n")
}
