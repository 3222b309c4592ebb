//! Waking the delivery worker of this process when a commit queued work for it.
//!
//! The worker polls the outbox tables, but a back-channel logout must reach the app within a
//! second of the change that caused it, and a directory event should reach the product's webhook
//! as soon as the sync that caused it allows; polling fast enough for that would cost a query many
//! times a second on every idle replica. So a write that queues work marks its thread with the
//! outbox it queued for ([`mark_queued`], inside the transaction), [`crate::Store`]'s write path
//! reads the marks when the transaction is decided, and only a *committed* write wakes that
//! outbox's worker: a write that rolled back (its own error, or a failed group commit) wakes
//! nobody, and the worker never looks before the rows are visible. Work queued by another replica
//! is still found by the poll.
//!
//! Each outbox has its own wake-up call, so the stream of events a sync writes does not wake the
//! back-channel logout worker, which has nothing to do with them.
//!
//! Both write paths run the transaction's closure on the caller's thread (group commit runs each
//! member on its own thread while it holds the writer), so a thread-local mark belongs to exactly
//! one write; a nested write keeps the marks of the write around it.

use std::cell::Cell;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The outboxes a write can queue work for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// A back-channel logout (`backchannel_logouts`).
    Logout,
    /// A directory event, for the webhooks (`events`, or `event_outbox` on PostgreSQL).
    Event,
}

impl Queued {
    fn bit(self) -> u8 {
        match self {
            Queued::Logout => 1,
            Queued::Event => 2,
        }
    }
}

/// What one write queued, as returned by [`tracking`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Marks(u8);

impl Marks {
    pub(crate) fn contains(self, queued: Queued) -> bool {
        self.0 & queued.bit() != 0
    }
}

thread_local! {
    static QUEUED: Cell<u8> = const { Cell::new(0) };
}

/// Notes that the write running on this thread queued work for `queued`'s outbox.
pub(crate) fn mark_queued(queued: Queued) {
    QUEUED.with(|marks| marks.set(marks.get() | queued.bit()));
}

/// Runs one write and says what it queued (whether it committed is the caller's to judge from
/// the result).
pub(crate) fn tracking<T>(write: impl FnOnce() -> T) -> (T, Marks) {
    let outer = QUEUED.with(|marks| marks.replace(0));
    let result = write();
    let marks = QUEUED.with(|marks| marks.replace(outer));
    (result, Marks(marks))
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
    /// Rings it: every waiter wakes, and a waiter that is busy now wakes at its next `wait`.
    pub fn notify(&self) {
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
        let ((), marks) = tracking(|| mark_queued(Queued::Logout));
        assert!(marks.contains(Queued::Logout));
        assert!(!marks.contains(Queued::Event), "only what it queued");
        let ((), marks) = tracking(|| {});
        assert_eq!(marks, Marks::default(), "the previous write's mark is gone");
        let (inner, outer) = tracking(|| {
            mark_queued(Queued::Event);
            let ((), inner) = tracking(|| mark_queued(Queued::Logout));
            inner
        });
        assert!(inner.contains(Queued::Logout) && !inner.contains(Queued::Event));
        assert!(
            outer.contains(Queued::Event) && !outer.contains(Queued::Logout),
            "a nested write neither takes the outer write's mark nor leaves its own"
        );
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
