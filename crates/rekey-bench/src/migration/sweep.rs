//! Block 1, the batch-size sweep on PostgreSQL: for every `--batch-sizes` value, a Rekey
//! configured with it (default parallelism, as an operator gets it) migrates each value
//! size's table, then raw SQL does the same at that batch size, then the crypto ceiling is
//! measured; rounds interleave the two sides cell by cell. Kept as the long-running record of
//! the worker against one stream of the same statements (BENCHMARKS.md, issue #6).

use std::sync::Arc;

use rekey::rotation::BatchSize;

use super::dataset::Dataset;
use super::results::{self, CellRuns, Round, Summary};
use super::worker::{self, Admin};
use super::Bench;
use crate::rekey_server::InProcess;
use crate::units::{si, size_label};

impl Bench<'_> {
    /// Every batch size, every dataset, every round; the summary with its targets.
    pub(super) async fn sweep(&mut self) -> anyhow::Result<Summary> {
        // runs[batch index][dataset index]
        let mut runs = Vec::new();
        for &batch_size in &self.plan.batch_sizes {
            runs.push(self.measure_batch_size(batch_size).await?);
        }
        Ok(results::summarise(self.plan, self.datasets, &runs))
    }

    /// Every round of every dataset at `batch_size`, on a Rekey configured with it.
    async fn measure_batch_size(&mut self, batch_size: u32) -> anyhow::Result<Vec<CellRuns>> {
        let size = BatchSize::new(batch_size)?;
        let rekey =
            worker::start(self.server_rt, self.datasets, self.database_url, size, None).await?;
        let mut admin = Admin::connect(&rekey).await?;
        let mut per_data: Vec<CellRuns> =
            self.datasets.iter().map(|_| CellRuns::default()).collect();
        for round in 1..=self.plan.rounds {
            for (data, runs) in self.datasets.iter().zip(per_data.iter_mut()) {
                let measured = self
                    .measure_round(round, batch_size, data, &rekey, &mut admin)
                    .await?;
                runs.push(measured);
            }
        }
        drop(admin);
        rekey.stop().await?;
        Ok(per_data)
    }

    /// A (the worker), B (raw SQL) and the crypto ceiling on one dataset.
    async fn measure_round(
        &mut self,
        round: u32,
        batch_size: u32,
        data: &Dataset,
        rekey: &InProcess,
        admin: &mut Admin,
    ) -> anyhow::Result<Round> {
        let (a, event) = self.measure_worker(data, admin).await?;
        let b = self.measure_raw_sql(data, batch_size).await?;
        let c = worker::crypto_ceiling(
            self.server_rt,
            Arc::clone(rekey.server.manager()),
            Arc::clone(&data.records),
            event.to_version,
        )
        .await?;
        eprintln!(
            "migration round {round}/{}: batch {batch_size:>6} {:>6}: Rekey {:>7} rows/s (event says {:>7}) | raw SQL {:>7} rows/s | crypto {:>7} rows/s | other processes {:.2}/{:.2} cores",
            self.plan.rounds,
            size_label(data.value_size),
            si(a.rows_per_s),
            si(event.records_per_second),
            si(b.rows_per_s),
            si(c),
            a.others,
            b.others,
        );
        Ok(Round {
            rekey: a.rows_per_s,
            event_rate: event.records_per_second,
            raw: b.rows_per_s,
            crypto: c,
            rekey_cores: a.cores,
            raw_cores: b.cores,
        })
    }
}
