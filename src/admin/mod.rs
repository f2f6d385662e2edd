//! The admin core: every query and command behind the admin faces (gRPC, HTTP, the CLI
//! through gRPC), written once and free of any transport. Requests come in as typed values
//! (`query.rs`), answers go out as views (`views.rs`), failures as one `AdminError`. The
//! transports authenticate the caller, map their request into these calls, and map the answer
//! out; nothing here knows tonic, axum or protobuf requests.

mod error;
mod events;
mod keys;
pub(crate) mod query;
pub(crate) mod report_text;
pub(crate) mod reports;
mod tokens;
pub(crate) mod views;

use std::sync::Arc;

pub(crate) use error::{AdminError, AdminResult, InvalidInput};
pub(crate) use tokens::NewToken;

use crate::audit::Auditor;
use crate::auth::Authenticator;
use crate::rotation::scheduler::Scheduler;
use crate::rotation::RotationEngine;

/// The admin operations over the engine, the scheduler and the token authority.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    engine: Arc<RotationEngine>,
    scheduler: Arc<Scheduler>,
    auth: Arc<Authenticator>,
}

impl Admin {
    pub(crate) fn new(
        engine: Arc<RotationEngine>,
        scheduler: Arc<Scheduler>,
        auth: Arc<Authenticator>,
    ) -> Self {
        Self {
            engine,
            scheduler,
            auth,
        }
    }

    /// The time now, by the server's clock (tests inject one).
    fn now(&self) -> crate::clock::Millis {
        self.engine.manager().now()
    }

    fn audit(&self) -> &Arc<Auditor> {
        self.engine.audit()
    }
}
