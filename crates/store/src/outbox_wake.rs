//! Waking the delivery worker of this process when a commit queued work for it.
//!
//! The worker polls the outbox tables, but a back-channel logout must reach the app within a
//! second of the change that caused it, and polling fast enough for that would cost a query many
//! times a second on every idle replica. So a write that queues a logout marks its thread
//! ([`mark_queued`], inside the transaction), [`crate::Store`]'s write path reads the mark when
//! the transaction is decided, and only a *committed* write wakes the worker: a write that rolled
//! back (its own error, or a failed group commit) wakes nobody, and the worker never looks before
//! the rows are visible. Work queued by another replica is still found by the poll.
//!
//! Both write paths run the transaction's closure on the caller's thread (group commit runs each
//! member on its own thread while it holds the writer), so a thread-local mark belongs to exactly
//! one write; a nested write keeps the mark of the write around it.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

thread_local! {
    static QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Notes that the write running on this thread queued outbox work.
pub(crate) fn mark_queued() {
    QUEUED.with(|queued| queued.set(true));
}

/// Runs one write and says whether it queued outbox work (whether it committed is the caller's
/// to judge from the result).
pub(crate) fn tracking<T>(write: impl FnOnce() -> T) -> (T, bool) {
    let outer = QUEUED.with(|queued| queued.replace(false));
    let result = write();
    let queued = QUEUED.with(|mark| mark.replace(outer));
    (result, queued)
}

/// A wake-up call for the worker: `notify` after a commit, `wait` between polls. Each waiter
/// keeps the last generation it saw, so a notification that comes while it is busy wakes its
/// next `wait` at once, and one notification wakes every waiter (none takes it from another).
#[derive(Debug, Default)]
pub struct OutboxWake {
    generation: Mutex<u64>,
    signal: Condvar,
}

impl OutboxWake {
    pub(crate) fn notify(&self) {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        self.signal.notify_all();
    }

    /// Waits until a notification newer than `seen` or `timeout`, and moves `seen` to the
    /// latest; `true` when notified.
    pub fn wait(&self, seen: &mut u64, timeout: Duration) -> bool {
        let generation = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (generation, _) = self
            .signal
            .wait_timeout_while(generation, timeout, |generation| *generation == *seen)
            .unwrap_or_else(PoisonError::into_inner);
        let notified = *generation != *seen;
        *seen = *generation;
        notified
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_mark_belongs_to_the_write_that_made_it() {
        let ((), queued) = tracking(mark_queued);
        assert!(queued);
        let ((), queued) = tracking(|| {});
        assert!(!queued, "the previous write's mark is gone");
        let (inner, outer) = tracking(|| {
            mark_queued();
            let ((), inner) = tracking(|| {});
            inner
        });
        assert!(
            !inner,
            "a nested write does not take the outer write's mark"
        );
        assert!(outer, "and leaves it in place");
    }

    #[test]
    fn a_notification_wakes_every_waiter_or_waits_for_its_next_wait() {
        let wake = Arc::new(OutboxWake::default());
        let mut seen = 0;
        assert!(
            !wake.wait(&mut seen, Duration::from_millis(10)),
            "nothing to wake for"
        );
        wake.notify();
        assert!(
            wake.wait(&mut seen, Duration::from_secs(5)),
            "kept until the next wait"
        );
        assert!(
            !wake.wait(&mut seen, Duration::from_millis(10)),
            "and taken by it"
        );
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let wake = Arc::clone(&wake);
                let mut seen = seen;
                std::thread::spawn(move || {
                    let started = Instant::now();
                    (
                        wake.wait(&mut seen, Duration::from_secs(30)),
                        started.elapsed(),
                    )
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        wake.notify();
        for waiter in waiters {
            let (woken, after) = waiter.join().unwrap();
            assert!(woken);
            assert!(after < Duration::from_secs(5), "woken, not timed out");
        }
    }
}
