//! TLS on both ports and mutual TLS on gRPC: a listed client certificate authenticates with its
//! configured role and scope, no token needed; unlisted callers still need a token; plaintext
//! is refused; `require_client_cert` refuses callers without a certificate.

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
    Pki {
        ca_pem: ca_cert.pem(),
        client_subject: rekey::tls::subject_of(client.der()).unwrap(),
        server: (server.pem(), server_key.serialize_pem()),
        client: (client.pem(), client_key.serialize_pem()),
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

crate::on_every_backend!(tls_and_client_certificates);
