//! Supervision of the server's background tasks (migration worker, scheduler, refresh): one
//! `JoinSet` under one `CancellationToken`. A task that panics or fails is logged, counted
//! (`rekey_background_task_restarts_total{task}`) and restarted after an exponential backoff;
//! while it is down, the gRPC health of the service that needs it is NOT_SERVING. A stop
//! cancels the token: tasks end at their next await (the worker at a batch boundary), and any
//! still running after the grace period are aborted.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt as _;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;
use tracing::{error, info, warn};

use crate::telemetry::Metrics;

type Start = dyn Fn(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync;

/// A background task: how to start it (again), and which gRPC service cannot work without it.
#[derive(Clone)]
pub(super) struct BackgroundTask {
    name: &'static str,
    needed_by: Option<&'static str>,
    start: Arc<Start>,
}

impl BackgroundTask {
    /// A task named `name` (its metric label) that `start` runs until the token is cancelled.
    pub(super) fn new<F, Fut>(name: &'static str, start: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name,
            needed_by: None,
            start: Arc::new(move |stop| start(stop).boxed()),
        }
    }

    /// While this task is down, the health of gRPC service `service` is NOT_SERVING.
    pub(super) fn needed_by(mut self, service: &'static str) -> Self {
        self.needed_by = Some(service);
        self
    }
}

impl fmt::Debug for BackgroundTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundTask")
            .field("name", &self.name)
            .field("needed_by", &self.needed_by)
            .finish_non_exhaustive()
    }
}

/// How a background task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TaskEnd {
    /// It returned by itself (the scheduler does when scheduling is disabled).
    Finished,
    /// It stopped when asked to.
    Cancelled,
    Failed(String),
    Panicked(String),
    /// It did not stop within the grace period and was aborted.
    Aborted,
}

impl fmt::Display for TaskEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskEnd::Finished => f.write_str("ok (finished by itself)"),
            TaskEnd::Cancelled => f.write_str("cancelled"),
            TaskEnd::Failed(e) => write!(f, "error: {e}"),
            TaskEnd::Panicked(message) => write!(f, "panicked: {message}"),
            TaskEnd::Aborted => f.write_str("aborted after the shutdown grace period"),
        }
    }
}

/// Restart delays: `initial`, doubling up to `max`; back to `initial` for a task that ran
/// at least `healthy_after` before failing again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) healthy_after: Duration,
}

impl Backoff {
    pub(crate) const DEFAULT: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        healthy_after: Duration::from_secs(120),
    };

    /// The delay before the next restart of a task that ran for `ran` and whose previous
    /// delay was `previous` (None: it never failed).
    fn next(&self, previous: Option<Duration>, ran: Duration) -> Duration {
        match previous {
            Some(previous) if ran < self.healthy_after => (previous * 2).min(self.max),
            _ => self.initial,
        }
    }
}

/// The running supervisor; [`Supervisor::join`] waits for it after a stop.
#[derive(Debug)]
pub(crate) struct Supervisor {
    driver: JoinHandle<Vec<(&'static str, TaskEnd)>>,
}

impl Supervisor {
    /// Starts every task; they run, and are restarted, until `stop` is cancelled.
    pub(crate) fn start(
        tasks: Vec<BackgroundTask>,
        stop: CancellationToken,
        health: HealthReporter,
        metrics: Arc<Metrics>,
        backoff: Backoff,
        grace: Duration,
    ) -> Self {
        let driver = Driver {
            slots: tasks
                .into_iter()
                .map(|task| Slot {
                    task,
                    delay: None,
                    started: Instant::now(),
                    end: None,
                })
                .collect(),
            running: JoinSet::new(),
            ids: HashMap::new(),
            restarts: Vec::new(),
            down: HashMap::new(),
            stop,
            health,
            metrics,
            backoff,
            grace,
        };
        Self {
            driver: tokio::spawn(driver.run()),
        }
    }

