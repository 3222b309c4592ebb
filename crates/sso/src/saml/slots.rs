//! At most one SAML signature check per CPU at a time.
//!
//! A check is CPU work in libxml2 and xmlsec (parse, canonicalise, digest, one public-key
//! operation per configured certificate) over a parsed copy of the response. The pre-scan bounds
//! the work of one check (S38); this bounds how many run at once, so that a burst of
//! valid-looking responses — anyone can post one, the connection id is public — queues here
//! instead of running hundreds of documents through xmlsec side by side. A waiting check holds
//! one thread of actix's blocking pool and its decoded response (256 KiB at most), nothing else,
//! and with the pre-scan's limits a check takes milliseconds, so the queue drains quickly.

use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// A counting semaphore over plain threads (checks run on actix's blocking pool).
#[derive(Debug)]
pub(crate) struct VerificationSlots {
    capacity: usize,
    in_use: Mutex<usize>,
    freed: Condvar,
}

/// A slot held for one check; freed when dropped.
#[must_use = "the slot is freed when dropped"]
pub(crate) struct Slot<'a> {
    slots: &'a VerificationSlots,
}

impl VerificationSlots {
    /// `capacity` checks at once (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            in_use: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// The process's slots: one per CPU this process may use.
    pub(crate) fn global() -> &'static Self {
        static SLOTS: OnceLock<VerificationSlots> = OnceLock::new();
        SLOTS.get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
            VerificationSlots::new(cpus)
        })
    }

    /// Waits until a slot is free and takes it.
    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut in_use = self.lock();
        while *in_use >= self.capacity {
            in_use = self
                .freed
                .wait(in_use)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *in_use += 1;
        Slot { slots: self }
    }

    /// The count stays right even if a check panicked while holding the lock.
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.in_use.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_use = self.slots.lock();
        *in_use = in_use.saturating_sub(1);
        drop(in_use);
        self.slots.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc};
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_check_waits_for_a_slot_and_gets_it_when_one_is_freed() {
        let slots = Arc::new(VerificationSlots::new(1));
        let held = slots.acquire();
        let (started, checked) = mpsc::channel();
        let waiter = {
            let slots = Arc::clone(&slots);
            thread::spawn(move || {
                let _slot = slots.acquire();
                started.send(()).unwrap();
            })
        };
        assert!(checked.recv_timeout(Duration::from_millis(200)).is_err());
        drop(held);
        checked.recv_timeout(Duration::from_secs(10)).unwrap();
        waiter.join().unwrap();
    }

    #[test]
    fn never_more_checks_at_once_than_slots() {
        let slots = Arc::new(VerificationSlots::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (slots, running, most) =
                    (Arc::clone(&slots), Arc::clone(&running), Arc::clone(&most));
                thread::spawn(move || {
                    let _slot = slots.acquire();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert_eq!(*slots.lock(), 0);
    }

    #[test]
    fn there_is_always_at_least_one_slot() {
        let slots = VerificationSlots::new(0);
        let _slot = slots.acquire();
        assert!(VerificationSlots::global().capacity >= 1);
    }
}
