//! Behaviour of the `KeyStore` backends. Every case runs on a fresh SQLite file, and on a
//! fresh PostgreSQL database in the PostgreSQL suite (`cargo test -- --ignored`).

use std::sync::Arc;

use crate::store_ctx::{Ctx, Opened};

use rekey::storage::{AuditEntry, AuditOperation, Outcome, StoreError};
use rekey::storage::{
    KeyPolicy, KeyStore, NewKey, NewVersion, Purpose, RotateGuard, VersionRecord, VersionState,
};

crate::storage_suite!(
    create_list_get,
    create_twice_returns_false,
    concurrent_create_has_one_winner,
    concurrent_startup_migrates_once,
    rotate_deprecates_previous,
    rotate_whose_wrap_fails_writes_nothing,
    concurrent_rotations_serialize,
    refuse_if_rotated_after,
    rollback_restores_previous,
    rollback_without_previous,
    rollback_onto_retired_is_refused,
    retire_version,
    update_policy,
    root_check_value_first_wins,
    one_active_index_rejects_second_active,
    corrupt_state_is_reported,
    corrupt_purpose_and_version_are_reported,
    missing_key,
);

// ---- harness ----

/// The audit entry a change is made with; the store completes it with key and version.
fn audit() -> AuditEntry {
    AuditEntry::new(
        "store-suite",
        AuditOperation::RotateEmergency,
        Outcome::Success,
    )
}

/// Store-suite access to the case's database.
trait KeyStoreCtx {
    async fn open(&self) -> Arc<dyn KeyStore>;
    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error>;
    async fn execute_unchecked(&self, sql: &str) -> Result<(), sqlx::Error>;
}

impl KeyStoreCtx for Ctx {
    async fn open(&self) -> Arc<dyn KeyStore> {
        match self.store().await {
            Opened::Sqlite(s) => s,
            Opened::Postgres(s) => s,
        }
    }

    async fn execute(&self, sql: &str) -> Result<(), sqlx::Error> {
        self.execute_with(&[], &[sql]).await
    }

    /// Runs `sql` with the CHECK constraint on version states out of the way.
    async fn execute_unchecked(&self, sql: &str) -> Result<(), sqlx::Error> {
        let setup = match self {
            Ctx::Sqlite(_) => "PRAGMA ignore_check_constraints = ON",
            Ctx::Postgres(_) => "ALTER TABLE key_versions DROP CONSTRAINT key_versions_state_check",
        };
        self.execute_with(&[setup], &[sql]).await
    }
}

const POLICY: KeyPolicy = KeyPolicy {
    rotation_interval_secs: 86_400,
    grace_period_secs: 3_600,
};

fn new_key(name: &str) -> NewKey {
    NewKey {
        name: name.to_owned(),
        purpose: Purpose::EncryptDecrypt,
        policy: POLICY,
    }
}

fn material(tag: &str) -> NewVersion {
    NewVersion {
        wrapped_material: format!("wrapped:{tag}").into_bytes(),
        check_value: format!("kcv:{tag}"),
    }
}

/// Builds version `v`'s material, tagged with `v` so the tests can see it was asked for.
fn make(v: u32) -> futures::future::BoxFuture<'static, rekey::storage::StoreResult<NewVersion>> {
    Box::pin(async move { Ok(material(&format!("v{v}"))) })
}

async fn with_key(ctx: &Ctx, name: &str) -> Arc<dyn KeyStore> {
    let store = ctx.open().await;
    assert!(store
        .create_key(&new_key(name), material("v1"), 1_000)
        .await
        .unwrap());
    store
}

/// `(version, state)` of each version of `name`, in order.
async fn states(store: &dyn KeyStore, name: &str) -> Vec<(u32, VersionState)> {
    let versions = store.list_versions(name).await.unwrap();
    versions.iter().map(|v| (v.version, v.state)).collect()
}

/// Version `v` of key "k", which must exist.
async fn version(store: &dyn KeyStore, v: u32) -> VersionRecord {
    store
        .get_version("k", v)
        .await
        .unwrap()
        .expect("version exists")
}

async fn primary(store: &dyn KeyStore, name: &str) -> u32 {
    store.get_key(name).await.unwrap().unwrap().primary_version
}

use VersionState::{Active, Deprecated, Retired};

// ---- cases ----