    /// Waits until every task has ended (call after cancelling the stop token): how each
    /// one ended, in the order they were given.
    pub(crate) async fn join(self) -> Vec<(&'static str, TaskEnd)> {
        match self.driver.await {
            Ok(ends) => ends,
            Err(e) => vec![("supervisor", join_error_end(e))],
        }
    }
}

struct Slot {
    task: BackgroundTask,
    /// The delay before its last restart (None: it never failed).
    delay: Option<Duration>,
    started: Instant,
    end: Option<TaskEnd>,
}

struct Driver {
    slots: Vec<Slot>,
    running: JoinSet<anyhow::Result<()>>,
    ids: HashMap<tokio::task::Id, usize>,
    /// (when, slot) of the tasks waiting to be restarted.
    restarts: Vec<(Instant, usize)>,
    /// Per gRPC service, how many of the tasks it needs are down.
    down: HashMap<&'static str, usize>,
    stop: CancellationToken,
    health: HealthReporter,
    metrics: Arc<Metrics>,
    backoff: Backoff,
    grace: Duration,
}

impl Driver {
    async fn run(mut self) -> Vec<(&'static str, TaskEnd)> {
        for slot in 0..self.slots.len() {
            self.metrics
                .background_task_started(self.slots[slot].task.name);
            self.spawn(slot);
        }
        // Set once the stop is seen: until then tasks are restarted, after it they are
        // awaited until this deadline and then aborted.
        let mut deadline: Option<Instant> = None;
        let mut aborted = false;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            if deadline.is_some() && self.running.is_empty() {
                break;
            }
            let next_restart = self.restarts.iter().map(|(at, _)| *at).min();
            tokio::select! {
                Some(joined) = self.running.join_next_with_id() => self.ended(joined).await,
                () = tokio::time::sleep_until(next_restart.unwrap_or(far)),
                    if next_restart.is_some() && deadline.is_none() => self.restart_due().await,
                () = self.stop.cancelled(), if deadline.is_none() => {
                    deadline = Some(Instant::now() + self.grace);
                    self.restarts.clear();
                }
                () = tokio::time::sleep_until(deadline.unwrap_or(far)),
                    if deadline.is_some() && !aborted => {
                    self.running.abort_all();
                    aborted = true;
                }
            }
        }
        self.slots
            .into_iter()
            .map(|slot| (slot.task.name, slot.end.unwrap_or(TaskEnd::Cancelled)))
            .collect()
    }

    fn spawn(&mut self, slot: usize) {
        let future = (self.slots[slot].task.start)(self.stop.clone());
        let handle = self.running.spawn(future);
        self.ids.insert(handle.id(), slot);
        self.slots[slot].started = Instant::now();
    }

    async fn ended(&mut self, joined: Result<(tokio::task::Id, anyhow::Result<()>), JoinError>) {
        let (id, end) = match joined {
            Ok((id, Ok(()))) if self.stop.is_cancelled() => (id, TaskEnd::Cancelled),
            Ok((id, Ok(()))) => (id, TaskEnd::Finished),
            Ok((id, Err(e))) => (id, TaskEnd::Failed(format!("{e:#}"))),
            Err(e) => (e.id(), join_error_end(e)),
        };
        let Some(slot) = self.ids.remove(&id) else {
            return;
        };
        let name = self.slots[slot].task.name;
        let failed = matches!(end, TaskEnd::Failed(_) | TaskEnd::Panicked(_));
        if failed && !self.stop.is_cancelled() {
            let ran = self.slots[slot].started.elapsed();
            let delay = self.backoff.next(self.slots[slot].delay, ran);
            self.slots[slot].delay = Some(delay);
            error!(task = name, end = %end, restart_in = ?delay, "background task stopped unexpectedly; restarting it");
            self.metrics.background_task_restarted(name);
            self.restarts.push((Instant::now() + delay, slot));
            self.set_down(slot, true).await;
        } else if failed {
            error!(task = name, end = %end, "background task stopped unexpectedly during shutdown");
        } else if end == TaskEnd::Finished {
            info!(task = name, "background task finished");
        }
        self.slots[slot].end = Some(end);
    }

