//! Real `rekey serve` processes: a server killed with SIGKILL mid-migration leaves an event
//! that another replica finishes, and three replicas with the scheduler due rotate each key
//! exactly once.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rekey::proto::key_service_client::KeyServiceClient;
use rekey::rotation::targets::TargetConfig;
use rekey::rotation::BatchSize;
use secrecy::ExposeSecret;
use tonic::transport::Channel;

use crate::app_db::{plaintext, AppBackend, AppDb, KEY, LEGACY_V1};
use crate::support::{Authed, Backend, Clients, TestEnv};

/// A `rekey serve` child process, killed when dropped.
pub struct Replica {
    child: Child,
    channel: Channel,
    /// Clients with the admin token.
    clients: Clients,
    http_addr: std::net::SocketAddr,
    grpc_url: String,
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Replica {
    /// Starts `rekey serve` on a free port with `env`'s keystore plus `extra` TOML settings.
    pub async fn start(
        env: &TestEnv,
        name: &str,
        extra: &str,
        targets: &[TargetConfig],
    ) -> Replica {
        Self::start_with(env, name, extra, targets, &[]).await
    }

    /// As [`Replica::start`], with environment variables `vars` set last (`None` removes one:
    /// `("REKEY_MASTER_KEY", None)` for a root key in a token).
    pub async fn start_with(
        env: &TestEnv,
        name: &str,
        extra: &str,
        targets: &[TargetConfig],
        vars: &[(&str, Option<&str>)],
    ) -> Replica {
        let port = free_port();
        let http_port = free_port();
        let dir = env.dir();
        // Short leases, so that a killed replica's partitions are taken over in seconds; a
        // test that must see no takeover under a loaded machine sets its own.
        let lease = if extra.contains("rotation.lease_secs") {
            ""
        } else {
            "rotation.lease_secs = 2\n"
        };
        let mut toml = format!(
            "listen = \"127.0.0.1:{port}\"\nhttp_listen = \"127.0.0.1:{http_port}\"\ndata_dir = {:?}\nrotation.worker_poll_interval_ms = 100\n{lease}{extra}\n",
            env.config.data_dir.display().to_string()
        );
        if let Some(url) = env.database_url() {
            toml.push_str(&format!("database.url = {url:?}\n"));
        }
        for t in targets {
            toml.push_str(&format!(
                "\n[[targets]]\nname = {:?}\ndatabase_url = {:?}\ntable = {:?}\nprimary_key = {:?}\ncolumn = {:?}\nkey = {:?}\nassociated_data_column = \"owner\"\n",
                t.name,
                t.database_url.expose_secret(),
                t.table,
                t.primary_key,
                t.column,
                t.key
            ));
            if let Some(b) = t.batch_size {
                toml.push_str(&format!("batch_size = {b}\n"));
            }
            if let Some(r) = t.rate_limit {
                toml.push_str(&format!("rate_limit = {r}\n"));
            }
            if let Some(p) = t.parallelism {
                toml.push_str(&format!("parallelism = {p}\n"));
            }
        }
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, toml).unwrap();
        let log = File::create(dir.join(format!("{name}.log"))).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
        command
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("TOKEN_ENCRYPTION_KEY", hex::encode(LEGACY_V1))
            .env("REKEY_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(File::create(dir.join(format!("{name}.out"))).unwrap())
            .stderr(log);
        if let Some(key) = &env.config.keystore.master_key {
            command.env("REKEY_MASTER_KEY", key.expose_secret());
        }
        let admin_token = env.config.admin_token.as_ref().expect("admin token");
        command.env("REKEY_ADMIN_TOKEN", admin_token.expose_secret());
        for (name, value) in vars {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let mut child = command.spawn().expect("rekey binary starts");
        let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
        for _ in 0..600 {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
                panic!("replica {name} exited ({status}) before serving:\n{log}");
            }
            if let Ok(channel) = endpoint.connect().await {
                return Replica {
                    child,
                    clients: Clients::new(&channel, admin_token.expose_secret()),
                    channel,
                    http_addr: ([127, 0, 0, 1], http_port).into(),
                    grpc_url: format!("http://127.0.0.1:{port}"),
                };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        panic!("replica {name} did not start serving:\n{log}");
    }

    /// Admin clients with the typed calls (`replica.clients().get_event(id)`).
    pub fn clients(&self) -> Clients {
        self.clients.clone()
    }

    pub fn keys(&self) -> KeyServiceClient<Authed> {
        self.clients.client.clone()
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// ScheduleRotation with `force`: the event that migrates `key`.
    pub async fn force_rotation(&self, key: &str) -> rekey::proto::RotationEvent {
        self.clients().force_rotation(key).await
    }

    /// Its gRPC address as `rekey`'s `REKEY_ADDR` takes it.
    pub fn grpc_url(&self) -> &str {
        &self.grpc_url
    }

    /// Where its HTTP port (admin API, `/metrics`) listens.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.http_addr
    }

    /// SIGSTOP: the process stops dead where it is, mid-batch or not, until killed.
    pub fn freeze(&self) {
        let stopped = Command::new("kill")
            .arg("-STOP")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(stopped.success());
    }

    /// SIGTERM, then wait: a clean shutdown.
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// SIGKILL: no shutdown, no cleanup, exactly like a crash.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn a_migration_killed_with_sigkill_is_finished_by_another_replica(app: AppBackend) {
    let rows = 20_000;
    let env = crate::migration::env_with_legacy_key(app.keystore()).await;
    let db = AppDb::create(&env, app, rows).await;
    let mut target = db.target("secrets.token");
    target.batch_size = Some(BatchSize::new(200).unwrap());
    target.rate_limit = Some(4_000);

    let a = Replica::start(&env, "a", "", std::slice::from_ref(&target)).await;
    let event = a.force_rotation(KEY).await;
    // Let it get well into the table, then crash it.
    let mut progressed = false;
    for _ in 0..1200 {
        let e = a.clients().get_event(&event.event_id).await;
        if e.totals.unwrap().migrated >= 2_000 {
            assert_eq!(e.status(), rekey::proto::RotationEventStatus::InProgress);
            progressed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(progressed, "the migration never got going");
    a.kill9();

    // A second replica takes the event over once the dead one's lease expires.
    let b = Replica::start(&env, "b", "", std::slice::from_ref(&target)).await;
    let mut finished = None;
    for _ in 0..2400 {
        let e = b.clients().get_event(&event.event_id).await;
        if e.status() == rekey::proto::RotationEventStatus::Completed {
            finished = Some(e);
            break;
        }
        assert_ne!(
            e.status(),
            rekey::proto::RotationEventStatus::Failed,
            "{}",
            e.last_error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = finished.expect("the event completes on the second replica");
    let totals = finished.totals.unwrap();
    assert_eq!(totals.failed, 0);
    // A batch written just before the crash but not yet checkpointed is read again and
    // found current: counted, never encrypted twice.
    assert!(
        totals.migrated + totals.already_current >= rows as u64,
        "{totals:?}"
    );
    // It resumed from the checkpoints: at most one unrecorded batch (200 rows) per partition
    // (4, the default parallelism) was revisited, not the 2,000+ rows migrated before the crash.
    let partitions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM rotation_event_partitions WHERE event_id = $1 AND done = 1",
    )
    .bind(&event.event_id)
    .fetch_one(&env.keystore_pool().await)
    .await
    .unwrap();
    assert_eq!(partitions, 4, "the default parallelism cuts the table in 4");
    assert!(totals.already_current <= 200 * 4, "{totals:?}");
    drop(b);

    // Nothing lost: every row is on version 2 and decrypts to its original plaintext.
    let mut env = env;
    env.config.targets.push(target);
    let s = env.start().await;
    let manager = s.server.manager();
    let all = db.all().await;
    assert_eq!(all.len(), rows as usize);
    for (id, token) in &all {
        let d = manager
            .decrypt(token, crate::app_db::owner(*id).as_bytes())
            .await
            .unwrap_or_else(|e| panic!("row {id}: {e}"));
        assert_eq!(
            (d.key_version, d.plaintext.to_vec()),
            (2, plaintext(*id)),
            "row {id}"
        );
    }
    s.stop().await;
    env.finish().await;
}

async fn three_replicas_with_the_scheduler_due_rotate_each_key_once(backend: Backend) {
    let env = TestEnv::new(backend).await;
    // Create the keystore, then make every key overdue by moving its history back 400 days.
    env.start().await.stop().await;
    let keystore = env.keystore_pool().await;
    sqlx::query("UPDATE key_versions SET created_at = created_at - 34560000000")
        .execute(&keystore)
        .await
        .unwrap();
    keystore.close().await;

    let every_second = "rotation.schedule_cron = \"* * * * * *\"";
    let replicas = [
        Replica::start(&env, "r1", every_second, &[]).await,
        Replica::start(&env, "r2", every_second, &[]).await,
        Replica::start(&env, "r3", every_second, &[]).await,
    ];
    let mut keys = replicas[0].clients();
    let mut all_rotated = false;
    for _ in 0..600 {
        let status = keys.status_all().await;
        if status.keys.iter().all(|k| k.primary_version == 2) {
            all_rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(all_rotated, "the scheduler did not rotate every due key");
    // Let each replica's scheduler fire a few more times.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let status = keys.status_all().await;
    for key in &status.keys {
        assert_eq!(
            key.versions.len(),
            2,
            "{} was rotated more than once",
            key.key_name
        );
        let events = replicas[1]
            .clients()
            .list_events(&key.key_name, "")
            .await
            .events;
        assert_eq!(events.len(), 1, "{}", key.key_name);
        assert_eq!(
            (events[0].trigger(), events[0].actor.as_str()),
            (rekey::proto::RotationTrigger::Scheduled, "scheduler")
        );
        assert_eq!(
            events[0].status(),
            rekey::proto::RotationEventStatus::Completed,
            "keys without targets complete at once"
        );
    }
    drop(replicas);
    env.finish().await;
}

crate::on_every_backend!(three_replicas_with_the_scheduler_due_rotate_each_key_once);

mod killed {
    use super::*;
    crate::on_every_target_backend!(a_migration_killed_with_sigkill_is_finished_by_another_replica);
}

/// `rekey serve --listen 127.0.0.1:0 --ready-file F`, as the Python and TypeScript suites
/// start it: the file names the ports actually bound, both of which answer.
#[tokio::test]
async fn the_ready_file_names_the_ports_bound() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rekey"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--ready-file")
        .arg(&ready)
        .env_remove("REKEY_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .expect("rekey binary starts");
    let mut text = None;
    for _ in 0..600 {
        if let Ok(t) = std::fs::read_to_string(&ready) {
            text = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    let text = text.unwrap_or_else(|| panic!("no ready file after 30 s:\n{log}"));
    let addrs: serde_json::Value = serde_json::from_str(&text).unwrap();
    let grpc: std::net::SocketAddr = addrs["grpc"].as_str().unwrap().parse().unwrap();
    let http: std::net::SocketAddr = addrs["http"].as_str().unwrap().parse().unwrap();
    assert_ne!(grpc.port(), 0, "{text}");
    assert_ne!(http.port(), 0, "{text}");
    assert!(!dir.path().join("ready.json.tmp").exists());
    Channel::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .expect("gRPC answers on the port the ready file names");
    crate::metrics::scrape(http).await;
    let _ = child.kill();
    let _ = child.wait();
}
