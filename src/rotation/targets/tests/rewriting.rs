//! Compare-and-swap, base64 targets end to end, and version counts.

use super::*;

on_both_backends!(
    compare_and_swap_leaves_rows_changed_underneath,
    base64_target_end_to_end,
    counts_versions_from_prefixes,
);

async fn compare_and_swap_leaves_rows_changed_underneath(db: &TestDb) {
    let keys = Keys::new();
    let table = db.table("cas");
    db.exec(&format!(
        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, secret {})",
        db.blob_type()
    ))
    .await;
    for id in 1..=5 {
        let value = db.bytes(&keys.encrypt(1, b"old", b""));
        db.exec(&format!("INSERT INTO {table} VALUES ({id}, {value})"))
            .await;
    }
    let target = db
        .connect(db.config("cas", "secret", Encoding::Binary))
        .await;
    let rows = target.fetch_batch(None, None, 10).await.expect("fetch");
    assert_eq!(rows.len(), 5);
    // The application rewrites row 3 after the worker read it.
    let app_value = keys.encrypt(1, b"changed by the app", b"");
    db.exec(&format!(
        "UPDATE {table} SET secret = {} WHERE id = 3",
        db.bytes(&app_value)
    ))
    .await;
    let mut updates: Vec<Update> = rows
        .iter()
        .map(|row| Update {
            pk: row.pk.clone(),
            old_stored: row.stored.clone(),
            new_stored: keys.encrypt(2, b"new", b""),
            head_only: false,
        })
        .collect();
    let stale = updates[0].clone();
    updates.push(Update {
        pk: PkValue::Int(99),
        ..stale.clone()
    });
    updates.push(Update {
        pk: PkValue::Text("1".into()),
        ..stale
    });
    let mut written = target.compare_and_swap(&updates).await.expect("swap");
    written.sort();
    assert_eq!(written, [1, 2, 4, 5].map(PkValue::Int));
    let after = target.fetch_batch(None, None, 10).await.expect("fetch");
    for (row, update) in after.iter().zip(&updates) {
        if row.pk == PkValue::Int(3) {
            assert_eq!(row.stored, app_value, "the application's value is kept");
        } else {
            assert_eq!(row.stored, update.new_stored);
            assert_eq!(version_of(&row.stored), 2);
        }
    }
    let again = target.compare_and_swap(&updates).await.expect("swap");
    assert!(again.is_empty(), "old values no longer match: {again:?}");
    assert!(target.compare_and_swap(&[]).await.expect("swap").is_empty());
}

async fn base64_target_end_to_end(db: &TestDb) {
    let keys = Keys::new();
    let table = db.table("accounts");
    db.exec(&format!(
        "CREATE TABLE {table} (id VARCHAR(40) PRIMARY KEY, email TEXT, token TEXT)"
    ))
    .await;
    let mut plaintexts = Vec::new();
    for n in 0..7 {
        let (id, email) = (format!("user-{n}"), format!("u{n}@example.com"));
        let plaintext = format!("token {n}").into_bytes();
        let stored = STANDARD.encode(keys.encrypt(1, &plaintext, email.as_bytes()));
        db.exec(&format!(
            "INSERT INTO {table} VALUES ('{id}', '{email}', '{stored}')"
        ))
        .await;
        plaintexts.push((PkValue::Text(id), plaintext));
    }
    db.exec(&format!(
        "INSERT INTO {table} VALUES ('zz-garbage', NULL, 'not base64!')"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO {table} VALUES ('zz-null', NULL, NULL)"
    ))
    .await;
    let mut config = db.config("accounts", "token", Encoding::Base64);
    config.associated_data_column = Some("email".into());
    let target = db.connect(config).await;

    let before = target.version_counts(KEY).await.expect("counts");
    assert_eq!(before.by_version, [(1, 7)].into_iter().collect());
    assert_eq!(before.unreadable, 1);

    let all = fetch_all(&target, 3).await;
    assert_eq!(all.len(), 8, "NULL skipped, garbage included");
    let mut updates = Vec::new();
    for row in &all {
        let Some(Stored::Rekey {
            value: ciphertext, ..
        }) = target.decode(&row.stored)
        else {
            assert_eq!(row.pk, PkValue::Text("zz-garbage".into()));
            continue;
        };
        let plaintext = keys.decrypt(&ciphertext, &row.associated_data);
        let new = keys.encrypt(2, &plaintext, &row.associated_data);
        let new_stored = target.encode(new.clone(), 2, false);
        assert_eq!(
            target.decode(&new_stored),
            Some(Stored::Rekey {
                value: new.into(),
                vault_form: false
            })
        );
        updates.push(Update {
            pk: row.pk.clone(),
            old_stored: row.stored.clone(),
            new_stored,
            head_only: false,
        });
    }
    let written = target.compare_and_swap(&updates).await.expect("swap");
    assert_eq!(written.len(), 7);

    let after = target.version_counts(KEY).await.expect("counts");
    assert_eq!(after.by_version, [(2, 7)].into_iter().collect());
    assert_eq!(after.unreadable, 1);
    for (row, (pk, plaintext)) in fetch_all(&target, 100).await.iter().zip(&plaintexts) {
        assert_eq!(&row.pk, pk);
        assert!(row.stored.is_ascii());
        let Some(Stored::Rekey {
            value: ciphertext, ..
        }) = target.decode(&row.stored)
        else {
            panic!("not base64: {:?}", row.pk);
        };
        assert_eq!(version_of(&ciphertext), 2);
        assert_eq!(&keys.decrypt(&ciphertext, &row.associated_data), plaintext);
    }
}

