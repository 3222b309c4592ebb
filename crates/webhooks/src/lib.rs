//! Webhooks: directory events pushed to the product, signed per the Standard Webhooks
//! specification, delivered at least once and in order per endpoint by a worker inside
//! `roster serve`.
//!
//! **Architecture invariant:** delivery state lives in the database (the store's webhook tables),
//! never in this process: a restart or a second replica resumes where the last one stopped.
//! Signing and retry policy are pure functions, tested here; the HTTP requests themselves (and
//! the outbound-address policy they obey) belong to `roster-outbound`.

pub mod retry;
pub mod signing;
pub mod worker;

pub use retry::RetryPolicy;
pub use signing::{generate_secret, sign};
pub use worker::{Worker, WorkerSettings};
