//! The seam between the dispatcher and where its work comes from: what it asks of a
//! queue of chunks. The run's own [`Schedule`] is one; a queue several machines share
//! can be another.
//!
//! [`Schedule`]: super::Schedule

use std::time::Duration;

use super::cost::CostModel;
use super::filter::UnitTests;
use crate::ids::{Attempt, TestKey};
use crate::report::TestOutcome;

/// Where a run's dispatcher takes its work from, and gives back what is to run again.
pub trait WorkQueue {
    /// How many workers take from it.
    fn workers(&self) -> usize;

    /// Tests not yet handed out.
    fn remaining(&self) -> usize;

    /// What `worker`, which has just finished its chunk (or not started one), runs next.
    fn next(&mut self, worker: usize, cost: &CostModel) -> Next;

    /// Queues `attempt` of a test whose earlier attempt failed (`--retries`); with
    /// `worker`, only that worker may run it (`--dist each`). `opaque`: the test is a
    /// whole binary.
    fn push_retry(&mut self, test: &TestKey, attempt: Attempt, opaque: bool, worker: Option<usize>);

    /// Takes every queued test of `binary` out (its binary cannot start: they are
    /// reported without running it again).
    fn take_binary(&mut self, binary: usize) -> Vec<Chunk>;

    /// Drops every queued run of one test (`stress --stop-stable`: it has proved itself).
    fn remove_test(&mut self, test: &TestKey);

    /// Empties the queue, returning what was never handed out (for a cancelled run).
    fn drain(&mut self) -> Vec<Chunk>;

    /// A test's final outcome, reported (a queue shared with other machines records it
    /// there, and counts its failure across machines).
    fn reported(&mut self, _outcome: &TestOutcome) {}

    /// How often workers told to wait ask again when nothing here frees them: a queue
    /// shared with other machines gets work back when another machine's lease expires.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// The failures that count toward `--maxfail`: this run's, or every machine's when
    /// the queue is shared.
    fn failures(&mut self, here: usize) -> usize {
        here
    }

    /// Why the run stopped elsewhere (another machine reached `--maxfail`, the shared
    /// queue was lost), if it did: this machine stops too.
    fn stopped_elsewhere(&mut self) -> Option<String> {
        None
    }

    /// The run is stopping: `reason` is said to the machines sharing the queue.
    fn stopping(&mut self, _reason: &str) {}

    /// Work the queue gave up, never to hand out, with the reason (a suite whose
    /// dependency did not pass): the dispatcher reports its tests not run.
    fn take_skipped(&mut self) -> Vec<(Chunk, String)> {
        Vec::new()
    }
}

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

/// The answer to a worker that asks for work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Run(Chunk),
    /// Nothing it may start now, but there will be once other workers finish: ask again.
    Wait,
    /// Nothing left for it.
    Done,
}
