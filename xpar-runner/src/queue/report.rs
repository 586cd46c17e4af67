//! `cargo xpar queue report`: waits until every test of a shared run has its result, or
//! until no machine is left alive to give one, then makes one record of the whole run
//! from the results every machine recorded.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use xpar_metadata::queue::{ChunkSpec, ChunkTests};

use super::keys::ResultKey;
use super::recorded::{Lanes, Recorded};
use super::remote::RemoteQueue;
use super::types::{QueueStatus, ResultRecord};
use crate::errors::QueueError;
use crate::ids::TestId;
use crate::report::{RunRecord, TestOutcome, TestStatus};
use xpar_metadata::BinaryId;

/// Marks a machine gone (its liveness deadline now), on the server's clock.
static LEAVE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
         return redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])",
    )
});

impl RemoteQueue {
    /// This machine leaves the run: it is shown gone at once, so a report does not wait
    /// for it to run out. (Its leases, if any are left, run out as a dead machine's.)
    pub fn leave(&mut self) -> Result<(), QueueError> {
        let machines = self.keys.all()[7].clone();
        let machine = self.machine().to_owned();
        LEAVE
            .key(machines)
            .arg(machine)
            .invoke::<i64>(&mut self.conn)
            .map(drop)
            .map_err(|e| self.fail("leave", e))
    }

    /// Records results no chunk carries (the run's ignored tests, which the machine that
    /// seeds the run reports), each once; they do not count toward the run's total.
    pub fn record_unqueued(&mut self, results: &[ResultRecord]) -> Result<(), QueueError> {
        if results.is_empty() {
            return Ok(());
        }
        let key = self.keys.all()[6].clone();
        let mut pipe = redis::pipe();
        for r in results {
            pipe.cmd("HSETNX")
                .arg(&key)
                .arg(ResultKey::encode(&r.test, r.attempt))
                .arg(&r.json)
                .ignore();
        }
        // Every key of a run expires.
        pipe.cmd("EXPIRE").arg(&key).arg(self.ttl_secs()).ignore();
        pipe.query::<()>(&mut self.conn)
            .map_err(|e| self.fail("record_unqueued", e))
    }

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

/// How long a report waits for the first machine of a run when not told (`--timeout`):
/// long enough for CI machines to start and build, short enough that a report whose
/// machines all failed before joining does not hang its job.
pub const FIRST_MACHINE: Duration = Duration::from_secs(10 * 60);

/// Waits for the run, asking every `poll`, for at most `timeout` (and, while no machine
/// joined it, [`FIRST_MACHINE`] when no `timeout` is given); `on_status` hears each status
/// read (for progress).
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
        // Leases of machines that are gone run out; with no machine left, nobody
        // reserves their chunks again. A run nobody joined yet (total 0) is waited for.
        let leased = status.leases.iter().any(|l| l.seconds_left > 0.0);
        if status.total > 0
            && !alive
            && (status.cancelled.is_some() || !leased || status.queued > 0)
        {
            return Ok(Waited::Abandoned(status));
        }
        let joined = status.total > 0 || !status.machines.is_empty();
        let waited = start.elapsed();
        if !joined && waited >= timeout.unwrap_or(FIRST_MACHINE) {
            return Err(QueueError::NeverJoined {
                run_id: queue.run_id().to_owned(),
                waited: timeout.unwrap_or(FIRST_MACHINE),
            });
        }
        if let Some(limit) = timeout.filter(|t| waited >= *t) {
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
    TestOutcome::not_started(
        test.binary_id.clone(),
        &test.name,
        TestStatus::NotRun(why.to_owned()),
    )
}

/// A shared run as one record.
pub struct Collected {
    /// Each test's outcome with the highest attempt recorded, its worker on its
    /// machine's lanes and its times on the first machine's clock.
    pub record: RunRecord,
    /// The tests of the run's chunks that have no result.
    pub missing: Vec<TestId>,
    /// The machines that recorded results, as lanes of the report.
    pub lanes: Lanes,
    /// The machine that gave each of `record.outcomes`, in the same order.
    pub machine_of: Vec<String>,
}

/// The whole run as one record (see [`Collected`]).
pub fn collect(queue: &mut RemoteQueue) -> Result<Collected, QueueError> {
    let mut record = RunRecord::default();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut last: HashMap<(String, String), (usize, Recorded)> = HashMap::new();
    for (key, json) in queue.results()? {
        let recorded: Recorded = serde_json::from_str(&json)
            .map_err(|e| queue.protocol("results", format!("{}: {e}", key.test)))?;
        let test = (
            key.test.binary_id.as_str().to_owned(),
            key.test.name.clone(),
        );
        let attempt = key.attempt.number();
        match last.get_mut(&test) {
            Some(slot) if slot.0 < attempt => *slot = (attempt, recorded),
            Some(_) => {}
            None => {
                last.insert(test.clone(), (attempt, recorded));
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
    let to_run = expected.len();
    // Ignored tests are in no chunk; what ran was in one.
    for r in last.values().map(|(_, r)| r) {
        if matches!(r.outcome.status, TestStatus::Ignored) {
            let o = &r.outcome;
            expected.insert((o.binary_id.as_str().to_owned(), o.name.clone()));
        }
    }
    for (binary, name) in &expected {
        if !seen.contains(&(binary.clone(), name.clone())) {
            missing.push(TestId::new(BinaryId::new(binary), name));
        }
    }
    // The machines that ran tests (the seeder's record of the ignored ones ran none).
    let lanes = Lanes::of(
        (last.values().map(|(_, r)| r))
            .filter(|r| r.outcome.worker.is_some())
            .map(|r| &r.run),
    );
    let mut placed: Vec<(String, TestOutcome)> = last
        .into_values()
        .map(|(_, mut r)| {
            lanes.place(&r.run.machine, &mut r.outcome);
            (r.run.machine, r.outcome)
        })
        .collect();
    placed.sort_by_key(|(_, o)| o.started);
    let (machine_of, outcomes) = placed.into_iter().unzip();
    record.outcomes = outcomes;
    record.to_run = to_run;
    record.workers = lanes.workers();
    Ok(Collected {
        record,
        missing,
        lanes,
        machine_of,
    })
}
