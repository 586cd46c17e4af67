//! Slots for the cores a test used: a test whose CPU time was k times its wall time last
//! time kept about k cores busy, so this time it holds min(k, workers) worker slots, as
//! if it were marked `#[resource_intensive(slots = k)]`. Two such tests are then not
//! packed side by side onto a machine without the cores for both. A test marked with
//! slots (or `#[serial]`, or given slots by the config file) keeps what it says: the
//! mark is the user's word.

use std::collections::HashMap;

use xpar_protocol::Serial;

use crate::discover::{BinaryContent, BinaryKind, TestList};

/// Below this wall time a measurement says little (a process's start, the reader's
/// millisecond) and a slot held costs more than the contention it saves.
pub const MIN_MEASURED_SECS: f64 = 0.05;

/// A test that used fewer cores than this holds one slot.
pub const MIN_CORES: f64 = 1.5;

/// The cores each test used last time it was measured, by binary id and test name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CoreUse(pub HashMap<String, HashMap<String, f64>>);

impl CoreUse {
    /// Records that a test used `cpu_secs` of CPU in `wall_secs`; too short a test is
    /// not a measurement. More cores than known count at once; fewer move the known
    /// figure halfway: a test measured while others crowded it used fewer cores than it
    /// would have, and one such run must not take its slots away (it would then be
    /// crowded again, and again measured low).
    pub fn record(&mut self, binary_id: &str, name: &str, cpu_secs: f64, wall_secs: f64) {
        if wall_secs < MIN_MEASURED_SECS {
            return;
        }
        let measured = cpu_secs / wall_secs;
        let tests = self.0.entry(binary_id.to_owned()).or_default();
        let known = tests.get(name).copied().unwrap_or(measured);
        tests.insert(name.to_owned(), measured.max((known + measured) / 2.0));
    }

    fn cores(&self, binary_id: &str, name: &str) -> Option<f64> {
        self.0.get(binary_id)?.get(name).copied()
    }
}

/// Gives every test of `list` that used [`MIN_CORES`] or more last time, and is not
/// marked otherwise, slots for the cores it used (rounded, at most `workers`); returns
/// how many tests it gave slots.
pub fn apply_cpu_slots(list: &mut TestList, used: &CoreUse, workers: usize) -> usize {
    if used.0.is_empty() || workers < 2 {
        return 0;
    }
    let mut given = 0;
    for binary in &mut list.binaries {
        let id = binary.binary.id.as_str();
        // A doctest process's CPU time is rustdoc's compiling (see `history::updated`).
        let doctests = binary.binary.kind == BinaryKind::Doctest;
        let (false, BinaryContent::Tests(tests)) = (doctests, &mut binary.content) else {
            continue;
        };
        for test in tests {
            let Some(cores) = used.cores(id, &test.name) else {
                continue;
            };
            let marked = test.markers.resource_slots.is_some() || test.markers.serial != Serial::No;
            if cores < MIN_CORES || marked {
                continue;
            }
            let slots = (cores.round() as usize).clamp(2, workers);
            test.markers.resource_slots = Some(slots as u32);
            given += 1;
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
        used.record("p", "t", 2.0, 1.0);
        used.record("p", "t", 1.0, 1.0);
        assert_eq!(
            used.cores("p", "t"),
            Some(1.5),
            "one crowded run keeps it at 1.5"
        );
        used.record("p", "t", 3.0, 1.0);
        assert_eq!(used.cores("p", "t"), Some(3.0));
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
        used.record(id, names[0], 4.0, 1.0);
        used.record(id, names[1], 0.9, 0.5);
        used.record(id, names[2], 1.2, 1.0);
        used.record(id, names[3], 0.04, 0.01);
        used.record(id, names[4], 3.0, 1.0);
        used.record(id, names[5], 3.0, 1.0);
        assert_eq!(apply_cpu_slots(&mut l, &used, 3), 2);
        assert_eq!(
            slots(&l),
            [Some(3), Some(2), None, None, Some(1), None, None],
            "four cores on three workers hold three; 1.8 holds two; 1.2 one"
        );
        let mut alone = list(&[("four", Markers::default())]);
        assert_eq!(
            apply_cpu_slots(&mut alone, &used, 1),
            0,
            "one worker: nothing to hold"
        );
    }
}
