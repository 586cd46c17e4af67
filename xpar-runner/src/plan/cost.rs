//! What a batch process costs, learned while the run goes on: per binary, the time a
//! warm test takes and what a process costs beyond its tests (start-up, fixtures, exit).
//! Chunks are never so small that starting a process costs more than a quarter of the
//! chunk's expected run time.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// What one finished batch process cost, fed back by the executor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchCost {
    pub binary: usize,
    pub tests: usize,
    /// Seconds from spawning the process to its exit.
    pub wall: f64,
    /// Seconds the first test took (it pays for lazily built fixtures).
    pub first_test: f64,
    /// Seconds all tests took together.
    pub test_sum: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Estimate {
    /// Seconds a test takes, once the process is warm.
    mean_test: f64,
    /// Seconds a process costs beyond its tests: start-up, fixtures, exit.
    overhead: f64,
    samples: u32,
}

/// What a process of one binary cost in earlier runs, kept in the history so that a run
/// sizes its first chunks as well as its last: a binary whose processes pay a large
/// one-time cost (fixtures built lazily, or the first panic's backtrace symbolized under
/// `RUST_BACKTRACE=1`, a tenth of a second) is not cut into more processes than it
/// is worth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessCost {
    /// Seconds a test takes, once the process is warm.
    pub mean_test: f64,
    /// Seconds a process costs beyond its tests.
    pub overhead: f64,
}

/// Process costs by binary id.
pub type ProcessCosts = BTreeMap<String, ProcessCost>;

/// Per-binary estimates learned while the run goes on.
#[derive(Clone, Debug, Default)]
pub struct CostModel {
    per_binary: HashMap<usize, Estimate>,
}

impl CostModel {
    /// A model that starts from what earlier runs learned: `ids` gives each binary's
    /// index and id. A seed counts as one batch, so the run's own batches soon outweigh it.
    pub fn seeded<'a>(
        ids: impl IntoIterator<Item = (usize, &'a str)>,
        known: &ProcessCosts,
    ) -> CostModel {
        let mut model = CostModel::default();
        for (binary, id) in ids {
            let Some(c) = known.get(id) else {
                continue;
            };
            if c.mean_test.is_finite() && c.overhead.is_finite() && c.mean_test > 0.0 {
                model.per_binary.insert(
                    binary,
                    Estimate {
                        mean_test: c.mean_test,
                        overhead: c.overhead.max(0.0),
                        samples: 1,
                    },
                );
            }
        }
        model
    }

    /// `earlier` with the estimates of this model in place of those of the binaries it
    /// has any for (`id` names a binary by its index).
    pub fn learned(
        &self,
        id: impl Fn(usize) -> Option<String>,
        mut earlier: ProcessCosts,
    ) -> ProcessCosts {
        for (&binary, e) in &self.per_binary {
            if let (true, Some(id)) = (e.samples > 0 && e.mean_test > 0.0, id(binary)) {
                earlier.insert(
                    id,
                    ProcessCost {
                        mean_test: e.mean_test,
                        overhead: e.overhead,
                    },
                );
            }
        }
        earlier
    }

    /// Folds one batch into the estimate for its binary. Batches of one test say nothing
    /// about warm test time and are skipped.
    pub fn record(&mut self, c: BatchCost) {
        if c.tests < 2 {
            return;
        }
        let mean_test = ((c.test_sum - c.first_test) / (c.tests - 1) as f64).max(0.0);
        let overhead = (c.wall - mean_test * c.tests as f64).max(0.0);
        let e = self.per_binary.entry(c.binary).or_default();
        let n = e.samples as f64;
        e.mean_test = (e.mean_test * n + mean_test) / (n + 1.0);
        e.overhead = (e.overhead * n + overhead) / (n + 1.0);
        e.samples += 1;
    }

    /// The fewest tests of `binary` worth a process of their own: enough that the
    /// process overhead is at most a quarter of the chunk. 1 while nothing is known.
    /// A binary not measured yet is taken to cost what the measured ones cost on
    /// average: cutting a small binary's last tests into processes of their own before
    /// its first batch ended pays a process start per test.
    pub fn min_chunk(&self, binary: usize) -> usize {
        let known = |e: &&Estimate| e.samples > 0 && e.mean_test > 0.0;
        let own = self.per_binary.get(&binary).filter(known).copied();
        let estimate = own.or_else(|| {
            let all: Vec<&Estimate> = self.per_binary.values().filter(known).collect();
            (!all.is_empty()).then(|| Estimate {
                mean_test: all.iter().map(|e| e.mean_test).sum::<f64>() / all.len() as f64,
                overhead: all.iter().map(|e| e.overhead).sum::<f64>() / all.len() as f64,
                samples: 1,
            })
        });
        match estimate {
            Some(e) => {
                let n = (4.0 * e.overhead / e.mean_test).ceil();
                if n.is_finite() {
                    (n as usize).max(1)
                } else {
                    1
                }
            }
            _ => 1,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Binary 0 after one batch of 100 tests: 40 ms of fixture in the first test, 2 ms
    /// per test after it.
    pub(crate) fn heavy_fixture() -> CostModel {
        let mut cost = CostModel::default();
        cost.record(BatchCost {
            binary: 0,
            tests: 100,
            wall: 0.243,
            first_test: 0.042,
            test_sum: 0.240,
        });
        cost
    }

    #[test]
    fn what_a_run_learned_seeds_the_next() {
        let learned = heavy_fixture().learned(|b| Some(format!("bin{b}")), ProcessCosts::new());
        let c = learned["bin0"];
        assert!((c.mean_test - 0.002).abs() < 1e-9, "{c:?}");
        assert!((c.overhead - 0.043).abs() < 1e-9, "{c:?}");
        let next = CostModel::seeded([(3, "bin0")], &learned);
        assert_eq!(next.min_chunk(3), 87);
        // Nothing learned: the earlier entry stays.
        let kept = CostModel::default().learned(|_| None, learned.clone());
        assert_eq!(kept, learned);
    }

    #[test]
    fn expensive_processes_need_larger_chunks() {
        let cost = heavy_fixture();
        // 4 x 43 ms overhead / 2 ms per test, rounded up.
        assert_eq!(cost.min_chunk(0), 87);
        // A binary not measured yet: as the measured ones, on average.
        assert_eq!(cost.min_chunk(1), 87);
        assert_eq!(CostModel::default().min_chunk(1), 1);
    }
}
