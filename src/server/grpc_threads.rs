//! The gRPC connections' threads: one thread per core, each running a current-thread tokio
//! runtime that serves the connections handed to it, while one accept loop on the main
//! runtime takes new connections and deals them out in turn.
//!
//! Why not serve them on the main (work-stealing) runtime: hyper spawns a task per request,
//! and on a work-stealing runtime each request's task, its connection's task and the workers
//! that steal them wake one another across threads. Measured on 2 cores with h2load
//! (BENCHMARKS.md, "Load from many connections"), a connection's requests served on one
//! thread of its own gave Encrypt 64 B 91k instead of 56k req/s at 4 connections x 32 streams,
//! 34k instead of 28k at 64 x 1, and 28k instead of 17k on a single connection. The background
//! tasks (migration worker, scheduler, refresh) stay on the main runtime.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;

use tokio_util::sync::CancellationToken;
use tracing::{error, warn};

/// How many connection threads: one per core the process may use.
pub fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Serves every connection accepted on `listener` with `serve_connections` (a tonic router's
/// `serve_with_incoming_shutdown`, one per thread) until `stop` is cancelled; then each
/// thread drains its connections for at most `grace`. Returns once every thread has ended.
/// Public for the benchmark's echo baseline, which must be served the same way.
pub async fn serve<S, F>(
    listener: TcpListener,
    threads: usize,
    stop: CancellationToken,
    grace: Duration,
    serve_connections: S,
) -> anyhow::Result<()>
where
    S: Fn(UnboundedReceiverStream<std::net::TcpStream>, CancellationToken) -> F
        + Clone
        + Send
        + 'static,
    F: Future<Output = anyhow::Result<()>> + 'static,
{
    let mut senders = Vec::with_capacity(threads);
    let mut ended = Vec::with_capacity(threads);
    for i in 0..threads {
        let (to_thread, connections) = mpsc::unbounded_channel();
        let (done, finished) = oneshot::channel();
        let (serve_connections, stop) = (serve_connections.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("rekey-grpc-{i}"))
            .spawn(move || {
                let result = run_thread(connections, stop, grace, serve_connections);
                let _ = done.send(result);
            })?;
        senders.push(to_thread);
        ended.push(finished);
    }
    accept(&listener, &senders, &stop).await;
    drop(senders);
    let mut outcome = Ok(());
    for finished in ended {
        match finished.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(e),
            Err(_) => outcome = Err(anyhow::anyhow!("a gRPC connection thread panicked")),
        }
    }
    outcome
}

/// One connection thread: a current-thread runtime serving what the accept loop sends it,
/// ending within `grace` of `stop`.
fn run_thread<S, F>(
    connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    stop: CancellationToken,
    grace: Duration,
    serve_connections: S,
) -> anyhow::Result<()>
where
    S: Fn(UnboundedReceiverStream<std::net::TcpStream>, CancellationToken) -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let serving = serve_connections(UnboundedReceiverStream::new(connections), stop.clone());
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => result,
            () = async {
                stop.cancelled().await;
                tokio::time::sleep(grace).await;
            } => {
                warn!("in-flight requests did not finish within the shutdown grace period");
                Ok(())
            }
        }
    })
}

/// Accepts connections until `stop`, handing them to the threads in turn. A thread that has
/// ended (it failed) is skipped.
async fn accept(
    listener: &TcpListener,
    senders: &[mpsc::UnboundedSender<std::net::TcpStream>],
    stop: &CancellationToken,
) {
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                warn!(error = %e, "accepting a gRPC connection failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            warn!(error = %e, "cannot set TCP_NODELAY on a gRPC connection");
        }
        let mut stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                warn!(error = %e, "cannot hand a gRPC connection to its thread");
                continue;
            }
        };
        // Try each thread once, starting from the next in turn.
        let mut handed = false;
        for _ in 0..senders.len() {
            let sender = &senders[next % senders.len()];
            next = next.wrapping_add(1);
            match sender.send(stream) {
                Ok(()) => {
                    handed = true;
                    break;
                }
                Err(mpsc::error::SendError(back)) => stream = back,
            }
        }
        if !handed {
            error!("every gRPC connection thread has ended; refusing connections");
        }
    }
}
