//! What a chunk of a shared queue holds while it runs: `#[serial]`, its serial keys and
//! its worker slots (`#[resource_intensive]`). Among this machine's workers they are
//! kept as the run's own schedule keeps them; across machines, serial keys (and
//! `#[serial]`, as one key) are held in the queue under a lease, so a machine that dies
//! holding one cannot block the run.

use std::collections::{BTreeSet, HashMap};

use xpar_protocol::Serial;

use crate::discover::Markers;

/// The queue's key for `#[serial]`: serial tests of every machine run one at a time.
/// (A `#[serial]` test still runs alone among its own machine's workers; other machines'
/// unmarked tests go on beside it.)
pub const SERIAL_ALL_KEY: &str = "#[serial]";

/// What a chunk holds while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locks {
    /// `#[serial]`: no other chunk of this machine runs beside it.
    pub all: bool,
    pub keys: BTreeSet<String>,
    /// Worker slots (1 unless `#[resource_intensive(slots = N)]`).
    pub slots: usize,
}

impl Locks {
    /// A chunk of unmarked tests: one slot, nothing else.
    pub fn free() -> Locks {
        Locks {
            slots: 1,
            ..Locks::default()
        }
    }

    pub fn of(m: &Markers) -> Locks {
        let mut l = Locks::free();
        match &m.serial {
            Serial::No => {}
            Serial::All => l.all = true,
            Serial::Keys(keys) => l.keys.extend(keys.iter().cloned()),
        }
        if let Some(n) = m.resource_slots {
            l.slots = (n as usize).max(1);
        }
        l
    }

    pub fn is_free(&self) -> bool {
        *self == Locks::free()
    }

    /// Holds what `other` holds too (a chunk of several tests holds what each does).
    pub fn add(&mut self, other: &Locks) {
        self.all |= other.all;
        self.keys.extend(other.keys.iter().cloned());
        self.slots = self.slots.max(other.slots);
    }

    /// The keys it holds in the shared queue, across machines.
    pub fn shared_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.keys.iter().cloned().collect();
        if self.all {
            keys.push(SERIAL_ALL_KEY.to_owned());
        }
        keys
    }
}

/// The chunks this machine's workers are running, and what they hold.
#[derive(Debug)]
pub struct Running {
    workers: usize,
    by_worker: HashMap<usize, Locks>,
}

impl Running {
    pub fn new(workers: usize) -> Running {
        Running {
            workers,
            by_worker: HashMap::new(),
        }
    }

    /// Whether a chunk holding `l` may start beside the running ones.
    pub fn admits(&self, l: &Locks) -> bool {
        let running = self.by_worker.values();
        if running.clone().any(|r| r.all) || (l.all && !self.by_worker.is_empty()) {
            return false;
        }
        if running.clone().any(|r| !r.keys.is_disjoint(&l.keys)) {
            return false;
        }
        let used: usize = running.map(|r| r.slots).sum();
        // A chunk wanting more slots than there are workers runs alone.
        used == 0 || used + l.slots.min(self.workers) <= self.workers
    }

    pub fn start(&mut self, worker: usize, l: Locks) {
        self.by_worker.insert(worker, l);
    }

    /// `worker`'s chunk is done: what it held.
    pub fn finish(&mut self, worker: usize) -> Option<Locks> {
        self.by_worker.remove(&worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Locks {
        Locks {
            keys: k.iter().map(|s| (*s).to_owned()).collect(),
            ..Locks::free()
        }
    }

    #[test]
    fn keys_slots_and_serial_are_kept_among_workers() {
        let mut r = Running::new(3);
        r.start(0, keys(&["db"]));
        assert!(!r.admits(&keys(&["db", "fs"])), "db is held");
        assert!(r.admits(&keys(&["fs"])));
        assert!(r.admits(&Locks::free()));
        let serial = Locks {
            all: true,
            ..Locks::free()
        };
        assert!(!r.admits(&serial), "#[serial] runs alone");
        let heavy = Locks {
            slots: 3,
            ..Locks::free()
        };
        assert!(!r.admits(&heavy), "3 slots of 3, one in use");
        assert_eq!(r.finish(0), Some(keys(&["db"])));
        assert!(r.admits(&heavy) && r.admits(&serial));
        r.start(1, serial);
        assert!(!r.admits(&Locks::free()), "nothing beside #[serial]");
        assert_eq!(
            Locks {
                all: true,
                ..keys(&["a"])
            }
            .shared_keys(),
            ["a", SERIAL_ALL_KEY]
        );
    }
}
