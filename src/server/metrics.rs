//! This server's metrics: the telemetry room knows no domain type, so the wiring here feeds it
//! plain values — the keys' gauges and the audit trail's write failures through callbacks, and
//! the label values of every counter series started at zero.

use std::sync::Arc;

use crate::audit::Auditor;
use crate::config::Config;
use crate::keystore::KeyManager;
use crate::rotation::engine::Trigger;
use crate::telemetry::metrics::KeyGauges;
use crate::telemetry::Metrics;

/// This server's metrics: every rpc of its services by name, the keys' gauges, the audit
/// trail's failures, and every counter series of the managed keys started at zero.
pub(super) fn server_metrics(
    config: &Config,
    manager: &Arc<KeyManager>,
    auditor: &Arc<Auditor>,
) -> anyhow::Result<Metrics> {
    let paths = Metrics::rpc_paths(&[
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ])?;
    let metrics = Metrics::new(paths)?;
    let keys = config.managed_keys();
    let all: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
    let encryption: Vec<String> = keys
        .iter()
        .filter(|k| k.purpose() == crate::keystore::store::Purpose::EncryptDecrypt)
        .map(|k| k.name.clone())
        .collect();
    let triggers = Trigger::ALL.map(Trigger::as_str);
    metrics.start_series(&all, &encryption, &triggers);
    let manager_strong = Arc::clone(manager);
    let manager = Arc::downgrade(manager);
    metrics.observe_keys(move || {
        let Some(manager) = manager.upgrade() else {
            return Vec::new();
        };
        manager
            .primary_ages()
            .into_iter()
            .map(|k| KeyGauges {
                key: k.key,
                primary_age_secs: k.age_secs,
                rotation_interval_secs: k.policy.rotation_interval_secs as f64,
                grace_period_secs: k.policy.grace_period_secs as f64,
            })
            .collect()
    });
    let root = Arc::downgrade(&manager_strong);
    metrics.observe_root_key(move || root.upgrade().is_some_and(|m| m.root_key_available()));
    let auditor = Arc::downgrade(auditor);
    metrics
        .observe_audit_write_failures(move || auditor.upgrade().map_or(0, |a| a.write_failures()));
    Ok(metrics)
}
