//! SCIM tokens this process authenticated in the last second (by default), so that a burst of
//! SCIM requests reads the token and its connection once, not once per request.
//!
//! Every SCIM request authenticates. Against PostgreSQL that read is a network round trip and a
//! hand-off to the blocking pool, as long as the request's own work for a `GET` by id; on SQLite
//! it is a fifth of a `GET`'s server time. An IdP sends its requests with one token, so one
//! entry serves them all.
//!
//! What may change under an entry is what a revocation or a settings change writes: the token
//! row (deleted), the connection's status and its SCIM switch. This process empties the cache
//! when it commits any of those ([`TokenCache::invalidate`]), so here a revoked token is refused
//! by the next request, as without a cache. Another process on the same database (a second
//! replica) learns of it when its entry ages out: within the lifetime, `scim.token_cache_secs`
//! (1 s by default; 0 turns the cache off, and every request reads the token again).
//!
//! A read that started before such a commit must not put the old state back after the cache was
//! emptied: entries are added only when no invalidation happened since the read began (the
//! `generation` check). Only accepted tokens are kept: an unknown token is looked up every time,
//! so nobody can fill the memory with guesses, and the cache holds at most
//! [`TokenCache::CAPACITY`] entries (it is emptied when full). Entries are keyed by the token's
//! SHA-256, never by the token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use roster_domain::TokenId;

use super::token::ScimConnection;

/// What the token check found, as of `checked`.
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub(crate) token_id: TokenId,
    pub(crate) connection: ScimConnection,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    /// When the database said so.
    pub(crate) checked: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    by_hash: HashMap<String, CachedToken>,
    /// Moves at every invalidation; a read that saw another value may not add its entry.
    generation: u64,
}

#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: Mutex<Entries>,
    /// How long an entry answers for the database (`scim.token_cache_secs`): the longest
    /// another replica keeps accepting a token revoked elsewhere. Zero keeps nothing.
    lifetime: Duration,
}

/// Taken before the database read, handed back with its result to [`TokenCache::insert`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadTicket(u64);

impl TokenCache {
    pub(crate) const CAPACITY: usize = 1024;

    pub(crate) fn new(lifetime: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            lifetime,
        }
    }

    /// The entry for `hash`, if it is younger than the lifetime.
    pub(crate) fn get(&self, hash: &str, now: Instant) -> Option<CachedToken> {
        if self.lifetime.is_zero() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .by_hash
            .get(hash)
            .filter(|entry| now.duration_since(entry.checked) < self.lifetime)
            .cloned()
    }

    /// To take before reading the token from the database.
    pub(crate) fn ticket(&self) -> ReadTicket {
        ReadTicket(
            self.entries
                .lock()
                .map_or(u64::MAX, |entries| entries.generation),
        )
    }

    /// Keeps what a read that began with `ticket` found, unless an invalidation came since.
    pub(crate) fn insert(&self, ticket: ReadTicket, hash: String, entry: CachedToken) {
        if self.lifetime.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.generation != ticket.0 {
            return;
        }
        if entries.by_hash.len() >= Self::CAPACITY && !entries.by_hash.contains_key(&hash) {
            entries.by_hash.clear();
        }
        entries.by_hash.insert(hash, entry);
    }

    /// Records that this process moved `token_id`'s `last_used_at` to `at`.
    pub(crate) fn touched(&self, token_id: TokenId, at: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            for entry in entries.by_hash.values_mut() {
                if entry.token_id == token_id {
                    entry.last_used_at = Some(at);
                }
            }
        }
    }

    /// Forgets every entry: called after a commit that revoked a token or changed a connection.
    pub(crate) fn invalidate(&self) {
        let mut entries = match self.entries.lock() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.by_hash.clear();
        entries.generation = entries.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::{ConnectionId, WorkspaceId};

    use super::*;

    fn entry(checked: Instant) -> CachedToken {
        CachedToken {
            token_id: TokenId::new(),
            connection: ScimConnection {
                id: ConnectionId::new(),
                workspace_id: WorkspaceId::new(),
                strict_immutability: false,
                attributes: Default::default(),
            },
            expires_at: None,
            last_used_at: None,
            checked,
        }
    }

    #[test]
    fn a_read_that_began_before_an_invalidation_is_not_kept() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let now = Instant::now();
        let before = cache.ticket();
        cache.invalidate();
        cache.insert(before, "old".to_owned(), entry(now));
        assert!(
            cache.get("old", now).is_none(),
            "the stale read was dropped"
        );
        let after = cache.ticket();
        cache.insert(after, "new".to_owned(), entry(now));
        assert!(cache.get("new", now).is_some());
    }

    #[test]
    fn entries_age_out_and_a_zero_lifetime_keeps_nothing() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let then = Instant::now();
        cache.insert(cache.ticket(), "t".to_owned(), entry(then));
        assert!(cache.get("t", then + Duration::from_millis(999)).is_some());
        assert!(cache.get("t", then + Duration::from_secs(1)).is_none());

        let off = TokenCache::new(Duration::ZERO);
        off.insert(off.ticket(), "t".to_owned(), entry(then));
        assert!(off.get("t", then).is_none());
    }

    #[test]
    fn a_full_cache_is_emptied_before_a_new_entry() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let now = Instant::now();
        for n in 0..TokenCache::CAPACITY {
            cache.insert(cache.ticket(), format!("t{n}"), entry(now));
        }
        assert!(cache.get("t0", now).is_some());
        cache.insert(cache.ticket(), "one more".to_owned(), entry(now));
        assert!(cache.get("t0", now).is_none(), "emptied");
        assert!(cache.get("one more", now).is_some());
    }

    #[test]
    fn a_touch_moves_the_kept_last_use() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let now = Instant::now();
        let kept = entry(now);
        let token_id = kept.token_id;
        cache.insert(cache.ticket(), "t".to_owned(), kept);
        cache.touched(token_id, 42);
        assert_eq!(cache.get("t", now).map(|e| e.last_used_at), Some(Some(42)));
    }
}
