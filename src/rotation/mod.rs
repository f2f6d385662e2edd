//! Rotation engine: rotation events, the migration worker that re-encrypts the ciphertexts
//! stored in application tables ("targets"), and the scheduler.

pub(crate) mod batch_size;
pub(crate) mod engine;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod scheduler;
pub mod targets;
pub(crate) mod worker;

pub use batch_size::{BatchSize, BatchSizeError};
pub(crate) use engine::RotationEngine;
pub(crate) use error::RotationError;
pub use scheduler::{RunReport, Scheduler};
