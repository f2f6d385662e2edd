//! Authentication and authorization over gRPC: missing, unknown, revoked and expired tokens,
//! client scopes, admin-only rpcs, the failed-attempt limit, and the first admin token.

use std::sync::Arc;

use rekey::clock::{Clock, ManualClock, SystemClock};
use rekey::proto::admin_service_client::AdminServiceClient;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::rotation_service_client::RotationServiceClient;
use rekey::proto::{
    CreateTokenRequest, GetScheduleRequest, GetStatusRequest, ListAuditRequest, ListTokensRequest,
};
use tonic::Code;

use crate::support::enc_req;
use crate::support::{token_request, Backend, Clients, TestEnv, TestServer};

fn as_token(s: &TestServer, token: &str) -> Clients {
    Clients::new(&s.channel, token)
}

async fn create(s: &mut TestServer, role: &str, keys: &[&str], ops: &[&str]) -> String {
    let request = CreateTokenRequest {
        key_names: keys.iter().map(|k| k.to_string()).collect(),
        operations: ops.iter().map(|o| o.to_string()).collect(),
        ..token_request(&format!("{role} for tests"), role)
    };
    s.create_token(request).await.token.clone()
}

fn expect(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, words: &str) {
    let status = result.expect_err("must be refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(words),
        "{:?} should contain {words:?}",
        status.message()
    );
}

async fn requests_without_a_valid_token_are_unauthenticated(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let s = env.start().await;
    let mut bare_keys = KeyServiceClient::new(s.channel.clone());
    let mut bare_rotation = RotationServiceClient::new(s.channel.clone());
    let mut bare_admin = AdminServiceClient::new(s.channel.clone());
    expect(
        bare_keys.encrypt(enc_req("TOKEN_ENCRYPTION", b"x")).await,
        Code::Unauthenticated,
        "authorization: Bearer",
    );
    expect(
        bare_rotation.get_schedule(GetScheduleRequest {}).await,
        Code::Unauthenticated,
        "authorization: Bearer",
    );
    expect(
        bare_admin.list_tokens(ListTokensRequest {}).await,
        Code::Unauthenticated,
        "authorization: Bearer",
    );
    for bad in ["rekey_0123456789ab_not-the-secret", "garbage", "Bearer"] {
        let mut keys = as_token(&s, bad);
        expect(
            keys.try_encrypt("TOKEN_ENCRYPTION", b"x").await,
            Code::Unauthenticated,
            "not valid",
        );
    }
    s.stop().await;
    env.finish().await;
}

async fn client_tokens_are_limited_to_their_scope(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let token = create(
        &mut s,
        "client",
        &["TOKEN_ENCRYPTION"],
        &["encrypt", "decrypt"],
    )
    .await;
    let mut scoped = as_token(&s, &token);

    let ct = scoped.encrypt("TOKEN_ENCRYPTION", b"ok").await.ciphertext;
    assert_eq!(scoped.decrypt(&ct).await.plaintext, b"ok");
    expect(
        scoped.try_encrypt("FILE_ENCRYPTION", b"x").await,
        Code::PermissionDenied,
        "may not encrypt with key \"FILE_ENCRYPTION\"",
    );
    expect(
        scoped.try_sign("TOKEN_ENCRYPTION", b"m").await,
        Code::PermissionDenied,
        "may not sign",
    );
    // The key of a ciphertext is read from its header for the scope check.
    let other = s.encrypt("FILE_ENCRYPTION", b"y").await.ciphertext;
    expect(
        scoped.try_decrypt(&other).await,
        Code::PermissionDenied,
        "FILE_ENCRYPTION",
    );
    // Successful calls are counted per token, key and operation in the audit trail.
    s.server.flush_audit().await;
    let summaries = s
        .list_audit(ListAuditRequest {
            operation: "data_plane.summary".into(),
            key_name: "TOKEN_ENCRYPTION".into(),
            ..Default::default()
        })
        .await
        .records;
    let client_id = s.list_tokens().await.tokens[0].token_id.clone();
    let mine: Vec<_> = summaries
        .iter()
        .filter(|r| r.principal == client_id)
        .collect();
    assert_eq!(mine.len(), 2, "{summaries:?}");
    assert!(mine.iter().all(|r| r.records == Some(1)), "{mine:?}");
    let mut details: Vec<_> = mine.iter().map(|r| r.detail.as_str()).collect();
    details.sort_unstable();
    assert_eq!(
        details,
        ["1 successful decrypt calls", "1 successful encrypt calls"]
    );
    // Refusals were audited as denied, naming the token.
    let denied = s
        .list_audit(ListAuditRequest {
            principal: client_id.clone(),
            ..Default::default()
        })
        .await
        .records;
    assert!(
        denied
            .iter()
            .any(|r| r.outcome == "denied" && r.operation == "sign"),
        "{denied:?}"
    );
    // Admin rpcs need an admin token.
    expect(
        scoped.try_rotate_forced("TOKEN_ENCRYPTION").await,
        Code::PermissionDenied,
        "needs an admin token",
    );
    expect(
        scoped.client.get_status(GetStatusRequest::default()).await,
        Code::PermissionDenied,
        "needs an admin token",
    );
    expect(
        scoped.rotation.get_schedule(GetScheduleRequest {}).await,
        Code::PermissionDenied,
        "needs an admin token",
    );
    expect(
        scoped.admin.list_tokens(ListTokensRequest {}).await,
        Code::PermissionDenied,
        "needs an admin token",
    );
    // Refusals changed nothing.
    let status = s.status("TOKEN_ENCRYPTION").await;
    assert_eq!(status.keys[0].primary_version, 1);

    // Another admin token can do everything.
    let admin_token = create(&mut s, "admin", &[], &[]).await;
    as_token(&s, &admin_token)
        .rotate_forced("TOKEN_ENCRYPTION")
        .await;
    s.stop().await;
    env.finish().await;
}