async fn create_list_get(ctx: Ctx) {
    let store = ctx.open().await;
    assert_eq!(store.backend(), ctx.backend());
    let signing = NewKey {
        purpose: Purpose::SignVerify,
        ..new_key("b-signing")
    };
    assert!(store
        .create_key(&signing, material("b1"), 1_000)
        .await
        .unwrap());
    assert!(store
        .create_key(&new_key("a-data"), material("a1"), 2_000)
        .await
        .unwrap());

    let keys = store.list_keys().await.unwrap();
    let names: Vec<_> = keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["a-data", "b-signing"]);

    let key = store.get_key("b-signing").await.unwrap().unwrap();
    assert_eq!(key.purpose, Purpose::SignVerify);
    assert_eq!(key.policy, POLICY);
    assert_eq!(key.primary_version, 1);
    assert_eq!(key.created_at, 1_000);
    assert_eq!(store.get_key("absent").await.unwrap(), None);

    let versions = store.list_versions("a-data").await.unwrap();
    assert_eq!(versions.len(), 1);
    let v1 = &versions[0];
    assert_eq!(
        (v1.key_name.as_str(), v1.version, v1.state),
        ("a-data", 1, Active)
    );
    assert_eq!(v1.wrapped_material, b"wrapped:a1");
    assert_eq!(v1.check_value, "kcv:a1");
    assert_eq!(
        (v1.created_at, v1.deprecated_at, v1.retired_at),
        (2_000, None, None)
    );
    assert_eq!(
        store.get_version("a-data", 1).await.unwrap().as_ref(),
        Some(v1)
    );
    assert_eq!(store.get_version("a-data", 2).await.unwrap(), None);
    assert!(store.list_versions("absent").await.unwrap().is_empty());
}

async fn create_twice_returns_false(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    let other = NewKey {
        purpose: Purpose::SignVerify,
        ..new_key("k")
    };
    assert!(!store
        .create_key(&other, material("other"), 5_000)
        .await
        .unwrap());
    let key = store.get_key("k").await.unwrap().unwrap();
    assert_eq!(
        (key.purpose, key.created_at),
        (Purpose::EncryptDecrypt, 1_000)
    );
    let versions = store.list_versions("k").await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].check_value, "kcv:v1");
}

async fn concurrent_create_has_one_winner(ctx: Ctx) {
    let store = ctx.open().await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let created = store
                    .create_key(&new_key("k"), material(&format!("task{i}")), 1_000)
                    .await
                    .unwrap();
                (i, created)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, created) = task.await.unwrap();
        if created {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let versions = store.list_versions("k").await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].check_value, format!("kcv:task{}", winners[0]));
}

async fn concurrent_startup_migrates_once(ctx: Ctx) {
    // Several processes starting on a database nobody has migrated yet.
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            tokio::spawn(async move { ctx.open().await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in opening {
        stores.push(task.await.unwrap());
    }
    assert!(stores[0]
        .create_key(&new_key("k"), material("v1"), 1_000)
        .await
        .unwrap());
    for store in &stores {
        assert_eq!(primary(store.as_ref(), "k").await, 1);
    }
}

/// The root key cannot wrap (a token removed mid-rotation): the rotation fails with the
/// provider's error and leaves version 1 primary and no version 2.
async fn rotate_whose_wrap_fails_writes_nothing(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    fn failing(
        _: u32,
    ) -> futures::future::BoxFuture<'static, rekey::storage::StoreResult<NewVersion>> {
        Box::pin(async { Err(StoreError::RootKeyUnavailable("token removed".into())) })
    }
    let err = store
        .rotate("k", 2_000, RotateGuard::Always, &failing, None, &audit())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::RootKeyUnavailable(m) if m == "token removed"),
        "{err:?}"
    );
    assert_eq!(primary(store.as_ref(), "k").await, 1);
    assert!(store.get_version("k", 2).await.unwrap().is_none());
    assert_eq!(version(store.as_ref(), 1).await.state, Active);
    // The key rotates normally once the root key is back.
    let rotated = store
        .rotate("k", 3_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    assert_eq!(rotated.new_version, 2);
}