    async fn restart_due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) =
            self.restarts.drain(..).partition(|(at, _)| *at <= now);
        self.restarts = later;
        for (_, slot) in due {
            info!(
                task = self.slots[slot].task.name,
                "restarting background task"
            );
            self.spawn(slot);
            self.set_down(slot, false).await;
        }
    }

    /// Counts a task of `slot` down or up again for the service that needs it, and publishes
    /// the service's health when that changes it.
    async fn set_down(&mut self, slot: usize, down: bool) {
        let Some(service) = self.slots[slot].task.needed_by else {
            return;
        };
        let count = self.down.entry(service).or_insert(0);
        let was_down = *count > 0;
        if down {
            *count += 1;
        } else {
            *count = count.saturating_sub(1);
        }
        let is_down = *count > 0;
        if was_down == is_down || self.stop.is_cancelled() {
            return;
        }
        let status = if is_down {
            warn!(
                service,
                "a background task it needs is down; health NOT_SERVING"
            );
            ServingStatus::NotServing
        } else {
            info!(service, "its background tasks run again; health SERVING");
            ServingStatus::Serving
        };
        self.health.set_service_status(service, status).await;
    }
}

fn join_error_end(e: JoinError) -> TaskEnd {
    if !e.is_panic() {
        return TaskEnd::Aborted;
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    TaskEnd::Panicked(message)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic::Request;
    use tonic_health::pb::health_server::Health as _;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::server::HealthService;

    use super::*;

    const SERVICE: &str = "rekey.v1.RotationService";

    /// Quick restarts for tests: 50 ms doubling to 200 ms.
    const FAST: Backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        healthy_after: Duration::from_secs(60),
    };

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new(Vec::<String>::new()).unwrap())
    }

    async fn status(health: &HealthReporter, service: &str) -> ServingStatus {
        let reply = HealthService::from_health_reporter(health.clone())
            .check(Request::new(HealthCheckRequest {
                service: service.into(),
            }))
            .await
            .unwrap()
            .into_inner();
        use tonic_health::pb::health_check_response::ServingStatus as Wire;
        match reply.status() {
            Wire::Serving => ServingStatus::Serving,
            Wire::NotServing => ServingStatus::NotServing,
            other => panic!("unexpected health status {other:?}"),
        }
    }

    /// Waits (bounded) until `check` holds.
    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..400 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("never: {what}");
    }

    /// A task that runs until cancelled, except that its first `panics` runs panic once
    /// `release` is notified.
    fn flaky(
        panics: u32,
        runs: Arc<AtomicU32>,
        release: Arc<tokio::sync::Notify>,
    ) -> BackgroundTask {
        BackgroundTask::new("flaky", move |stop| {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let release = Arc::clone(&release);
            async move {
                if run < panics {
                    release.notified().await;
                    panic!("injected failure {run}");
                }
                stop.cancelled().await;
                Ok(())
            }
        })
        .needed_by(SERVICE)
    }

    #[tokio::test]
    async fn a_panicking_task_is_counted_restarted_and_its_service_unhealthy_meanwhile() {
        let health = HealthReporter::new();
        health
            .set_service_status(SERVICE, ServingStatus::Serving)
            .await;
        let metrics = metrics();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let steady = BackgroundTask::new("steady", |stop: CancellationToken| async move {
            stop.cancelled().await;
            Ok(())
        });
        let backoff = Backoff {
            initial: Duration::from_millis(300),
            ..FAST
        };
        let supervisor = Supervisor::start(
            vec![flaky(1, Arc::clone(&runs), Arc::clone(&release)), steady],
            stop.clone(),
            health.clone(),
            Arc::clone(&metrics),
            backoff,
            Duration::from_secs(5),
        );
        eventually("the task runs", async || runs.load(Ordering::SeqCst) == 1).await;
        assert!(metrics
            .render()
            .unwrap()
            .contains("rekey_background_task_restarts_total{task=\"flaky\"} 0"));

        release.notify_one();
        eventually("the panic makes the service NOT_SERVING", async || {
            status(&health, SERVICE).await == ServingStatus::NotServing
        })
        .await;
        assert!(metrics
            .render()
            .unwrap()
            .contains("rekey_background_task_restarts_total{task=\"flaky\"} 1"));
        // Not restarted before its backoff is over.
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        eventually("the restart makes it SERVING again", async || {
            status(&health, SERVICE).await == ServingStatus::Serving
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);

        stop.cancel();
        let ends = supervisor.join().await;
        assert_eq!(
            ends,
            [
                ("flaky", TaskEnd::Cancelled),
                ("steady", TaskEnd::Cancelled)
            ]
        );
        assert!(metrics
            .render()
            .unwrap()
            .contains("rekey_background_task_restarts_total{task=\"steady\"} 0"));
    }

    #[tokio::test]
    async fn every_way_of_ending_is_reported() {
        let stop = CancellationToken::new();
        let tasks = vec![
            BackgroundTask::new("finishes", |_| async { Ok(()) }),
            BackgroundTask::new("fails", |_| async { anyhow::bail!("no database") }),
            BackgroundTask::new("panics", |_| async {
                panic!("{}", String::from("owned message"))
            }),
            BackgroundTask::new("ignores_the_stop", |_| std::future::pending()),
        ];
        let supervisor = Supervisor::start(
            tasks,
            stop.clone(),
            HealthReporter::new(),
            metrics(),
            Backoff {
                initial: Duration::from_secs(60),
                ..FAST
            },
            Duration::from_millis(100),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        let ends = supervisor.join().await;
        assert_eq!(
            ends,
            [
                ("finishes", TaskEnd::Finished),
                ("fails", TaskEnd::Failed("no database".into())),
                ("panics", TaskEnd::Panicked("owned message".into())),
                ("ignores_the_stop", TaskEnd::Aborted),
            ]
        );
    }

    #[tokio::test]
    async fn the_service_stays_unhealthy_until_every_task_it_needs_runs_again() {
        let health = HealthReporter::new();
        let stop = CancellationToken::new();
        let (runs_a, runs_b) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let (release_a, release_b) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let a = flaky(1, Arc::clone(&runs_a), Arc::clone(&release_a));
        let b = BackgroundTask {
            name: "flaky_b",
            ..flaky(1, Arc::clone(&runs_b), Arc::clone(&release_b))
        };
        let supervisor = Supervisor::start(
            vec![a, b],
            stop.clone(),
            health.clone(),
            metrics(),
            Backoff {
                initial: Duration::from_millis(400),
                ..FAST
            },
            Duration::from_secs(5),
        );
        eventually("both run", async || {
            runs_a.load(Ordering::SeqCst) == 1 && runs_b.load(Ordering::SeqCst) == 1
        })
        .await;
        release_a.notify_one();
        tokio::time::sleep(Duration::from_millis(200)).await;
        release_b.notify_one();
        eventually("the first is restarted", async || {
            runs_a.load(Ordering::SeqCst) == 2
        })
        .await;
        assert_eq!(runs_b.load(Ordering::SeqCst), 1, "the second is still down");
        assert_eq!(status(&health, SERVICE).await, ServingStatus::NotServing);
        eventually("SERVING once both run", async || {
            runs_b.load(Ordering::SeqCst) == 2
                && status(&health, SERVICE).await == ServingStatus::Serving
        })
        .await;
        stop.cancel();
        supervisor.join().await;
    }

    #[test]
    fn the_backoff_doubles_up_to_its_maximum_and_resets_after_a_healthy_run() {
        let b = Backoff::DEFAULT;
        let quick = Duration::from_secs(1);
        assert_eq!(b.next(None, quick), Duration::from_secs(1));
        assert_eq!(
            b.next(Some(Duration::from_secs(1)), quick),
            Duration::from_secs(2)
        );
        assert_eq!(
            b.next(Some(Duration::from_secs(32)), quick),
            Duration::from_secs(60)
        );
        assert_eq!(
            b.next(Some(Duration::from_secs(60)), quick),
            Duration::from_secs(60)
        );
        assert_eq!(
            b.next(Some(Duration::from_secs(60)), b.healthy_after),
            Duration::from_secs(1)
        );
    }
}
