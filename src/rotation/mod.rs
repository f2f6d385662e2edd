//! Rotation engine: rotation events, the migration worker that re-encrypts the ciphertexts
//! stored in application tables ("targets"), and the scheduler.

pub mod batch_size;
pub mod engine;
pub mod error;
pub mod events;
pub mod scheduler;
pub mod targets;
pub mod worker;

pub use batch_size::BatchSize;
pub use engine::RotationEngine;
pub use error::{RotationError, RotationResult};