async fn revoked_and_expired_tokens_stop_working(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut s = env.start_with(&env.config, clock.clone()).await;
    let token = create(&mut s, "client", &[], &[]).await;
    let mut keys = as_token(&s, &token);
    keys.encrypt("TOKEN_ENCRYPTION", b"x").await;
    let listed = s.list_tokens().await.tokens;
    assert_eq!(listed.len(), 1);
    let id = listed[0].token_id.clone();
    assert!(
        token.contains(&id["tok_".len()..]),
        "the token names its id"
    );
    assert!(
        !format!("{listed:?}").contains(&token),
        "ListTokens never shows a secret"
    );
    let revoked = s.revoke_token(&id).await;
    assert!(revoked.revoked_at.is_some());
    expect(
        keys.try_encrypt("TOKEN_ENCRYPTION", b"x").await,
        Code::Unauthenticated,
        "revoked",
    );
    expect(
        s.try_revoke_token("tok_000000000000").await,
        Code::NotFound,
        "does not exist",
    );

    let expiring = s
        .create_token(CreateTokenRequest {
            expires_at: Some(prost_types::Timestamp {
                seconds: clock.now() / 1000 + 3600,
                nanos: 0,
            }),
            ..token_request("short-lived", "client")
        })
        .await
        .token
        .clone();
    let mut keys = as_token(&s, &expiring);
    keys.encrypt("TOKEN_ENCRYPTION", b"x").await;
    clock.advance_secs(3601);
    expect(
        keys.try_encrypt("TOKEN_ENCRYPTION", b"x").await,
        Code::Unauthenticated,
        "expired",
    );

    // Bad requests for tokens are explained.
    for (role, ops, words) in [
        ("", vec![], "role is required"),
        ("client", vec!["delete".to_string()], "unknown operation"),
        ("admin", vec!["encrypt".to_string()], "cannot be scoped"),
    ] {
        expect(
            s.try_create_token(CreateTokenRequest {
                operations: ops,
                ..token_request("x", role)
            })
            .await,
            Code::InvalidArgument,
            words,
        );
    }
    s.stop().await;
    env.finish().await;
}

async fn a_flood_of_bad_tokens_is_rate_limited_while_valid_clients_keep_working(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut s = env.start().await;
    let token = create(&mut s, "client", &["TOKEN_ENCRYPTION"], &["encrypt"]).await;
    let mut bad = as_token(&s, "rekey_0123456789ab_flooding-with-a-wrong-secret");
    let flood = tokio::spawn(async move {
        let mut codes = Vec::new();
        for _ in 0..100 {
            codes.push(
                bad.try_encrypt("TOKEN_ENCRYPTION", b"x")
                    .await
                    .unwrap_err()
                    .code(),
            );
        }
        codes
    });
    let mut good = as_token(&s, &token);
    for _ in 0..50 {
        good.try_encrypt("TOKEN_ENCRYPTION", b"x")
            .await
            .expect("valid clients keep working");
    }
    let codes = flood.await.unwrap();
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Code::Unauthenticated | Code::ResourceExhausted)),
        "{codes:?}"
    );
    assert_eq!(
        codes.last(),
        Some(&Code::ResourceExhausted),
        "the flood ends up rate limited"
    );
    let err = {
        let mut bad = as_token(&s, "rekey_0123456789ab_again");
        bad.try_encrypt("TOKEN_ENCRYPTION", b"x").await.unwrap_err()
    };
    assert!(
        err.message()
            .contains("too many failed authentication attempts"),
        "{}",
        err.message()
    );
    // Still fine for the valid client, from the same address.
    good.encrypt("TOKEN_ENCRYPTION", b"x").await;
    s.stop().await;
    env.finish().await;
}

async fn the_first_start_creates_one_admin_token(backend: Backend) {
    let env = TestEnv::with(backend, |c| c.admin_token = None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap();
    let path = env.config.data_dir.join("admin.token");
    let token = std::fs::read_to_string(&path)
        .expect("admin.token written")
        .trim()
        .to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let tokens = Clients::new(&channel, &token).list_tokens().await.tokens;
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].role(), tokens[0].created_by.as_str()),
        (rekey::proto::TokenRole::Admin, "bootstrap")
    );
    server.shutdown().await.unwrap();

    // A restart creates no second token and leaves the file alone.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    assert_eq!(server.manager().store().list_keys().await.unwrap().len(), 5);
    server.shutdown().await.unwrap();
    env.finish().await;
}

crate::on_every_backend!(
    requests_without_a_valid_token_are_unauthenticated,
    client_tokens_are_limited_to_their_scope,
    revoked_and_expired_tokens_stop_working,
    a_flood_of_bad_tokens_is_rate_limited_while_valid_clients_keep_working,
    the_first_start_creates_one_admin_token,
);
