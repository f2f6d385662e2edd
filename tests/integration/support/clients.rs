//! Authenticated gRPC clients: one of each service, sharing a channel and a bearer token.

use rekey::proto::admin_service_client::AdminServiceClient;
use rekey::proto::key_service_client::KeyServiceClient;
use rekey::proto::rotation_service_client::RotationServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <token>` to every request.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().expect("ASCII token"))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;

/// The three services' clients for one credential. The typed calls (`encrypt`, `rotate`,
/// `get_event`, …, and their `try_` forms) are in `calls/`; the raw clients stay reachable for
/// requests the calls do not cover.
#[derive(Clone)]
pub struct Clients {
    pub client: KeyServiceClient<Authed>,
    pub rotation: RotationServiceClient<Authed>,
    pub admin: AdminServiceClient<Authed>,
}

impl Clients {
    /// Clients on `channel` that send `token`.
    pub fn new(channel: &Channel, token: &str) -> Self {
        let bearer = Bearer::new(token);
        Self {
            client: KeyServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            rotation: RotationServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            admin: AdminServiceClient::with_interceptor(channel.clone(), bearer),
        }
    }
}
