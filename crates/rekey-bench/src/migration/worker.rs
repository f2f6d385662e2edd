//! The Rekey side of the migration scenario: an in-process server whose migration targets
//! are the benchmark tables (PostgreSQL or MariaDB, at a given batch size and parallelism), a
//! forced rotation timed to its completed event, and the in-process decrypt+re-encrypt rate
//! (the crypto ceiling under the worker).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rekey::proto::rotation_service_client::RotationServiceClient;
use rekey::proto::{
    GetEventRequest, RotationEvent, RotationEventStatus as EventStatus, ScheduleRotationRequest,
};
use rekey::rotation::targets::{Encoding, TargetConfig};
use rekey::rotation::BatchSize;
use secrecy::SecretString;
use tokio::runtime::Handle;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::dataset::{Dataset, Record};
use crate::rekey_server::{request, InProcess};

/// Rekey with every dataset's table (in the database of `database_url`) as a migration
/// target at `batch_size`, cut into `parallelism` partitions (`None`: the server's default),
/// their legacy keys configured, and no scheduled rotations (the benchmark forces them).
pub async fn start(
    server_rt: &Handle,
    datasets: &[Dataset],
    database_url: &str,
    batch_size: BatchSize,
    parallelism: Option<u32>,
) -> anyhow::Result<InProcess> {
    InProcess::start(server_rt, false, |c| {
        for data in datasets {
            c.legacy_keys.0.insert(
                data.key.into(),
                SecretString::from(hex::encode(data.legacy)),
            );
            c.targets
                .push(target(data, database_url, batch_size, parallelism));
        }
        c.rotation.batch_size = batch_size;
        c.rotation.worker_poll_interval_ms = 100;
        c.rotation.schedule_enabled = false;
    })
    .await
}

/// The partitions Rekey cuts a target into when it does not say (`[rotation] parallelism`).
pub fn default_parallelism() -> u32 {
    rekey::config::Config::default().rotation.parallelism
}

fn target(
    data: &Dataset,
    url: &str,
    batch_size: BatchSize,
    parallelism: Option<u32>,
) -> TargetConfig {
    TargetConfig {
        name: data.table.clone(),
        database_url: SecretString::from(url.to_owned()),
        table: data.table.clone(),
        primary_key: "id".into(),
        column: "token".into(),
        encoding: Encoding::Binary,
        key: data.key.into(),
        associated_data_column: Some("owner".into()),
        batch_size: Some(batch_size),
        rate_limit: None,
        parallelism,
    }
}

/// A rotation-service client of `rekey`, with the admin credentials it needs.
pub struct Admin {
    client: RotationServiceClient<Channel>,
    auth: Option<AsciiMetadataValue>,
}

impl Admin {
    pub async fn connect(rekey: &InProcess) -> anyhow::Result<Self> {
        let channel = tonic::transport::Endpoint::from_shared(rekey.url())?
            .connect()
            .await?;
        Ok(Self {
            client: RotationServiceClient::new(channel),
            auth: rekey.admin.clone(),
        })
    }

    /// Forces a rotation of `key` and waits for its migration to complete, which must have
    /// migrated `rows` rows and failed none; rows per second (wall time from the request to
    /// the completed event, polled every `poll`) and the event.
    pub async fn migrate_all(
        &mut self,
        key: &str,
        rows: u64,
        poll: Duration,
    ) -> anyhow::Result<(f64, RotationEvent)> {
        let started = Instant::now();
        let event = self.rotate(key).await?;
        let event = self.wait(&event.event_id, started, poll).await?;
        let elapsed = started.elapsed();
        let totals = event.totals.unwrap_or_default();
        if totals.migrated != rows || totals.failed != 0 {
            bail!(
                "Rekey migrated {} rows ({} failed, {} skipped) of {rows}",
                totals.migrated,
                totals.failed,
                totals.skipped,
            );
        }
        Ok((rows as f64 / elapsed.as_secs_f64(), event))
    }

    /// Polls event `event_id` every `poll` until it completes (an error if it fails or
    /// rolls back, or takes over an hour from `started`).
    pub async fn wait(
        &mut self,
        event_id: &str,
        started: Instant,
        poll: Duration,
    ) -> anyhow::Result<RotationEvent> {
        loop {
            let event = self
                .client
                .get_event(request(
                    GetEventRequest {
                        event_id: event_id.to_owned(),
                    },
                    self.auth.as_ref(),
                ))
                .await
                .context("GetEvent")?
                .into_inner()
                .event
                .context("GetEvent answered without the event")?;
            match event.status() {
                EventStatus::Completed => return Ok(event),
                status @ (EventStatus::Failed | EventStatus::RolledBack) => {
                    bail!(
                        "migration event {event_id} ended {}: {}",
                        status.as_str_name(),
                        event.last_error
                    )
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(3600) {
                bail!("migration event {event_id} did not complete within an hour");
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// ScheduleRotation(force) of `key`: the rotation event it started (its `to_version` is
    /// the key's new primary version).
    pub async fn rotate(&mut self, key: &str) -> anyhow::Result<RotationEvent> {
        let reply = self
            .client
            .schedule_rotation(request(
                ScheduleRotationRequest {
                    key_name: key.into(),
                    force: true,
                },
                self.auth.as_ref(),
            ))
            .await
            .context("ScheduleRotation")?
            .into_inner();
        reply
            .event
            .with_context(|| format!("ScheduleRotation did not rotate: {}", reply.reason))
    }
}

/// Decrypt + re-encrypt of every row in process through the key manager, one task, as the
/// worker does it; rows per second.
pub async fn crypto_ceiling(
    runtime: &Handle,
    manager: Arc<rekey::keystore::KeyManager>,
    records: Arc<Vec<Record>>,
    to_version: u32,
) -> anyhow::Result<f64> {
    runtime
        .spawn(async move {
            let started = Instant::now();
            for record in records.iter() {
                let out = manager
                    .reencrypt_to(&record.old, record.owner.as_bytes(), to_version)
                    .await?;
                std::hint::black_box(out);
            }
            Ok::<f64, anyhow::Error>(records.len() as f64 / started.elapsed().as_secs_f64())
        })
        .await?
}
