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
use tonic_health::server::HealthReporter;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tracing::{error, info, warn};

use crate::telemetry::Metrics;

type Start = dyn Fn(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync;

/// A background task: how to start it (again), and which gRPC service cannot work without it.
#[derive(Clone)]
pub struct BackgroundTask {
    name: &'static str,
    needed_by: Option<&'static str>,
    start: Arc<Start>,
}

impl BackgroundTask {
    /// A task named `name` (its metric label) that `start` runs until the token is cancelled.
    pub fn new<F, Fut>(name: &'static str, start: F) -> Self
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
    pub fn needed_by(mut self, service: &'static str) -> Self {
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
pub enum TaskEnd {
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
            self.metrics.background_task_started(self.slots[slot].task.name);
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
        let (due, later): (Vec<_>, Vec<_>) = self.restarts.drain(..).partition(|(at, _)| *at <= now);
        self.restarts = later;
        for (_, slot) in due {
            info!(task = self.slots[slot].task.name, "restarting background task");
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
            warn!(service, "a background task it needs is down; health NOT_SERVING");
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
