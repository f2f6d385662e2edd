//! Head-only writes: an envelope value moves to a new key version by its head alone, compared
//! and rewritten in the database (PostgreSQL, MySQL); its payload never travels back.

use super::*;
use crate::crypto::{rewrapped_head, DataKey, DATA_KEY_AAD};

on_both_backends!(heads_are_swapped_in_place_and_rows_changed_underneath_are_kept);

/// A data key wrapped under `version` of the test key, and an envelope value of `size`
/// plaintext bytes sealed with it.
fn envelope_value(keys: &Keys, dk: &[u8; 32], version: u32, size: usize) -> Vec<u8> {
    let wrapped = keys.key.encrypt(KEY, version, dk, DATA_KEY_AAD).unwrap();
    let data_key = DataKey::new(KEY, version, dk, wrapped).unwrap();
    data_key.seal(&vec![0x5A; size], b"").unwrap()
}

async fn heads_are_swapped_in_place_and_rows_changed_underneath_are_kept(db: &TestDb) {
    let keys = Keys::new();
    let table = db.table("heads");
    db.exec(&format!(
        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, secret {})",
        db.blob_type()
    ))
    .await;
    let dk = [7u8; 32];
    let values: Vec<Vec<u8>> = (1..=3)
        .map(|id| envelope_value(&keys, &dk, 1, 1000 * id))
        .collect();
    for (id, value) in (1..).zip(&values) {
        db.exec(&format!(
            "INSERT INTO {table} VALUES ({id}, {})",
            db.bytes(value)
        ))
        .await;
    }
    let target = db
        .connect(db.config("heads", "secret", Encoding::Binary))
        .await;
    // SQLite has no statement for it: its values are written whole.
    assert_eq!(
        target.writes_heads(),
        !matches!(db.pool, TestPool::Sqlite(_))
    );
    let rows = target.fetch_batch(None, None, 10).await.expect("fetch");
    let updates: Vec<Update> = rows
        .iter()
        .map(|row| {
            let new_wrapped = keys.key.encrypt(KEY, 2, &dk, DATA_KEY_AAD).unwrap();
            let head = rewrapped_head(&row.stored, &new_wrapped).unwrap();
            Update {
                pk: row.pk.clone(),
                old_stored: row.stored[..head.len()].to_vec(),
                new_stored: head,
                head_only: true,
            }
        })
        .collect();
    // The application rewrites row 2 (a new value, a head of its own) after the worker read it.
    let app_value = envelope_value(&keys, &dk, 1, 10);
    db.exec(&format!(
        "UPDATE {table} SET secret = {} WHERE id = 2",
        db.bytes(&app_value)
    ))
    .await;
    let mut written = target.compare_and_swap(&updates).await.expect("swap");
    written.sort();
    let after = target.fetch_batch(None, None, 10).await.expect("fetch");
    if !target.writes_heads() {
        assert!(written.is_empty(), "a head-only update is not taken");
        assert_eq!(after[0].stored, values[0]);
        return;
    }
    assert_eq!(written, [1, 3].map(PkValue::Int));
    assert_eq!(
        after[1].stored, app_value,
        "the application's value is kept"
    );
    for (row, (update, old)) in [&after[0], &after[2]]
        .into_iter()
        .zip([(&updates[0], &values[0]), (&updates[2], &values[2])])
    {
        let head = update.new_stored.len();
        assert_eq!(row.stored.len(), old.len());
        assert_eq!(row.stored[..head], update.new_stored[..]);
        assert_eq!(
            row.stored[head..],
            old[head..],
            "the payload is left as it was"
        );
        assert_eq!(version_of(&row.stored), 2);
    }
    // Applied again, the same updates match nothing: the heads are no longer the old ones.
    let again = target.compare_and_swap(&updates).await.expect("swap");
    assert!(again.is_empty(), "{again:?}");
}
