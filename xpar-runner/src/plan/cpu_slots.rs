//! Slots for the cores a test used: a test whose CPU time was k times its wall time last
//! time kept about k cores busy, so this time it holds min(k, workers) worker slots, as
//! if it were marked `#[resource_intensive(slots = k)]`. Two such tests are then not
//! packed side by side onto a machine without the cores for both. A test marked with
//! slots (or `#[serial]`, or given slots by the config file) keeps what it says: the
//! mark is the user's word.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use xpar_protocol::Serial;

use crate::discover::{BinaryContent, BinaryKind, TestList};

/// Below this wall time a measurement says little (a process's start, the reader's
/// millisecond) and a slot held costs more than the contention it saves.
pub const MIN_MEASURED_SECS: f64 = 0.05;

/// A test that used fewer cores than this holds one slot.
pub const MIN_CORES: f64 = 1.5;

/// Slots pay off when a test holding them took at most this share of the time it took
/// with one slot. A test that keeps its cores busy for a fixed time (a stress test that
/// spins for ten seconds, say) takes as long either way: its slots would only keep other
/// tests waiting.
pub const PAYS_OFF: f64 = 0.9;

/// A test shorter than this with its slots keeps them, paying or not: they cost little,
/// and its time on one slot may have been measured with nothing beside it. Beside
/// another test that spins its threads it can take hundreds of times as long (crossbeam's
/// channel `drops` took 0.16 s with its slots and 68 s beside `spsc`).
pub const MIN_GIVE_UP_SECS: f64 = 1.0;

/// What the runs measured of one test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TestCores {
    /// The cores it kept busy (CPU time over wall time).
    pub cores: f64,
    /// Its wall time the last time it held the slots its cores gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_slots: Option<f64>,
    /// Its wall time the last time it ran on one slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_slot: Option<f64>,
}

impl TestCores {
    /// Whether holding slots is worth it: it used several cores, and slots did not fail
    /// to make a long test faster the last time both were measured.
    fn deserves_slots(&self) -> bool {
        let paid = match (self.with_slots, self.one_slot) {
            (Some(with), Some(one)) => with < MIN_GIVE_UP_SECS || with <= one * PAYS_OFF,
            _ => true,
        };
        self.cores >= MIN_CORES && paid
    }
}

/// How the history stores a test's figures: a bare number is the cores alone, as
/// written before slots were checked against the time they saved.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum StoredCores {
    Cores(f64),
    Measured(TestCores),
}

impl From<StoredCores> for TestCores {
    fn from(s: StoredCores) -> TestCores {
        match s {
            StoredCores::Cores(cores) => TestCores {
                cores,
                ..TestCores::default()
            },
            StoredCores::Measured(t) => t,
        }
    }
}

/// The cores each test used last time it was measured, by binary id and test name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoreUse(pub HashMap<String, HashMap<String, TestCores>>);

/// The tests [`apply_cpu_slots`] gave slots: test names by binary id, so that a run's
/// every result is looked up without building a key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GivenSlots(HashMap<String, HashSet<String>>);

impl GivenSlots {
    pub fn contains(&self, binary_id: &str, name: &str) -> bool {
        self.0.get(binary_id).is_some_and(|t| t.contains(name))
    }

    pub fn len(&self) -> usize {
        self.0.values().map(HashSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&mut self, binary_id: &str, name: &str) {
        let tests = self.0.entry(binary_id.to_owned()).or_default();
        tests.insert(name.to_owned());
    }
}

impl CoreUse {
    /// Records that a test used `cpu_secs` of CPU in `wall_secs`, `held` the slots its
    /// cores gave it or not; too short a test is not a measurement. More cores than
    /// known count at once; fewer move the known figure halfway, or not at all when the
    /// test took more than twice as long as it has: a test measured while others crowded
    /// it used fewer cores than it would have, and such a run must not take its slots
    /// away (it would then be crowded again, and again measured low).
    pub fn record(
        &mut self,
        binary_id: &str,
        name: &str,
        cpu_secs: f64,
        wall_secs: f64,
        held: bool,
    ) {
        if wall_secs < MIN_MEASURED_SECS {
            return;
        }
        let measured = cpu_secs / wall_secs;
        let tests = self.0.entry(binary_id.to_owned()).or_default();
        let t = tests.entry(name.to_owned()).or_insert(TestCores {
            cores: measured,
            ..TestCores::default()
        });
        // Fewer cores in more than twice the shortest time known: it was crowded, and
        // the fewer cores say so, not what it would use.
        let shortest = [t.with_slots, t.one_slot].into_iter().flatten();
        let crowded = wall_secs > 2.0 * shortest.fold(f64::INFINITY, f64::min);
        t.cores = match crowded {
            true => measured.max(t.cores),
            false => measured.max((t.cores + measured) / 2.0),
        };
        if held {
            t.with_slots = Some(wall_secs);
        } else {
            t.one_slot = Some(wall_secs);
        }
    }

