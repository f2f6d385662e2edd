//! Keyset pagination over integer and text primary keys, and checkpoints.

use super::*;

on_both_backends!(
    pages_through_integer_keys,
    pages_through_text_keys_in_byte_order,
    checkpoints_round_trip,
);

async fn pages_through_integer_keys(db: &TestDb) {
    let keys = Keys::new();
    let int_types: &[&str] = if db.is_postgres() {
        &["smallint", "integer", "bigint"]
    } else {
        &["INTEGER", "BIGINT"]
    };
    let ids: [i64; 10] = [-7, 1, 2, 3, 10, 11, 500, 501, 502, 30000];
    let null_ids = [2, 501];
    for (t, int_type) in int_types.iter().enumerate() {
        let table = format!("ints{t}");
        db.exec(&format!(
            "CREATE TABLE {} (id {int_type} PRIMARY KEY, secret {}, owner INTEGER)",
            db.table(&table),
            db.blob_type()
        ))
        .await;
        let mut expected = Vec::new();
        for id in ids {
            let (value, owner) = if null_ids.contains(&id) {
                ("NULL".to_owned(), "NULL".to_owned())
            } else if id == 3 {
                let ciphertext = keys.encrypt(1, b"no owner", b"");
                expected.push((id, ciphertext.clone(), Vec::new()));
                (db.bytes(&ciphertext), "NULL".to_owned())
            } else {
                let owner = (id * 10).to_string();
                let ciphertext = keys.encrypt(1, &id.to_be_bytes(), owner.as_bytes());
                expected.push((id, ciphertext.clone(), owner.clone().into_bytes()));
                (db.bytes(&ciphertext), owner)
            };
            db.exec(&format!(
                "INSERT INTO {} (id, secret, owner) VALUES ({id}, {value}, {owner})",
                db.table(&table)
            ))
            .await;
        }
        let mut config = db.config(&table, "secret", Encoding::Binary);
        config.associated_data_column = Some("owner".into());
        let target = db.connect(config).await;
        for limit in [1, 3, 100] {
            let rows = fetch_all(&target, limit).await;
            let got: Vec<_> = rows
                .iter()
                .map(|r| match r.pk {
                    PkValue::Int(id) => (id, r.stored.clone(), r.associated_data.clone()),
                    PkValue::Text(_) => panic!("integer keys read as text"),
                })
                .collect();
            assert_eq!(got, expected, "{int_type}, batches of {limit}");
        }
        // Cut into partitions, the table is still read whole, each row once.
        for partitions in [1, 2, 3, 4, 7] {
            let rows = fetch_partitioned(&target, partitions, 2).await;
            let got: Vec<_> = rows
                .iter()
                .map(|r| match r.pk {
                    PkValue::Int(id) => (id, r.stored.clone(), r.associated_data.clone()),
                    PkValue::Text(_) => panic!("integer keys read as text"),
                })
                .collect();
            assert_eq!(got, expected, "{int_type}, {partitions} partitions");
        }
        for row in fetch_all(&target, 4).await {
            keys.decrypt(&row.stored, &row.associated_data);
        }
        let after = PkValue::Int(30000);
        assert!(target
            .fetch_batch(Some(&after), None, 10)
            .await
            .expect("fetch")
            .is_empty());
        assert!(target
            .fetch_batch(None, None, 0)
            .await
            .expect("fetch")
            .is_empty());
        let wrong = PkValue::Text("1".into());
        let error = target
            .fetch_batch(Some(&wrong), None, 10)
            .await
            .expect_err("wrong type");
        assert!(
            matches!(error, TargetError::BadCheckpoint { .. }),
            "{error}"
        );
    }
}

async fn pages_through_text_keys_in_byte_order(db: &TestDb) {
    let keys = Keys::new();
    let all_ids = vec![
        "a", "B", "b", "a b", "\u{e4}", "Z", "10", "9", "", "zz", "it's", "_",
    ];
    let mut text_types = if db.is_mysql() {
        // MySQL cannot key a TEXT column, and a case-insensitive collation (the usual
        // default) holds no two ids equal but for case or accents: that one gets ids that
        // differ otherwise, still in another order than their bytes'.
        vec![
            (
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                all_ids.clone(),
            ),
            (
                "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                vec!["a", "B", "b c", "D", "10", "9", "", "_", "it's"],
            ),
        ]
    } else {
        vec![("TEXT", all_ids.clone()), ("VARCHAR(20)", all_ids.clone())]
    };
    // A linguistic collation (where "a" < "B" < "b") must not change the page order.
    if let TestPool::Postgres(pool) = &db.pool {
        let icu: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'")
                .fetch_one(pool)
                .await
                .expect("query collations");
        if icu > 0 {
            text_types.push(("TEXT COLLATE \"und-x-icu\"", all_ids.clone()));
        }
    }
    for (t, (text_type, ids)) in text_types.iter().enumerate() {
        let table = format!("texts{t}");
        db.exec(&format!(
            "CREATE TABLE {} (id {text_type} PRIMARY KEY, secret {})",
            db.table(&table),
            db.blob_type()
        ))
        .await;
        let mut expected = Vec::new();
        for &id in ids {
            let value = if id == "b" {
                "NULL".to_owned()
            } else {
                let ciphertext = keys.encrypt(2, id.as_bytes(), b"");
                expected.push((PkValue::Text(id.to_owned()), ciphertext.clone()));
                db.bytes(&ciphertext)
            };
            db.exec(&format!(
                "INSERT INTO {} (id, secret) VALUES ('{}', {value})",
                db.table(&table),
                id.replace('\'', "''")
            ))
            .await;
        }
        expected.sort();
        let target = db
            .connect(db.config(&table, "secret", Encoding::Binary))
            .await;
        for limit in [1, 2, 5, 50] {
            let rows = fetch_all(&target, limit).await;
            let got: Vec<_> = rows.into_iter().map(|r| (r.pk, r.stored)).collect();
            assert_eq!(got, expected, "{text_type}, batches of {limit}");
        }
        for partitions in [2, 3, 4, 20] {
            let rows = fetch_partitioned(&target, partitions, 2).await;
            let got: Vec<_> = rows.into_iter().map(|r| (r.pk, r.stored)).collect();
            assert_eq!(got, expected, "{text_type}, {partitions} partitions");
        }
    }
}

async fn checkpoints_round_trip(db: &TestDb) {
    for (table, pk_type, values) in [
        (
            "int_pk",
            "INTEGER",
            vec![PkValue::Int(-1), PkValue::Int(i64::MAX)],
        ),
        (
            "text_pk",
            if db.is_mysql() { "VARCHAR(40)" } else { "TEXT" },
            vec![
                PkValue::Text(String::new()),
                PkValue::Text("int:1 x".into()),
            ],
        ),
    ] {
        db.exec(&format!(
            "CREATE TABLE {} (id {pk_type} PRIMARY KEY, secret {})",
            db.table(table),
            db.blob_type()
        ))
        .await;
        let target = db
            .connect(db.config(table, "secret", Encoding::Binary))
            .await;
        for value in values {
            let checkpoint = value.to_checkpoint();
            assert_eq!(target.parse_checkpoint(&checkpoint).expect("valid"), value);
        }
        let wrong = if pk_type == "INTEGER" {
            "text:1"
        } else {
            "int:1"
        };
        for bad in [wrong, "", "garbage"] {
            let error = target.parse_checkpoint(bad).expect_err("invalid");
            assert!(
                matches!(error, TargetError::BadCheckpoint { .. }),
                "{error}"
            );
            assert!(error.to_string().contains(&format!("{bad:?}")));
        }
    }
}
