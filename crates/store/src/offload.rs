//! Where a store call runs when an async handler asks for it. Store calls block (diesel is
//! synchronous), so they run on the runtime's blocking pool while the worker serves other
//! requests — every protocol crate (SCIM, SSO, the OpenID Provider, the admin API) goes through
//! [`blocking`], so there is one answer to "what if that pool is gone" (the server is shutting
//! down: [`StoreError::Unavailable`], a 503 in every protocol's own format).
//!
//! A point read on SQLite — a token by its hash, a user by its id — takes a few microseconds
//! from the page cache, less than the hand-off to a pool thread and back; [`point_read`] runs
//! those on the worker itself, but only while the pool has an idle connection, so the worker
//! never waits for one. PostgreSQL reads wait on the network and always go to the pool.

use crate::{Backend, Store, StoreError, StoreResult};

/// Runs `work` (store calls, signatures, anything that blocks) on the blocking pool. `E` is the
/// caller's own error type, so the closure can fail with it.
pub async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(_) => Err(E::from(StoreError::Unavailable(
            "no worker to answer: the server is shutting down".to_owned(),
        ))),
    }
}

/// Runs `read` — a lookup by a unique key, nothing that scans or writes — where it is cheapest.
pub async fn point_read<T, F>(store: &Store, read: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> StoreResult<T> + Send + 'static,
{
    let (_, idle) = store.pool_state();
    if store.backend() == Backend::Sqlite && idle > 0 {
        return read(store);
    }
    let store = store.clone();
    blocking(move || read(&store)).await
}
