//! `Auditor`: how the rest of Rekey writes the audit trail. Admin operations, scheduler and
//! worker actions and denied requests are appended one by one, before the answer goes out;
//! successful data-plane calls are counted in memory per principal, key and operation and
//! appended as summaries (or not at all, or one by one: `data_plane_audit`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use tracing::error;

use crate::audit::{AuditEntry, AuditOperation, AuditStore, Outcome};
use crate::clock::Clock;

/// How successful data-plane calls are audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataPlaneAudit {
    Off,
    /// Counts per principal, key and operation, appended every flush interval.
    #[default]
    Counts,
    /// One row per call (slow: every call waits for an audit write).
    EveryCall,
}

impl DataPlaneAudit {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(DataPlaneAudit::Off),
            "counts" => Some(DataPlaneAudit::Counts),
            "every_call" => Some(DataPlaneAudit::EveryCall),
            _ => None,
        }
    }
}

/// principal → key → operation → calls.
type CallCounts = HashMap<Arc<str>, HashMap<Arc<str>, HashMap<&'static str, u64>>>;

pub(crate) struct Auditor {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    data_plane: DataPlaneAudit,
    /// principal → key → operation → successful calls since the last flush. Keyed so that a
    /// call on a known (principal, key) allocates nothing.
    counts: Mutex<CallCounts>,
    write_failures: AtomicU64,
}

impl fmt::Debug for Auditor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auditor")
            .field("data_plane", &self.data_plane)
            .field(
                "write_failures",
                &self.write_failures.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Auditor {
    pub(crate) fn new(
        store: Arc<dyn AuditStore>,
        clock: Arc<dyn Clock>,
        data_plane: DataPlaneAudit,
    ) -> Self {
        Self {
            store,
            clock,
            data_plane,
            counts: Mutex::new(HashMap::new()),
            write_failures: AtomicU64::new(0),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn AuditStore> {
        &self.store
    }

    /// Appends one entry. A failed write is logged and counted (`write_failures`), never
    /// turned into a failure of the operation that was already performed.
    pub(crate) async fn record(&self, entry: AuditEntry) {
        if let Err(e) = self.store.append(&entry, self.clock.now()).await {
            self.write_failures.fetch_add(1, Ordering::Relaxed);
            error!(error = %e, operation = %entry.operation, "audit write failed");
        }
    }

    /// Audit writes that failed since start.
    pub(crate) fn write_failures(&self) -> u64 {
        self.write_failures.load(Ordering::Relaxed)
    }

    /// A successful data-plane call.
    pub(crate) async fn data_plane(&self, principal: &str, key: &str, operation: &'static str) {
        match self.data_plane {
            DataPlaneAudit::Off => {}
            DataPlaneAudit::EveryCall => {
                self.record(AuditEntry::new(principal, operation, Outcome::Success).key(key, None))
                    .await
            }
            DataPlaneAudit::Counts => {
                let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                if !counts.contains_key(principal) {
                    counts.insert(Arc::from(principal), HashMap::new());
                }
                let Some(by_key) = counts.get_mut(principal) else {
                    return;
                };
                if !by_key.contains_key(key) {
                    by_key.insert(Arc::from(key), HashMap::new());
                }
                if let Some(by_operation) = by_key.get_mut(key) {
                    *by_operation.entry(operation).or_insert(0) += 1;
                }
            }
        }
    }

    /// Appends the data-plane counts gathered since the last flush as `data_plane.summary` rows.
    pub(crate) async fn flush(&self) {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        for (principal, by_key) in counts {
            for (key, by_operation) in by_key {
                for (operation, n) in by_operation {
                    self.record(
                        AuditEntry::new(
                            principal.as_ref(),
                            AuditOperation::DataPlaneSummary,
                            Outcome::Success,
                        )
                        .key(key.as_ref(), None)
                        .records(n)
                        .detail(format!("{n} successful {operation} calls")),
                    )
                    .await;
                }
            }
        }
    }
}