    fn get(&self, binary_id: &str, name: &str) -> Option<&TestCores> {
        self.0.get(binary_id)?.get(name)
    }
}

/// Gives every test of `list` that used [`MIN_CORES`] or more last time, and is not
/// marked otherwise, slots for the cores it used (rounded, at most `workers`), unless
/// slots did not make it faster (see [`PAYS_OFF`]); returns the tests it gave slots.
pub fn apply_cpu_slots(list: &mut TestList, used: &CoreUse, workers: usize) -> GivenSlots {
    let mut given = GivenSlots::default();
    if used.0.is_empty() || workers < 2 {
        return given;
    }
    for binary in &mut list.binaries {
        let id = binary.binary.id.as_str();
        // A doctest process's CPU time is rustdoc's compiling (see `history::updated`).
        let doctests = binary.binary.kind == BinaryKind::Doctest;
        let (false, BinaryContent::Tests(tests)) = (doctests, &mut binary.content) else {
            continue;
        };
        for test in tests {
            let Some(t) = used.get(id, &test.name) else {
                continue;
            };
            let marked = test.markers.resource_slots.is_some() || test.markers.serial != Serial::No;
            if !t.deserves_slots() || marked {
                continue;
            }
            let slots = (t.cores.round() as usize).clamp(2, workers);
            test.markers.resource_slots = Some(slots as u32);
            given.insert(id, &test.name);
        }
    }
    given
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{ListedBinary, ListedTest, Markers};

    fn list(tests: &[(&str, Markers)]) -> TestList {
        let tests = (tests.iter())
            .map(|(name, markers)| ListedTest {
                name: (*name).to_owned(),
                markers: markers.clone(),
                ..ListedTest::default()
            })
            .collect();
        TestList {
            binaries: vec![ListedBinary::fake_lib("p", tests)],
        }
    }

    fn slots(list: &TestList) -> Vec<Option<u32>> {
        match &list.binaries[0].content {
            BinaryContent::Tests(t) => t.iter().map(|t| t.markers.resource_slots).collect(),
            BinaryContent::Opaque { .. } => Vec::new(),
        }
    }

    #[test]
    fn more_cores_count_at_once_and_fewer_halfway() {
        let mut used = CoreUse::default();
        let cores = |u: &CoreUse| u.get("p", "t").map(|t| t.cores);
        used.record("p", "t", 2.0, 1.0, false);
        used.record("p", "t", 1.0, 1.0, false);
        assert_eq!(cores(&used), Some(1.5), "one crowded run keeps it at 1.5");
        used.record("p", "t", 3.0, 1.0, false);
        assert_eq!(cores(&used), Some(3.0));
        // crossbeam's `spsc`: two spinning threads, 0.05 s; beside another such test,
        // 68 s on about one core. That run says it was crowded, not that it needs less.
        used.record("p", "spsc", 0.085, 0.05, false);
        used.record("p", "spsc", 68.0, 67.7, false);
        assert_eq!(used.get("p", "spsc").map(|t| t.cores), Some(1.7));
    }

    /// crossbeam's `select::loop_try` spins two threads for a fixed ten seconds: slots
    /// do not make it faster, and are given up. `drops` takes 0.2 s with its slots and
    /// as long on one slot with nothing beside it: short, it keeps them.
    #[test]
    fn slots_that_did_not_make_a_test_faster_are_given_up() {
        let mut l = list(&[("spins", Markers::default()), ("drops", Markers::default())]);
        let mut used = CoreUse::default();
        used.record("p", "spins", 20.0, 10.0, false);
        used.record("p", "drops", 45.0, 30.0, false);
        let given = apply_cpu_slots(&mut l, &used, 2);
        assert_eq!(given.len(), 2, "first measured crowded: both get slots");
        used.record("p", "spins", 20.0, 10.05, true);
        used.record("p", "drops", 0.4, 0.2, true);
        used.record("p", "drops", 0.4, 0.2, false);
        let mut l = list(&[("spins", Markers::default()), ("drops", Markers::default())]);
        let given = apply_cpu_slots(&mut l, &used, 2);
        assert_eq!(slots(&l), [None, Some(2)]);
        assert_eq!(given.len(), 1);
        assert!(given.contains("p", "drops"));
        // Crowded again and much slower on one slot: slots pay off again.
        used.record("p", "spins", 50.0, 25.0, false);
        let mut l = list(&[("spins", Markers::default())]);
        assert_eq!(apply_cpu_slots(&mut l, &used, 2).len(), 1);
    }

    #[test]
    fn a_history_of_bare_core_figures_is_read() {
        let stored: HashMap<String, StoredCores> =
            serde_json::from_str(r#"{"a": 2.5, "b": {"cores": 3.0, "with_slots": 1.0}}"#).unwrap();
        let a = TestCores::from(stored.into_iter().find(|(n, _)| n == "a").unwrap().1);
        assert_eq!(a.cores, 2.5);
        assert_eq!((a.with_slots, a.one_slot), (None, None));
    }

    #[test]
    fn a_test_that_used_k_cores_holds_k_slots_unless_marked() {
        let marked = Markers {
            resource_slots: Some(1),
            ..Markers::default()
        };
        let serial = Markers {
            serial: Serial::All,
            ..Markers::default()
        };
        let names = ["four", "two", "one", "short", "marked", "serial", "unknown"];
        let mut l = list(&[
            ("four", Markers::default()),
            ("two", Markers::default()),
            ("one", Markers::default()),
            ("short", Markers::default()),
            ("marked", marked),
            ("serial", serial),
            ("unknown", Markers::default()),
        ]);
        let mut used = CoreUse::default();
        let id = "p";
        used.record(id, names[0], 4.0, 1.0, false);
        used.record(id, names[1], 0.9, 0.5, false);
        used.record(id, names[2], 1.2, 1.0, false);
        used.record(id, names[3], 0.04, 0.01, false);
        used.record(id, names[4], 3.0, 1.0, false);
        used.record(id, names[5], 3.0, 1.0, false);
        assert_eq!(apply_cpu_slots(&mut l, &used, 3).len(), 2);
        assert_eq!(
            slots(&l),
            [Some(3), Some(2), None, None, Some(1), None, None],
            "four cores on three workers hold three; 1.8 holds two; 1.2 one"
        );
        let mut alone = list(&[("four", Markers::default())]);
        assert!(
            apply_cpu_slots(&mut alone, &used, 1).is_empty(),
            "one worker: nothing to hold"
        );
    }
}
