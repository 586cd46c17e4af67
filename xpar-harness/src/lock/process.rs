//! The in-process lock: `#[serial]` excludes every other marked test, `#[serial(keys)]`
//! excludes tests that share a key, and every other marked test only waits out a running
//! `#[serial]`.
//!
//! It is one mutex-guarded state and a condition variable rather than a `RwLock` plus a
//! mutex per key: all of a test's keys are taken in one step (no lock order, so no
//! deadlock), the mutex is never held while a test runs (so a panicking test cannot
//! poison it), and the guard owns nothing borrowed from a lock, so it is `Send` and can
//! be held across `.await` in an async test on a multi-threaded executor.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What a marked test takes while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `#[serial]`: the whole set of marked tests.
    All,
    /// Any other marked test: a share of the set, plus these keys (sorted) alone.
    Shared { keys: &'static [&'static str] },
}

#[derive(Default)]
struct State {
    /// A `#[serial]` test is running.
    all_held: bool,
    /// `#[serial]` tests waiting; while any waits, new shared claims wait too, so that a
    /// stream of short tests cannot starve it.
    all_waiting: usize,
    /// Shared claims running.
    shared: usize,
    /// Keys held by running `#[serial(keys)]` tests.
    keys: Vec<&'static str>,
}

impl State {
    fn admits(&self, claim: Claim) -> bool {
        match claim {
            Claim::All => !self.all_held && self.shared == 0,
            Claim::Shared { keys } => {
                !self.all_held
                    && self.all_waiting == 0
                    && keys.iter().all(|k| !self.keys.contains(k))
            }
        }
    }

    fn take(&mut self, claim: Claim) {
        match claim {
            Claim::All => self.all_held = true,
            Claim::Shared { keys } => {
                self.shared += 1;
                self.keys.extend_from_slice(keys);
            }
        }
    }

    fn release(&mut self, claim: Claim) {
        match claim {
            Claim::All => self.all_held = false,
            Claim::Shared { keys } => {
                self.shared -= 1;
                self.keys.retain(|k| !keys.contains(k));
            }
        }
    }
}

/// One exclusion domain. The harness uses a single static one; tests make their own.
pub struct ProcessLock {
    state: Mutex<State>,
    changed: Condvar,
}

/// Holds a claim on a [`ProcessLock`] until dropped (also when the test panics).
#[must_use = "the claim is released when the guard is dropped"]
pub struct ProcessGuard {
    lock: &'static ProcessLock,
    claim: Claim,
}

impl ProcessLock {
    pub const fn new() -> Self {
        ProcessLock {
            state: Mutex::new(State {
                all_held: false,
                all_waiting: 0,
                shared: 0,
                keys: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    /// The state; a poisoned mutex is taken as is, since the state is only ever changed
    /// in whole steps under it.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `claim` can be taken, then takes it.
    pub fn acquire(&'static self, claim: Claim) -> ProcessGuard {
        let mut state = self.state();
        if claim == Claim::All {
            state.all_waiting += 1;
        }
        while !state.admits(claim) {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if claim == Claim::All {
            state.all_waiting -= 1;
        }
        state.take(claim);
        ProcessGuard { lock: self, claim }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.lock.state().release(self.claim);
        self.lock.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::Duration;

    fn leak() -> &'static ProcessLock {
        Box::leak(Box::new(ProcessLock::new()))
    }

    /// Runs every claim on its own thread, `rounds` times each, and returns the most
    /// claims seen inside at once for each kind of overlap the caller tracks.
    fn hammer(lock: &'static ProcessLock, claims: &[Claim], rounds: usize) -> Vec<Vec<Claim>> {
        let inside: Arc<Mutex<Vec<Claim>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Vec<Claim>>>> = Arc::default();
        let start = Arc::new(Barrier::new(claims.len()));
        let handles: Vec<_> = claims
            .iter()
            .map(|&claim| {
                let (inside, seen, start) = (inside.clone(), seen.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for _ in 0..rounds {
                        let _g = lock.acquire(claim);
                        inside.lock().unwrap().push(claim);
                        // Long enough for the other threads to try to get in.
                        thread::sleep(Duration::from_micros(300));
                        let mut now = inside.lock().unwrap();
                        seen.lock().unwrap().push(now.clone());
                        let at = now.iter().position(|c| *c == claim).unwrap();
                        now.remove(at);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
    }

    #[test]
    fn serial_all_runs_alone_and_keys_exclude_each_other() {
        let lock = leak();
        let claims = [
            Claim::All,
            Claim::All,
            Claim::Shared { keys: &["db"] },
            Claim::Shared {
                keys: &["db", "fs"],
            },
            Claim::Shared { keys: &["fs"] },
            Claim::Shared { keys: &[] },
            Claim::Shared { keys: &[] },
        ];
        let seen = hammer(lock, &claims, 20);
        let mut shared_overlap = false;
        for snapshot in seen {
            if snapshot.contains(&Claim::All) {
                assert_eq!(snapshot.len(), 1, "#[serial] overlapped: {snapshot:?}");
            }
            for key in ["db", "fs"] {
                let holders = snapshot
                    .iter()
                    .filter(|c| matches!(c, Claim::Shared { keys } if keys.contains(&key)))
                    .count();
                assert!(holders <= 1, "key {key} held twice: {snapshot:?}");
            }
            shared_overlap |= snapshot.len() > 1;
        }
        // Exclusion that is too strict would also pass the checks above.
        assert!(shared_overlap, "unkeyed shared claims never ran together");
    }

    #[test]
    fn a_panicking_holder_releases_its_claim() {
        let lock = leak();
        let r = thread::spawn(move || {
            let _g = lock.acquire(Claim::All);
            panic!("test failed while holding the lock");
        })
        .join();
        assert!(r.is_err());
        let _a = lock.acquire(Claim::Shared { keys: &["k"] });
        let _b = lock.acquire(Claim::Shared { keys: &["j"] });
    }

    #[test]
    fn a_waiting_serial_test_holds_back_new_shared_claims() {
        let lock = leak();
        let first = lock.acquire(Claim::Shared { keys: &[] });
        let order = Arc::new(AtomicUsize::new(0));
        let o = order.clone();
        let all = thread::spawn(move || {
            let _g = lock.acquire(Claim::All);
            o.fetch_add(1, Ordering::SeqCst)
        });
        // Wait until the serial claim is queued, observed through the state itself.
        while lock.state().all_waiting == 0 {
            thread::yield_now();
        }
        let o = order.clone();
        let late = thread::spawn(move || {
            let _g = lock.acquire(Claim::Shared { keys: &[] });
            o.fetch_add(1, Ordering::SeqCst)
        });
        drop(first);
        assert_eq!(
            all.join().unwrap(),
            0,
            "#[serial] went after a later arrival"
        );
        assert_eq!(late.join().unwrap(), 1);
    }
}
