//! TLS on both ports and mutual TLS on both: a listed client certificate authenticates with its
//! configured role and scope, no token needed (on gRPC and on the HTTP admin API alike);
//! unlisted callers still need a token; a certificate from another CA is refused; plaintext is
//! refused; `require_client_cert` refuses gRPC callers without a certificate.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rekey::clock::SystemClock;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::{GetStatusRequest, SignRequest};
use rekey::tls::{CertClient, TlsConfig};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;

use crate::support::enc_req;
use crate::support::{Backend, Clients, TestEnv};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
    client_subject: String,
    /// Signed by the CA, to be listed with the admin role.
    admin: (String, String),
    admin_subject: String,
    /// Signed by the CA, listed nowhere.
    unlisted: (String, String),
    /// Self-signed with the admin certificate's subject: not from the CA.
    forged_admin: (String, String),
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Rekey test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issue = |names: Vec<String>, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme");
        let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert, key)
    };
    let (server, server_key) = issue(vec!["localhost".into(), "127.0.0.1".into()], "rekey");
    let (client, client_key) = issue(Vec::new(), "billing-service");
    let (admin, admin_key) = issue(Vec::new(), "ops-admin");
    let (unlisted, unlisted_key) = issue(Vec::new(), "someone-else");
    let forged_key = KeyPair::generate().unwrap();
    let mut forged = CertificateParams::new(Vec::<String>::new()).unwrap();
    forged
        .distinguished_name
        .push(DnType::CommonName, "ops-admin");
    forged
        .distinguished_name
        .push(DnType::OrganizationName, "Acme");
    let forged = forged.self_signed(&forged_key).unwrap();
    let admin_subject = rekey::tls::subject_of(admin.der()).unwrap();
    assert_eq!(
        rekey::tls::subject_of(forged.der()).as_deref(),
        Some(admin_subject.as_str())
    );
    Pki {
        ca_pem: ca_cert.pem(),
        client_subject: rekey::tls::subject_of(client.der()).unwrap(),
        server: (server.pem(), server_key.serialize_pem()),
        client: (client.pem(), client_key.serialize_pem()),
        admin_subject,
        admin: (admin.pem(), admin_key.serialize_pem()),
        unlisted: (unlisted.pem(), unlisted_key.serialize_pem()),
        forged_admin: (forged.pem(), forged_key.serialize_pem()),
    }
}

