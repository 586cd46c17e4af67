//! `cargo xpar queue report`: waits until every test of a shared run has its result, or
//! until no machine is left alive to give one, then makes one record of the whole run
//! from the results every machine recorded.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use xpar_metadata::queue::{ChunkSpec, ChunkTests};

use super::remote::RemoteQueue;
use super::types::QueueStatus;
use crate::errors::QueueError;
use crate::ids::{Attempt, TestId};
use crate::report::{RunRecord, TestOutcome, TestStatus};
use xpar_metadata::BinaryId;

impl RemoteQueue {
    /// Every chunk the run was seeded with or queued since (retries included).
    pub fn chunks(&mut self) -> Result<Vec<ChunkSpec>, QueueError> {
        let chunks = &self.keys.all()[2];
        let payloads: Vec<String> = redis::cmd("HVALS")
            .arg(chunks)
            .query(&mut self.conn)
            .map_err(|e| self.fail("chunks", e))?;
        payloads
            .iter()
            .map(|p| serde_json::from_str(p).map_err(|e| self.protocol("chunks", format!("{e}"))))
            .collect()
    }
}

/// How the wait for a shared run ended.
pub enum Waited {
    /// Every test has its last attempt recorded.
    Complete(QueueStatus),
    /// No machine is alive and tests are left (or the run was cancelled and its machines
    /// are done): the report is made of what there is.
    Abandoned(QueueStatus),
}

/// Waits for the run, asking every `poll`, for at most `timeout`; `on_status` hears each
/// status read (for progress).
pub fn wait(
    queue: &mut RemoteQueue,
    poll: Duration,
    timeout: Option<Duration>,
    on_status: &mut dyn FnMut(&QueueStatus),
) -> Result<Waited, QueueError> {
    let start = Instant::now();
    loop {
        let status = queue.status()?;
        on_status(&status);
        if status.total > 0 && status.done >= status.total {
            return Ok(Waited::Complete(status));
        }
        let alive = status.machines.iter().any(|m| m.alive);
        let leased = !status.leases.is_empty();
        // A machine that joined and died leaves leases that expire; a run nobody joined
        // yet (total 0) is waited for.
        if status.total > 0
            && !alive
            && (status.cancelled.is_some() || !leased || status.queued > 0)
        {
            return Ok(Waited::Abandoned(status));
        }
        if let Some(limit) = timeout.filter(|t| start.elapsed() >= *t) {
            return Err(QueueError::Timeout {
                waited: limit,
                done: status.done,
                total: status.total,
            });
        }
        std::thread::sleep(poll);
    }
}

/// A test of the run that has no result: reported not run, saying why.
pub fn not_run(test: &TestId, why: &str) -> TestOutcome {
    TestOutcome {
        binary_id: test.binary_id.clone(),
        name: test.name.clone(),
        status: TestStatus::NotRun(why.to_owned()),
        duration: Duration::ZERO,
        output: String::new(),
        worker: None,
        started: None,
        previous: Vec::new(),
        attempt: Attempt::FIRST,
    }
}

/// The whole run as one record: each test's outcome with the highest attempt recorded,
/// and every test of the run's chunks with none named in `missing`.
pub fn collect(queue: &mut RemoteQueue) -> Result<(RunRecord, Vec<TestId>), QueueError> {
    let mut record = RunRecord::default();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut last: HashMap<(String, String), (usize, TestOutcome)> = HashMap::new();
    for (key, json) in queue.results()? {
        let outcome: TestOutcome = serde_json::from_str(&json)
            .map_err(|e| queue.protocol("results", format!("{}: {e}", key.test)))?;
        let test = (
            key.test.binary_id.as_str().to_owned(),
            key.test.name.clone(),
        );
        let attempt = key.attempt.number();
        match last.get_mut(&test) {
            Some(slot) if slot.0 < attempt => *slot = (attempt, outcome),
            Some(_) => {}
            None => {
                last.insert(test.clone(), (attempt, outcome));
            }
        }
        seen.insert(test);
    }
    let mut missing = Vec::new();
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for chunk in queue.chunks()? {
        let id = chunk.binary_id.as_str().to_owned();
        match chunk.tests {
            ChunkTests::Named(names) => expected.extend(names.into_iter().map(|n| (id.clone(), n))),
            ChunkTests::Opaque => {
                expected.insert((id.clone(), id));
            }
        }
    }
    for (binary, name) in &expected {
        if !seen.contains(&(binary.clone(), name.clone())) {
            missing.push(TestId::new(BinaryId::new(binary), name));
        }
    }
    let mut outcomes: Vec<TestOutcome> = last.into_values().map(|(_, o)| o).collect();
    outcomes.sort_by_key(|o| o.started);
    record.outcomes = outcomes;
    record.to_run = expected.len();
    Ok((record, missing))
}