async fn counts_versions_from_prefixes(db: &TestDb) {
    let keys = Keys::new();
    let other_key = EncryptionKey::new(&KeyMaterial::generate());
    let signer = SigningKey::new(&KeyMaterial::generate());
    for (encoding, column_type) in [
        (Encoding::Binary, db.blob_type()),
        (Encoding::Base64, "TEXT"),
    ] {
        let name = format!("counts_{encoding:?}").to_lowercase();
        db.exec(&format!(
            "CREATE TABLE {} (id INTEGER PRIMARY KEY, secret {column_type})",
            db.table(&name)
        ))
        .await;
        let target = db.connect(db.config(&name, "secret", encoding)).await;
        let mut values: Vec<Option<Vec<u8>>> = Vec::new();
        for (version, copies) in [(1, 3), (2, 2), (3, 1)] {
            for n in 0..copies {
                let plaintext = vec![b'x'; 40 * n];
                values.push(Some(keys.encrypt(version, &plaintext, b"")));
            }
        }
        let other = |name| other_key.encrypt(name, 1, b"other", b"").expect("encrypt");
        values.extend([
            Some(other("app.tokens2")),
            Some(other("app.tokenz")),
            Some(other("x")),
            Some(signer.sign(KEY, 1, b"message").expect("sign")),
            Some(b"RK".to_vec()),
            Some(vec![0xff; 30]),
            Some(Vec::new()),
            None,
        ]);
        for (id, value) in values.iter().enumerate() {
            let literal = match (value, encoding) {
                (None, _) => "NULL".to_owned(),
                (Some(value), Encoding::Binary) => db.bytes(value),
                (Some(value), Encoding::Base64) => format!("'{}'", STANDARD.encode(value)),
            };
            db.exec(&format!(
                "INSERT INTO {} VALUES ({id}, {literal})",
                db.table(&name)
            ))
            .await;
        }
        let counts = target.version_counts(KEY).await.expect("counts");
        let expected: VersionCounts = VersionCounts {
            by_version: [(1, 3), (2, 2), (3, 1)].into_iter().collect(),
            unreadable: 7,
        };
        assert_eq!(counts, expected, "{encoding:?}");
        let others = target.version_counts("app.tokenz").await.expect("counts");
        assert_eq!(others.by_version, [(1, 1)].into_iter().collect());
        assert_eq!(others.unreadable, 12);
        let error = target
            .version_counts("no such key")
            .await
            .expect_err("bad name");
        assert!(matches!(error, TargetError::Config { .. }));
    }
}