async fn rotate_deprecates_previous(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    let rotated = store
        .rotate("k", 2_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    assert_eq!((rotated.previous_version, rotated.new_version), (1, 2));
    assert_eq!(primary(store.as_ref(), "k").await, 2);
    let v1 = version(store.as_ref(), 1).await;
    assert_eq!((v1.state, v1.deprecated_at), (Deprecated, Some(2_000)));
    let v2 = version(store.as_ref(), 2).await;
    assert_eq!(
        (v2.state, v2.created_at, v2.deprecated_at),
        (Active, 2_000, None)
    );
    assert_eq!(v2.check_value, "kcv:v2");
    assert_eq!(v2.wrapped_material, b"wrapped:v2");
}

async fn concurrent_rotations_serialize(ctx: Ctx) {
    let first = with_key(&ctx, "k").await;
    let second = ctx.open().await; // another instance, as another process would have
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = if i % 2 == 0 { &first } else { &second }.clone();
            tokio::spawn(async move {
                store
                    .rotate("k", 2_000 + i, RotateGuard::Always, &make, None, &audit())
                    .await
            })
        })
        .collect();
    let mut new_versions = Vec::new();
    for task in tasks {
        let rotated = task.await.unwrap().expect("rotation");
        assert_eq!(rotated.previous_version + 1, rotated.new_version);
        new_versions.push(rotated.new_version);
    }
    new_versions.sort_unstable();
    assert_eq!(new_versions, (2..=21).collect::<Vec<_>>());

    let versions = states(first.as_ref(), "k").await;
    let numbers: Vec<_> = versions.iter().map(|(v, _)| *v).collect();
    assert_eq!(numbers, (1..=21).collect::<Vec<_>>());
    let active: Vec<_> = versions.iter().filter(|(_, s)| *s == Active).collect();
    assert_eq!(active, [&(21, Active)]);
    assert_eq!(primary(second.as_ref(), "k").await, 21);
}

async fn refuse_if_rotated_after(ctx: Ctx) {
    let store = with_key(&ctx, "k").await; // version 1 created at 1_000
                                           // Version 1 was created by create_key, not by a rotation: never refused.
    let rotated = store
        .rotate(
            "k",
            2_000,
            RotateGuard::NotRotatedSince(1_500),
            &make,
            None,
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(rotated.new_version, 2);

    // Version 2 was created at 2_000, after 1_500: a retried request is refused.
    let err = store
        .rotate(
            "k",
            2_100,
            RotateGuard::NotRotatedSince(1_500),
            &make,
            None,
            &audit(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::RotatedRecently { ref key, version: 2, rotated_at: 2_000 } if key == "k"
        ),
        "{err:?}"
    );
    assert_eq!(
        states(store.as_ref(), "k").await,
        [(1, Deprecated), (2, Active)]
    );

    // Not created after the limit (equal): allowed; without a limit (forced): allowed.
    let rotated = store
        .rotate(
            "k",
            3_000,
            RotateGuard::NotRotatedSince(2_000),
            &make,
            None,
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(rotated.new_version, 3);
    let rotated = store
        .rotate("k", 3_001, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    assert_eq!(rotated.new_version, 4);
}

async fn rollback_restores_previous(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    store
        .rotate("k", 2_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    let rolled = store.rollback("k", 3_000, None, &audit()).await.unwrap();
    assert_eq!((rolled.primary_version, rolled.rolled_back_version), (1, 2));
    assert_eq!(primary(store.as_ref(), "k").await, 1);
    let v1 = version(store.as_ref(), 1).await;
    assert_eq!((v1.state, v1.deprecated_at), (Active, None));
    let v2 = version(store.as_ref(), 2).await;
    assert_eq!((v2.state, v2.deprecated_at), (Deprecated, Some(3_000)));

    // The next rotation still takes a new number, after the highest.
    let rotated = store
        .rotate("k", 4_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    assert_eq!((rotated.previous_version, rotated.new_version), (1, 3));
    let expected = [(1, Deprecated), (2, Deprecated), (3, Active)];
    assert_eq!(states(store.as_ref(), "k").await, expected);
}

async fn rollback_without_previous(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    let err = store
        .rollback("k", 2_000, None, &audit())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NoPreviousVersion { ref key, primary: 1 } if key == "k"),
        "{err:?}"
    );
    assert_eq!(states(store.as_ref(), "k").await, [(1, Active)]);
}

async fn rollback_onto_retired_is_refused(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    store
        .rotate("k", 2_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    store
        .rotate("k", 3_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();
    assert!(store.retire_version("k", 2, 4_000, &audit()).await.unwrap());
    let err = store
        .rollback("k", 5_000, None, &audit())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PreviousVersionRetired { ref key, version: 2 } if key == "k"),
        "{err:?}"
    );
    let expected = [(1, Deprecated), (2, Retired), (3, Active)];
    assert_eq!(states(store.as_ref(), "k").await, expected);
    assert_eq!(primary(store.as_ref(), "k").await, 3);
}

async fn retire_version(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    store
        .rotate("k", 2_000, RotateGuard::Always, &make, None, &audit())
        .await
        .unwrap();

    assert!(store.retire_version("k", 1, 3_000, &audit()).await.unwrap());
    let v1 = version(store.as_ref(), 1).await;
    assert_eq!((v1.state, v1.retired_at), (Retired, Some(3_000)));
    assert_eq!(v1.wrapped_material, b"wrapped:v1", "material is kept");

    // Retiring it again changes nothing.
    assert!(store.retire_version("k", 1, 4_000, &audit()).await.unwrap());
    let v1 = version(store.as_ref(), 1).await;
    assert_eq!(v1.retired_at, Some(3_000));

    // The primary cannot be retired.
    assert!(!store.retire_version("k", 2, 3_000, &audit()).await.unwrap());
    assert_eq!(
        states(store.as_ref(), "k").await,
        [(1, Retired), (2, Active)]
    );

    let err = store
        .retire_version("k", 7, 3_000, &audit())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::VersionNotFound { ref key, version: 7 } if key == "k"),
        "{err:?}"
    );
}

async fn update_policy(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    let policy = KeyPolicy {
        rotation_interval_secs: 60,
        grace_period_secs: 5,
    };
    store.update_policy("k", policy).await.unwrap();
    assert_eq!(store.get_key("k").await.unwrap().unwrap().policy, policy);
}

async fn root_check_value_first_wins(ctx: Ctx) {
    let store = ctx.open().await;
    assert_eq!(store.root_check_value("first").await.unwrap(), "first");
    assert_eq!(store.root_check_value("second").await.unwrap(), "first");
    let other = ctx.open().await;
    assert_eq!(other.root_check_value("third").await.unwrap(), "first");
}

async fn one_active_index_rejects_second_active(ctx: Ctx) {
    with_key(&ctx, "k").await;
    let copy_v1_as = |version: u32, state: &str| {
        format!(
            "INSERT INTO key_versions \
             (key_name, version, state, wrapped_material, check_value, created_at) \
             SELECT key_name, {version}, '{state}', wrapped_material, check_value, created_at \
             FROM key_versions WHERE key_name = 'k' AND version = 1"
        )
    };
    let err = ctx.execute(&copy_v1_as(2, "active")).await.unwrap_err();
    let unique_violation = err
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation());
    assert!(unique_violation, "{err:?}");
    // A second version that is not active is fine.
    ctx.execute(&copy_v1_as(2, "deprecated")).await.unwrap();
}

