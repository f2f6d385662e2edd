//! Several servers on one keystore database: a version created by one is decryptable on the
//! others at once (load on miss), and the others encrypt with the new primary within the
//! configured refresh interval.

use std::time::Duration;

use crate::support::{Backend, TestEnv};

async fn replicas_see_each_others_rotations(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.keystore.refresh_interval_secs = 1).await;
    let mut a = env.start().await;
    let mut b = env.start().await;
    let before = b.encrypt("TOKEN_ENCRYPTION", b"from b").await;
    assert_eq!(before.key_version, 1);

    a.rotate("TOKEN_ENCRYPTION").await;
    let on_a = a.encrypt("TOKEN_ENCRYPTION", b"from a").await;
    assert_eq!(on_a.key_version, 2);
    // B has never seen version 2, yet decrypts it immediately.
    let dec = b.decrypt(&on_a.ciphertext).await;
    assert_eq!(
        (dec.plaintext.as_slice(), dec.key_version),
        (&b"from a"[..], 2)
    );
    // A decrypts what B made before the rotation.
    let dec = a.decrypt(&before.ciphertext).await;
    assert_eq!(dec.plaintext, b"from b");

    // B switches to version 2 for new encryptions within the refresh interval (1 s here);
    // the loop bound is generous because the machine is shared.
    let mut switched = false;
    for _ in 0..100 {
        let ct = b.encrypt("TOKEN_ENCRYPTION", b"x").await;
        if ct.key_version == 2 {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(switched, "replica B never picked up the rotation made on A");
    a.stop().await;
    b.stop().await;
    env.finish().await;
}

crate::on_every_backend!(replicas_see_each_others_rotations);
