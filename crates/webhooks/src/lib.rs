//! Outbound deliveries from the store's outboxes, by a worker inside `roster serve`: directory
//! events pushed to the product as webhooks (signed per the Standard Webhooks specification,
//! delivered at least once and in order per endpoint), and OpenID Connect back-channel logouts
//! to the apps of Roster's OpenID Provider (a logout token minted per attempt, delivered at least
//! once).
//!
//! **Architecture invariant:** delivery state lives in the database (the store's webhook and
//! back-channel logout tables), never in this process: a restart or a second replica resumes
//! where the last one stopped. Signing, the retry policy and what an answer means are pure
//! functions, tested here; the HTTP requests themselves (and the outbound-address policy they
//! obey) belong to `roster-outbound`; logout tokens are minted by a signer the server builds from
//! the provider's keys (this crate does not depend on `roster-provider`).

pub mod backchannel;
pub mod counts;
pub mod retry;
pub mod signing;
mod webhook;
pub mod worker;

pub use backchannel::{LogoutTokenRequest, LogoutTokenSigner, MintError};
pub use counts::delivery_counts;
pub use retry::RetryPolicy;
pub use signing::{generate_secret, sign};
pub use webhook::Webhooks;
pub use worker::{Worker, WorkerSettings};