async fn corrupt_state_is_reported(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    ctx.execute_unchecked("UPDATE key_versions SET state = 'shredded' WHERE key_name = 'k'")
        .await
        .unwrap();
    let is_corrupt = |err: StoreError| matches!(err, StoreError::Corrupt(ref m) if m.contains("\"k\"") && m.contains("shredded"));
    assert!(is_corrupt(store.list_versions("k").await.unwrap_err()));
    assert!(is_corrupt(store.get_version("k", 1).await.unwrap_err()));
}

async fn corrupt_purpose_and_version_are_reported(ctx: Ctx) {
    let store = with_key(&ctx, "k").await;
    let names_key =
        |err: StoreError| matches!(err, StoreError::Corrupt(ref m) if m.contains("\"k\""));

    ctx.execute("UPDATE keys SET purpose = 'launch_missiles'")
        .await
        .unwrap();
    assert!(names_key(store.get_key("k").await.unwrap_err()));
    assert!(names_key(store.list_keys().await.unwrap_err()));

    ctx.execute("UPDATE keys SET purpose = 'encrypt_decrypt', primary_version = 4294967296")
        .await
        .unwrap();
    assert!(names_key(store.get_key("k").await.unwrap_err()));

    ctx.execute("UPDATE key_versions SET version = -1")
        .await
        .unwrap();
    assert!(names_key(store.list_versions("k").await.unwrap_err()));
}

async fn missing_key(ctx: Ctx) {
    let store = ctx.open().await;
    let not_found = |err: StoreError| matches!(err, StoreError::KeyNotFound(ref k) if k == "nope");
    assert!(not_found(
        store
            .rotate("nope", 1, RotateGuard::Always, &make, None, &audit())
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        store.rollback("nope", 1, None, &audit()).await.unwrap_err()
    ));
    assert!(not_found(
        store.update_policy("nope", POLICY).await.unwrap_err()
    ));
    assert!(not_found(
        store
            .retire_version("nope", 1, 1, &audit())
            .await
            .unwrap_err()
    ));
    assert_eq!(store.get_key("nope").await.unwrap(), None);
    assert_eq!(store.get_version("nope", 1).await.unwrap(), None);
}
