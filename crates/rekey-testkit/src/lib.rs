//! `rekey-testkit`: what Rekey's integration tests and its benchmark harness both need from
//! their surroundings, written once. Never a dependency of the product itself.
//!
//! - [`pg`]: scratch PostgreSQL databases, created with a random name and dropped afterwards.
#![forbid(unsafe_code)]

pub mod pg;
