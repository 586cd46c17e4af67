//! Test durations from earlier runs, keyed by binary id and test name, and the expected
//! time of each test of a run: its recorded duration, else the mean of its binary's known
//! tests, else the mean of all known tests. Pure data; reading and writing the history
//! file is `crate::history`'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Seconds per test, by binary id, then test name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Durations {
    tests: BTreeMap<String, BTreeMap<String, f64>>,
}

/// How much a new measurement moves the recorded duration: halfway, so one slow run
/// (a loaded machine) does not undo what many runs taught, yet real changes show quickly.
const NEW_WEIGHT: f64 = 0.5;

impl Durations {
    pub fn get(&self, binary_id: &str, name: &str) -> Option<f64> {
        self.tests.get(binary_id)?.get(name).copied()
    }

    /// Whether any test of `binary_id` has a recorded duration.
    pub fn knows_binary(&self, binary_id: &str) -> bool {
        self.tests.get(binary_id).is_some_and(|t| !t.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.tests.values().all(BTreeMap::is_empty)
    }

    pub fn len(&self) -> usize {
        self.tests.values().map(BTreeMap::len).sum()
    }

    /// Folds the durations measured in one run into the history. A test measured more
    /// than once in the run (`--dist each`) counts with the mean of its measurements.
    /// Tests not measured keep what they had.
    pub fn merge_run<'a>(&mut self, measured: impl IntoIterator<Item = (&'a str, &'a str, f64)>) {
        let mut run: BTreeMap<(&str, &str), (f64, u32)> = BTreeMap::new();
        for (binary, name, secs) in measured {
            if !secs.is_finite() || secs < 0.0 {
                continue;
            }
            let e = run.entry((binary, name)).or_default();
            e.0 += secs;
            e.1 += 1;
        }
        for ((binary, name), (sum, n)) in run {
            let new = sum / f64::from(n);
            // Looked up before a key is made: a run of 20,000 known tests made 40,000
            // strings here for nothing.
            if !self.tests.contains_key(binary) {
                self.tests.insert(binary.to_owned(), BTreeMap::new());
            }
            let Some(tests) = self.tests.get_mut(binary) else {
                continue;
            };
            match tests.get_mut(name) {
                Some(slot) => *slot = *slot * (1.0 - NEW_WEIGHT) + new * NEW_WEIGHT,
                None => {
                    tests.insert(name.to_owned(), new);
                }
            }
        }
    }

    /// Every recorded duration: (binary id, test name, seconds).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, f64)> {
        self.tests.iter().flat_map(|(binary, tests)| {
            tests
                .iter()
                .map(move |(name, secs)| (binary.as_str(), name.as_str(), *secs))
        })
    }

    /// Sets the recorded duration of one test, replacing what it had.
    pub fn set(&mut self, binary_id: &str, name: &str, secs: f64) {
        self.tests
            .entry(binary_id.to_owned())
            .or_default()
            .insert(name.to_owned(), secs);
    }

    /// The recorded durations of the tests of `binary_id`, by name.
    pub fn of_binary(&self, binary_id: &str) -> Option<&BTreeMap<String, f64>> {
        self.tests.get(binary_id)
    }

    /// Sets the recorded durations of the tests of `binary_id`, replacing what it had.
    pub fn set_binary(&mut self, binary_id: String, tests: BTreeMap<String, f64>) {
        self.tests.insert(binary_id, tests);
    }

    /// A function giving the expected seconds of any test of `binary_id`, known or not.
    pub fn estimator<'a>(&'a self, binary_id: &str) -> impl Fn(&str) -> f64 + 'a {
        let own = self.tests.get(binary_id);
        let fallback = own
            .and_then(|t| mean(t.values().copied()))
            .or_else(|| mean(self.tests.values().flat_map(|t| t.values().copied())))
            // Nothing known at all: every test the same; only ratios matter.
            .unwrap_or(1.0);
        move |name| own.and_then(|t| t.get(name).copied()).unwrap_or(fallback)
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tests_get_the_mean_of_their_binary_then_of_all() {
        let mut d = Durations::default();
        d.merge_run([("a", "x", 1.0), ("a", "y", 3.0), ("b", "z", 8.0)]);
        let a = d.estimator("a");
        assert_eq!(a("x"), 1.0);
        assert_eq!(a("new"), 2.0);
        let c = d.estimator("c");
        assert_eq!(c("new"), 4.0);
        let empty = Durations::default();
        assert_eq!(empty.estimator("a")("t"), 1.0);
    }

    #[test]
    fn merging_moves_halfway_and_keeps_unmeasured_tests() {
        let mut d = Durations::default();
        d.merge_run([("a", "x", 1.0), ("a", "y", 2.0)]);
        d.merge_run([("a", "x", 3.0), ("a", "x", 5.0)]);
        // x: the run's mean (4) taken halfway from 1.
        assert_eq!(d.get("a", "x"), Some(2.5));
        assert_eq!(d.get("a", "y"), Some(2.0));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn nonsense_measurements_are_dropped() {
        let mut d = Durations::default();
        d.merge_run([("a", "x", f64::NAN), ("a", "y", -1.0)]);
        assert!(d.is_empty());
    }
}
