//! Domain values to protobuf messages.

use crate::clock::MILLIS_PER_SEC;
use crate::keystore::lifecycle::{self, AlertLevel};
use crate::keystore::manager::{algorithm, KeySnapshot};
use crate::keystore::store::{Millis, Purpose, VersionState};
use crate::proto;

pub fn timestamp(ms: Millis) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(MILLIS_PER_SEC),
        nanos: (ms.rem_euclid(MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

pub fn duration_ms(ms: Millis) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / MILLIS_PER_SEC,
        nanos: ((ms % MILLIS_PER_SEC) * 1_000_000) as i32,
    }
}

fn purpose(p: Purpose) -> proto::KeyPurpose {
    match p {
        Purpose::EncryptDecrypt => proto::KeyPurpose::EncryptDecrypt,
        Purpose::SignVerify => proto::KeyPurpose::SignVerify,
    }
}

fn state(s: VersionState) -> proto::KeyVersionState {
    match s {
        VersionState::Active => proto::KeyVersionState::Active,
        VersionState::Deprecated => proto::KeyVersionState::Deprecated,
        VersionState::Retired => proto::KeyVersionState::Retired,
    }
}

fn alert(level: AlertLevel) -> proto::AlertLevel {
    match level {
        AlertLevel::Ok => proto::AlertLevel::Ok,
        AlertLevel::Warning => proto::AlertLevel::Warning,
        AlertLevel::Critical => proto::AlertLevel::Critical,
    }
}

pub fn key_status(snapshot: &KeySnapshot, now: Millis) -> proto::KeyStatus {
    let record = &snapshot.record;
    let primary_created = snapshot
        .versions
        .iter()
        .find(|v| v.version == record.primary_version)
        .map_or(record.created_at, |v| v.created_at);
    let assessment = lifecycle::assess(record.policy, primary_created, now);
    proto::KeyStatus {
        key_name: record.name.clone(),
        purpose: purpose(record.purpose).into(),
        algorithm: algorithm(record.purpose).to_owned(),
        policy: Some(proto::KeyPolicy {
            rotation_interval: Some(duration_ms(
                record.policy.rotation_interval_secs * MILLIS_PER_SEC,
            )),
            grace_period: Some(duration_ms(
                record.policy.grace_period_secs * MILLIS_PER_SEC,
            )),
        }),
        primary_version: record.primary_version,
        versions: snapshot
            .versions
            .iter()
            .map(|v| proto::KeyVersionStatus {
                version: v.version,
                state: state(v.state).into(),
                created_at: Some(timestamp(v.created_at)),
                deprecated_at: v.deprecated_at.map(timestamp),
                retired_at: v.retired_at.map(timestamp),
                check_value: v.check_value.clone(),
                age: Some(duration_ms((now - v.created_at).max(0))),
            })
            .collect(),
        primary_age: Some(duration_ms(assessment.primary_age_ms)),
        next_rotation_due: Some(timestamp(assessment.next_rotation_due)),
        alert_level: alert(assessment.level).into(),
        alert_reason: assessment.reason,
    }
}
