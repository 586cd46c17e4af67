//! The `load` schedule: workers pull chunks of one binary's tests from a shared queue;
//! chunks are large while the queue is full (a process start is paid rarely) and shrink as
//! it drains (the tail stays short), but never so small that starting a process costs more
//! than a quarter of the chunk's expected run time.

use std::collections::{HashMap, VecDeque};

use super::filter::{Unit, UnitTests};

/// Work handed to one worker: tests of one binary, to run in one process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub binary: usize,
    pub tests: UnitTests,
}

impl Chunk {
    pub fn len(&self) -> usize {
        match &self.tests {
            UnitTests::Named(n) => n.len(),
            UnitTests::Opaque => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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

/// Per-binary estimates learned while the run goes on.
#[derive(Clone, Debug, Default)]
pub struct CostModel {
    per_binary: HashMap<usize, Estimate>,
}

impl CostModel {
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
    pub fn min_chunk(&self, binary: usize) -> usize {
        match self.per_binary.get(&binary) {
            Some(e) if e.samples > 0 && e.mean_test > 0.0 => {
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

/// The queue of the `load` schedule, in list order.
#[derive(Clone, Debug)]
pub struct LoadQueue {
    pending: VecDeque<(usize, QueuedTests)>,
    remaining: usize,
    workers: usize,
}

#[derive(Clone, Debug)]
enum QueuedTests {
    Named(VecDeque<String>),
    Opaque,
}

/// The most test names one command line carries, so argument lists stay far below the
/// operating system's limit however large a binary is.
const MAX_ARG_BYTES: usize = 64 * 1024;

impl LoadQueue {
    pub fn new(units: Vec<Unit>, workers: usize) -> Self {
        let mut remaining = 0;
        let pending = units
            .into_iter()
            .map(|u| {
                let q = match u.tests {
                    UnitTests::Named(names) => {
                        remaining += names.len();
                        QueuedTests::Named(names.into())
                    }
                    UnitTests::Opaque => {
                        remaining += 1;
                        QueuedTests::Opaque
                    }
                };
                (u.binary, q)
            })
            .collect();
        LoadQueue {
            pending,
            remaining,
            workers: workers.max(1),
        }
    }

    /// Tests not yet handed out.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next chunk for a worker that ran dry, or `None` when the queue is empty.
    pub fn next_chunk(&mut self, cost: &CostModel) -> Option<Chunk> {
        let (binary, queued) = self.pending.front_mut()?;
        let binary = *binary;
        let chunk = match queued {
            QueuedTests::Opaque => {
                self.pending.pop_front();
                self.remaining -= 1;
                return Some(Chunk {
                    binary,
                    tests: UnitTests::Opaque,
                });
            }
            QueuedTests::Named(names) => {
                let guided = self.remaining.div_ceil(self.workers);
                let want = guided.max(cost.min_chunk(binary)).min(names.len());
                let mut taken = Vec::with_capacity(want);
                let mut bytes = 0;
                while taken.len() < want {
                    let Some(name) = names.front() else { break };
                    if !taken.is_empty() && bytes + name.len() + 1 > MAX_ARG_BYTES {
                        break;
                    }
                    bytes += name.len() + 1;
                    taken.extend(names.pop_front());
                }
                if names.is_empty() {
                    self.pending.pop_front();
                }
                taken
            }
        };
        self.remaining -= chunk.len();
        Some(Chunk {
            binary,
            tests: UnitTests::Named(chunk),
        })
    }

    /// Empties the queue, returning what was never handed out (for a cancelled run).
    pub fn drain(&mut self) -> Vec<Chunk> {
        self.remaining = 0;
        self.pending
            .drain(..)
            .map(|(binary, q)| Chunk {
                binary,
                tests: match q {
                    QueuedTests::Named(n) => UnitTests::Named(n.into()),
                    QueuedTests::Opaque => UnitTests::Opaque,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn units(sizes: &[usize]) -> Vec<Unit> {
        sizes
            .iter()
            .enumerate()
            .map(|(b, &n)| Unit {
                binary: b,
                tests: if n == 0 {
                    UnitTests::Opaque
                } else {
                    UnitTests::Named((0..n).map(|i| format!("b{b}::t{i}")).collect())
                },
            })
            .collect()
    }

    fn all_names(chunks: &[Chunk]) -> Vec<String> {
        chunks
            .iter()
            .flat_map(|c| match &c.tests {
                UnitTests::Named(n) => n.clone(),
                UnitTests::Opaque => vec![format!("b{}::<opaque>", c.binary)],
            })
            .collect()
    }

    #[test]
    fn chunks_shrink_as_the_queue_drains() {
        let mut q = LoadQueue::new(units(&[1000]), 2);
        let cost = CostModel::default();
        let sizes: Vec<usize> = std::iter::from_fn(|| q.next_chunk(&cost))
            .map(|c| c.len())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert_eq!(sizes[0], 500);
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), 1);
    }

    #[test]
    fn expensive_processes_get_larger_chunks() {
        let mut cost = CostModel::default();
        // 40 ms of fixture in the first test, 2 ms per test after it.
        cost.record(BatchCost {
            binary: 0,
            tests: 100,
            wall: 0.243,
            first_test: 0.042,
            test_sum: 0.240,
        });
        // 4 x 43 ms overhead / 2 ms per test, rounded up.
        assert_eq!(cost.min_chunk(0), 87);
        assert_eq!(cost.min_chunk(1), 1);
        let mut q = LoadQueue::new(units(&[100]), 2);
        assert_eq!(q.next_chunk(&cost).unwrap().len(), 87);
        assert_eq!(q.next_chunk(&cost).unwrap().len(), 13);
        assert!(q.next_chunk(&cost).is_none());
    }

    #[test]
    fn a_chunk_never_mixes_binaries() {
        let mut q = LoadQueue::new(units(&[3, 0, 5]), 1);
        let cost = CostModel::default();
        let chunks: Vec<Chunk> = std::iter::from_fn(|| q.next_chunk(&cost)).collect();
        assert_eq!(
            chunks
                .iter()
                .map(|c| (c.binary, c.len()))
                .collect::<Vec<_>>(),
            [(0, 3), (1, 1), (2, 5)]
        );
    }

    proptest! {
        #[test]
        fn every_test_is_handed_out_exactly_once(
            sizes in proptest::collection::vec(0usize..50, 0..8),
            workers in 1usize..6,
            min_chunk_sample in proptest::option::of((2usize..20, 0.0f64..1.0, 0.001f64..0.5)),
            drain_after in proptest::option::of(0usize..10),
        ) {
            let mut cost = CostModel::default();
            if let Some((tests, wall, per)) = min_chunk_sample {
                cost.record(BatchCost { binary: 0, tests, wall, first_test: per, test_sum: per * tests as f64 });
            }
            let expected: Vec<String> = all_names(&units(&sizes).into_iter()
                .map(|u| Chunk { binary: u.binary, tests: u.tests }).collect::<Vec<_>>());
            let mut q = LoadQueue::new(units(&sizes), workers);
            let mut chunks = Vec::new();
            while let Some(c) = q.next_chunk(&cost) {
                prop_assert!(!c.is_empty());
                chunks.push(c);
                if drain_after == Some(chunks.len()) {
                    chunks.extend(q.drain());
                }
            }
            prop_assert_eq!(q.remaining(), 0);
            // Exactly once, in list order.
            prop_assert_eq!(all_names(&chunks), expected);
        }
    }
}
