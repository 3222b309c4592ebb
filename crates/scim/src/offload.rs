//! Where a store call runs. Store calls block (diesel is synchronous), so they run on actix's
//! blocking pool and the worker serves other requests meanwhile. A point read on SQLite — a
//! token by its hash, a user by its id — takes a few microseconds from the page cache, less than
//! handing the work to a pool thread and back; those run on the worker itself, but only when the
//! pool has an idle connection, so the worker never waits for one. PostgreSQL reads wait on the
//! network and always go to the blocking pool, as does every write and every list.

use actix_web::error::BlockingError;
use actix_web::web;
use roster_store::{Backend, Store, StoreResult};

/// Runs `read` — a lookup by a unique key, nothing that scans or writes — where it is cheapest.
pub async fn point_read<T, F>(store: &Store, read: F) -> Result<StoreResult<T>, BlockingError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> StoreResult<T> + Send + 'static,
{
    let (_, idle) = store.pool_state();
    if store.backend() == Backend::Sqlite && idle > 0 {
        return Ok(read(store));
    }
    let store = store.clone();
    web::block(move || read(&store)).await
}