async fn channel(
    addr: std::net::SocketAddr,
    pki: &Pki,
    with_cert: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if with_cert {
        tls = tls.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    }
    Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

async fn tls_and_client_certificates(backend: Backend) {
    let pki = pki();
    let mut env = TestEnv::new(backend).await;
    let dir = env.dir().to_owned();
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("server.pem", &pki.server.0),
        ("server.key", &pki.server.1),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    env.config.tls = Some(TlsConfig {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
        client_ca_file: Some(dir.join("ca.pem")),
        require_client_cert: false,
        clients: vec![CertClient {
            subject: pki.client_subject.clone(),
            role: "client".into(),
            key_names: vec!["TOKEN_ENCRYPTION".into()],
            operations: vec!["encrypt".into()],
        }],
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap();
    let addr = server.grpc_addr();

    // The listed certificate is a scoped client: no token needed.
    let mut cert_client = KeyServiceClient::new(channel(addr, &pki, true).await.unwrap());
    let ct = cert_client
        .encrypt(enc_req("TOKEN_ENCRYPTION", b"over mTLS"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ct.key_version, 1);
    let err = cert_client
        .sign(SignRequest {
            key_name: "API_SIGNATURE".into(),
            message: b"m".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message()
            .contains(&format!("cert:{}", pki.client_subject)),
        "{}",
        err.message()
    );
    let err = cert_client
        .get_status(GetStatusRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Without a certificate, TLS callers need a token as usual.
    let anonymous = channel(addr, &pki, false).await.unwrap();
    let err = KeyServiceClient::new(anonymous.clone())
        .encrypt(enc_req("TOKEN_ENCRYPTION", b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let status = Clients::new(&anonymous, &env.admin_token())
        .status_all()
        .await;
    assert_eq!(status.keys.len(), 5);

    // Plaintext is refused on the TLS port.
    let plain = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        assert!(KeyServiceClient::new(plain)
            .encrypt(enc_req("TOKEN_ENCRYPTION", b"x"))
            .await
            .is_err());
    }

    // HTTP is served over TLS too.
    let http = server.http_addr().unwrap();
    let token = env.admin_token();
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", http.port())])
        .arg(format!(
            "https://localhost:{}/api/v1/key-rotation/status",
            http.port()
        ))
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    server.shutdown().await.unwrap();

    // Required client certificates: callers without one cannot even connect.
    env.config.tls.as_mut().unwrap().require_client_cert = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap();
    let addr = server.grpc_addr();
    let without = match channel(addr, &pki, false).await {
        Ok(ch) => KeyServiceClient::new(ch)
            .encrypt(enc_req("TOKEN_ENCRYPTION", b"x"))
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(without, "a caller without a certificate got through");
    let mut with = KeyServiceClient::new(channel(addr, &pki, true).await.unwrap());
    with.encrypt(enc_req("TOKEN_ENCRYPTION", b"x"))
        .await
        .unwrap();
    server.shutdown().await.unwrap();
    env.finish().await;
}

/// GET `path` over HTTPS with curl, presenting the client certificate `name` (written as
/// `name.pem` and `name.key` in `dir`) and the bearer `token` if given: the status code ("000"
/// when the TLS handshake failed) and the body.
fn https_get(
    dir: &Path,
    port: u16,
    path: &str,
    cert: Option<&str>,
    token: Option<&str>,
) -> (String, String) {
    let mut curl = Command::new("curl");
    curl.args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")]);
    if let Some(name) = cert {
        curl.arg("--cert")
            .arg(dir.join(format!("{name}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{name}.key")));
    }
    if let Some(token) = token {
        curl.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = curl
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = out.rsplit_once('\n').unwrap();
    (code.to_owned(), body.to_owned())
}

fn error_code(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    json["error"]["code"].as_str().unwrap().to_owned()
}

async fn https_admin_by_client_certificate(backend: Backend) {
    let pki = pki();
    let mut env = TestEnv::new(backend).await;
    let dir = env.dir().to_owned();
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("server.pem", &pki.server.0),
        ("server.key", &pki.server.1),
        ("client.pem", &pki.client.0),
        ("client.key", &pki.client.1),
        ("admin.pem", &pki.admin.0),
        ("admin.key", &pki.admin.1),
        ("unlisted.pem", &pki.unlisted.0),
        ("unlisted.key", &pki.unlisted.1),
        ("forged.pem", &pki.forged_admin.0),
        ("forged.key", &pki.forged_admin.1),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    env.config.tls = Some(TlsConfig {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
        client_ca_file: Some(dir.join("ca.pem")),
        require_client_cert: false,
        clients: vec![
            CertClient {
                subject: pki.admin_subject.clone(),
                role: "admin".into(),
                key_names: Vec::new(),
                operations: Vec::new(),
            },
            CertClient {
                subject: pki.client_subject.clone(),
                role: "client".into(),
                key_names: vec!["TOKEN_ENCRYPTION".into()],
                operations: vec!["encrypt".into()],
            },
        ],
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = rekey::server::start(&env.config, listener, Arc::new(SystemClock))
        .await
        .unwrap();
    let port = server.http_addr().unwrap().port();
    let status = "/api/v1/key-rotation/status";

    // The admin-listed certificate is an admin: no token needed.
    let (code, body) = https_get(&dir, port, status, Some("admin"), None);
    assert_eq!(code, "200", "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["keys"].as_array().unwrap().len(), 5, "{body}");

    // A client-role certificate is refused as on gRPC, in the JSON error shape.
    let (code, body) = https_get(&dir, port, status, Some("client"), None);
    assert_eq!(code, "403", "{body}");
    assert_eq!(error_code(&body), "PERMISSION_DENIED");
    assert!(
        body.contains(&format!("cert:{}", pki.client_subject)),
        "{body}"
    );

    // Neither certificate nor token: 401; an unlisted certificate alone is no better.
    for cert in [None, Some("unlisted")] {
        let (code, body) = https_get(&dir, port, status, cert, None);
        assert_eq!(code, "401", "{cert:?}: {body}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }

    // A certificate not signed by client_ca_file is refused, whatever subject it claims.
    let (code, body) = https_get(&dir, port, status, Some("forged"), None);
    assert_ne!(code, "200", "a self-signed certificate got in: {body}");
    assert!(!body.contains("\"keys\""), "{body}");

    // Tokens still work, with or without an unlisted certificate.
    let token = env.admin_token();
    for cert in [None, Some("unlisted")] {
        let (code, body) = https_get(&dir, port, status, cert, Some(&token));
        assert_eq!(code, "200", "{cert:?}: {body}");
    }

    // The same admin certificate is an admin on gRPC too.
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost")
        .identity(Identity::from_pem(&pki.admin.0, &pki.admin.1));
    let channel = Channel::from_shared(format!("https://{}", server.grpc_addr()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let grpc_status = KeyServiceClient::new(channel)
        .get_status(GetStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grpc_status.keys.len(), 5);

    server.shutdown().await.unwrap();
    env.finish().await;
}

crate::on_every_backend!(
    tls_and_client_certificates,
    https_admin_by_client_certificate
);
