//! Cutting an event's targets into partitions: done once per event, by the first worker to
//! take it up, under the event's own lease. A target is cut at the bounds it reports for its
//! `parallelism` (even key ranges, or even row counts for text keys); an event a worker of an
//! earlier release had started keeps one partition per target, resuming at its checkpoint.

use std::iter::once;

use tracing::{info, warn};

use tokio_util::sync::CancellationToken;

use super::{MigrateError, Worker};
use crate::rotation::events::{PartitionPlan, RotationEvent};

impl Worker {
    /// Cuts `event` into partitions, holding the event's lease as `holder`, then works the
    /// first partition, whose lease the plan hands it.
    pub(super) async fn plan(&self, event: &RotationEvent, holder: &str, stop: &CancellationToken) {
        let plans = match self.partition_plans(event).await {
            Ok(plans) => plans,
            // As for a partition: not the event's failure while the server stops.
            Err(e) if stop.is_cancelled() => {
                return warn!(error = %e, "event left to be cut later: the server is stopping");
            }
            Err(e) => return self.fail(event, holder, None, &e).await,
        };
        let now = self.deps.keys.now();
        let written = self
            .deps
            .events
            .plan_partitions(&event.id, holder, &plans, now, self.deps.lease_ms)
            .await;
        match written {
            Ok(true) => {
                info!(
                    to_version = event.target_version(),
                    rolling_back = event.rolling_back,
                    partitions = plans.len(),
                    "migration started"
                );
                // Others are free for any lane; a lane's end (or the wakeup) looks for them.
                self.deps.wakeup.notify_one();
                match plans.iter().find(|p| !p.done) {
                    Some(first) => self.work_first(event, holder, first, stop).await,
                    None => {
                        self.close(event).await;
                    }
                }
            }
            Ok(false) => info!("the event was taken over before its partitions were written"),
            Err(e) => warn!(error = %e, "could not write the partitions; the lease will lapse"),
        }
    }

    /// Works the partition the plan handed this lane, with the event as now stored.
    async fn work_first(
        &self,
        event: &RotationEvent,
        holder: &str,
        first: &PartitionPlan,
        stop: &CancellationToken,
    ) {
        match self.deps.events.get_event(&event.id).await {
            Ok(Some(planned)) => {
                self.work_partition(&planned, holder, &first.target, first.index, stop)
                    .await;
            }
            Ok(None) => info!("the event vanished after its partitions were written"),
            Err(e) => warn!(error = %e, "could not read the planned event; its lease will lapse"),
        }
    }

    async fn partition_plans(
        &self,
        event: &RotationEvent,
    ) -> Result<Vec<PartitionPlan>, MigrateError> {
        self.check_still_primary(event).await?;
        let mut plans = Vec::new();
        for progress in &event.targets {
            let target = self.target(&progress.target)?;
            if progress.done || progress.checkpoint.is_some() {
                plans.push(PartitionPlan {
                    target: progress.target.clone(),
                    index: 0,
                    lower: None,
                    upper: None,
                    checkpoint: progress.checkpoint.clone(),
                    done: progress.done,
                });
                continue;
            }
            let bounds = target.partition_bounds(self.parallelism(target)).await?;
            let cuts: Vec<Option<String>> =
                bounds.iter().map(|b| Some(b.to_checkpoint())).collect();
            let lowers = once(None).chain(cuts.iter().cloned());
            let uppers = cuts.iter().cloned().chain(once(None));
            for (index, (lower, upper)) in (0u32..).zip(lowers.zip(uppers)) {
                plans.push(PartitionPlan {
                    target: progress.target.clone(),
                    index,
                    lower,
                    upper,
                    checkpoint: None,
                    done: false,
                });
            }
        }
        Ok(plans)
    }
}
