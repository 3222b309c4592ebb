//! `totalResults` of cursor pages after the first, remembered for a short while.
//!
//! A list page is read by key (`id > cursor LIMIT n`), so its cost does not grow with depth, but
//! `totalResults` needs a COUNT of every match: 3.4 s for a million users on SQLite, on every
//! page of a walk. A client walking with an RFC 9865 cursor gets the exact count on the first
//! page (no cursor yet); later pages of the same query reuse a count at most [`TOTAL_MAX_AGE`]
//! old, from this process. The count is advisory during a walk anyway: resources come and go
//! between pages. Offset pages (`startIndex`) always count, as Okta's import relies on them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How old a remembered total may be when a later cursor page reuses it.
pub(crate) const TOTAL_MAX_AGE: Duration = Duration::from_secs(30);

/// Distinct queries remembered at most; past it the memory starts over (queries are few: a
/// connection's unfiltered walk, mostly).
const MAX_ENTRIES: usize = 1_024;

/// Recent totals by query key (connection, resource type and filter).
#[derive(Debug, Default)]
pub(crate) struct ListTotals(Mutex<HashMap<String, (i64, Instant)>>);

impl ListTotals {
    /// A total for `key` counted less than [`TOTAL_MAX_AGE`] before `now`.
    pub(crate) fn recent(&self, key: &str, now: Instant) -> Option<i64> {
        let totals = self.0.lock().ok()?;
        let (total, counted) = totals.get(key)?;
        (now.saturating_duration_since(*counted) < TOTAL_MAX_AGE).then_some(*total)
    }

    /// Remembers `total`, counted at `now`, for `key`.
    pub(crate) fn remember(&self, key: String, total: i64, now: Instant) {
        let Ok(mut totals) = self.0.lock() else {
            return;
        };
        if totals.len() >= MAX_ENTRIES && !totals.contains_key(&key) {
            totals.clear();
        }
        totals.insert(key, (total, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_is_reused_only_while_young_and_per_query() {
        let totals = ListTotals::default();
        let start = Instant::now();
        assert_eq!(totals.recent("c1/users/all", start), None);
        totals.remember("c1/users/all".to_owned(), 1_000_000, start);
        assert_eq!(totals.recent("c1/users/all", start), Some(1_000_000));
        let later = start + TOTAL_MAX_AGE - Duration::from_millis(1);
        assert_eq!(totals.recent("c1/users/all", later), Some(1_000_000));
        assert_eq!(totals.recent("c1/users/all", start + TOTAL_MAX_AGE), None);
        assert_eq!(totals.recent("c2/users/all", start), None, "another query");
        totals.remember("c1/users/all".to_owned(), 7, start + TOTAL_MAX_AGE);
        assert_eq!(
            totals.recent("c1/users/all", start + TOTAL_MAX_AGE),
            Some(7)
        );
    }

    #[test]
    fn memory_is_bounded() {
        let totals = ListTotals::default();
        let now = Instant::now();
        for i in 0..=MAX_ENTRIES {
            totals.remember(format!("q{i}"), 1, now);
        }
        let held = totals.0.lock().map(|t| t.len()).unwrap_or_default();
        assert!(held <= MAX_ENTRIES, "{held}");
        assert_eq!(totals.recent(&format!("q{MAX_ENTRIES}"), now), Some(1));
    }
}
