//! The seam between the dispatcher and where its work comes from: what it asks of a
//! queue of chunks. The run's own [`Schedule`] is one; a queue several machines share
//! can be another.
//!
//! [`Schedule`]: super::Schedule

use super::cost::CostModel;
use super::filter::UnitTests;
use crate::ids::{Attempt, TestKey};

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
