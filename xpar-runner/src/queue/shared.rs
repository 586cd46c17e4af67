//! A work queue several machines share, as one machine's dispatcher sees it: chunks are
//! reserved from the shared queue under a lease as workers free up, each test's final
//! outcome is recorded there, and a chunk is acknowledged once every test of it has one.
//! What the shared queue is (Redis, or the in-memory one of the tests) is behind
//! [`SharedQueue`]; this module only maps its chunks to this machine's test list.
//!
//! Retries run on the machine that ran the first attempt (its chunk stays leased until
//! the last attempt is in), so a test's attempts are one machine's and a machine that
//! dies takes its whole chunk back to the queue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::locks::{Locks, Running};
use super::recorded::MachineRun;
use super::remote::RemoteQueue;
use super::types::{Ack, ChunkId, Reserve, ResultRecord, Token};
use crate::discover::{BinaryContent, TestList};
use crate::errors::QueueError;
use crate::ids::{Attempt, TestKey};
use crate::plan::{Chunk, CostModel, Next, UnitTests, WorkQueue};
use crate::report::{worker_name, TestOutcome};
use xpar_metadata::queue::{ChunkSpec, ChunkTests};

/// What one machine asks of the queue it shares with the others ([`RemoteQueue`] on
/// Redis; an in-memory one in the tests).
pub trait SharedQueue {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The next chunk for `worker` (a label the queue's status shows).
    fn reserve(&mut self, worker: &str) -> Result<Reserve, Self::Error>;
    /// Records the results of a leased chunk and ends its lease; [`Ack::Stale`] when the
    /// lease was no longer this machine's (it expired and the chunk went to another):
    /// then nothing is recorded.
    fn acknowledge(
        &mut self,
        id: ChunkId,
        token: Token,
        results: &[ResultRecord],
    ) -> Result<Ack, Self::Error>;
    /// Adds `n` failures to the run's count; the count across every machine.
    fn add_failures(&mut self, n: u64) -> Result<u64, Self::Error>;
    /// Stops the run on every machine, saying why; the first reason given stands.
    fn cancel(&mut self, reason: &str) -> Result<String, Self::Error>;
    /// Why the run was stopped, if it was.
    fn cancelled(&mut self) -> Result<Option<String>, Self::Error>;
    /// Takes a serial key across machines for `token`, unless another holder has it.
    fn acquire_key(&mut self, key: &str, token: &str) -> Result<bool, Self::Error>;
    /// Frees a serial key `token` holds.
    fn release_key(&mut self, key: &str, token: &str) -> Result<(), Self::Error>;
}

impl SharedQueue for RemoteQueue {
    type Error = QueueError;

    fn reserve(&mut self, worker: &str) -> Result<Reserve, QueueError> {
        RemoteQueue::reserve(self, worker)
    }

    fn acknowledge(
        &mut self,
        id: ChunkId,
        token: Token,
        results: &[ResultRecord],
    ) -> Result<Ack, QueueError> {
        // Retries run on this machine (see the module's doc): none to queue.
        RemoteQueue::acknowledge(self, id, token, results, &[])
    }

    fn add_failures(&mut self, n: u64) -> Result<u64, QueueError> {
        RemoteQueue::add_failures(self, n)
    }

    fn cancel(&mut self, reason: &str) -> Result<String, QueueError> {
        RemoteQueue::cancel(self, reason)
    }

    fn cancelled(&mut self) -> Result<Option<String>, QueueError> {
        RemoteQueue::cancelled(self)
    }

    fn acquire_key(&mut self, key: &str, token: &str) -> Result<bool, QueueError> {
        let lease = self.lease();
        RemoteQueue::acquire_key(self, key, token, lease)
    }

    fn release_key(&mut self, key: &str, token: &str) -> Result<(), QueueError> {
        RemoteQueue::release_key(self, key, token).map(drop)
    }
}

/// A chunk this machine reserved: acknowledging it needs its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    pub id: ChunkId,
    pub token: Token,
}

/// The tests of `list` that hold anything while they run.
fn marked_tests(list: &TestList) -> HashMap<TestKey, Locks> {
    let mut out = HashMap::new();
    for (b, lb) in list.binaries.iter().enumerate() {
        if let BinaryContent::Tests(tests) = &lb.content {
            for t in tests {
                let l = Locks::of(&t.markers);
                if !l.is_free() {
                    out.insert(TestKey::new(b, &t.name), l);
                }
            }
        }
    }
    out
}

/// What this machine holds of a chunk it reserved.
struct Held {
    lease: Lease,
    /// Tests of it with no final outcome yet.
    pending: HashSet<TestKey>,
    results: Vec<ResultRecord>,
}

/// The leases this machine holds, for a heartbeat to extend, and the first error the
/// shared queue gave (the run then stops, and ends with it).
#[derive(Clone, Default)]
pub struct SharedState {
    pub leases: Arc<Mutex<Vec<Lease>>>,
    /// Serial keys held across machines: (key, token).
    pub keys: Arc<Mutex<Vec<(String, String)>>>,
    pub error: Arc<Mutex<Option<String>>>,
    /// Why the shared run was stopped (on any machine), once this machine heard of it.
    pub stopped: Arc<Mutex<Option<String>>>,
}

/// [`WorkQueue`] over a [`SharedQueue`].
pub struct SharedWorkQueue<Q: SharedQueue> {
    queue: Q,
    workers: usize,
    tests_total: usize,
    /// How often parked workers ask again: see [`waiting_poll`].
    poll: Duration,
    /// How often the run's cancellation is looked at.
    cancel_poll: Duration,
    binaries: HashMap<String, usize>,
    /// The chunk each test belongs to, by lease id.
    held: HashMap<ChunkId, Held>,
    chunk_of: HashMap<TestKey, ChunkId>,
    /// Retries of tests this machine ran, with the worker they must run on.
    retries: VecDeque<(Chunk, Option<usize>)>,
    failures: usize,
    state: SharedState,
    /// When the shared queue was last asked whether the run stopped.
    checked: Option<Instant>,
    /// Why the run was cancelled, once a reservation said so.
    stopped: Option<String>,
    /// What marked tests hold while they run (unmarked ones are not in it).
    test_locks: HashMap<TestKey, Locks>,
    running: Running,
    /// Reserved chunks waiting for what they hold to be free.
    blocked: VecDeque<(Chunk, Locks)>,
    /// The serial keys each worker's chunk holds across machines: (key, token).
    shared_keys: HashMap<usize, Vec<(String, String)>>,
    /// Tells this machine's key holders apart from other machines'.
    machine: String,
    /// This machine as its results name it.
    run: MachineRun,
    /// Whether a worker asked yet (the test phase started).
    asked: bool,
    /// When the queue last said to wait.
    waited: Option<Instant>,
}

impl<Q: SharedQueue> SharedWorkQueue<Q> {
    /// `tests_total`: the run's tests on every machine; `poll`: how often the run's
    /// cancellation is looked at, and the longest a waiting worker waits to ask again.
    pub fn new(
        queue: Q,
        list: &TestList,
        workers: usize,
        tests_total: usize,
        poll: Duration,
    ) -> Self {
        SharedWorkQueue {
            queue,
            workers,
            tests_total,
            poll,
            cancel_poll: poll,
            binaries: (list.binaries.iter().enumerate())
                .map(|(i, b)| (b.binary.id.as_str().to_owned(), i))
                .collect(),
            held: HashMap::new(),
            chunk_of: HashMap::new(),
            retries: VecDeque::new(),
            failures: 0,
            state: SharedState::default(),
            checked: None,
            stopped: None,
            test_locks: marked_tests(list),
            running: Running::new(workers),
            blocked: VecDeque::new(),
            shared_keys: HashMap::new(),
            machine: format!("{}", std::process::id()),
            run: MachineRun::starting_now(&format!("{}", std::process::id()), workers),
            asked: false,
            waited: None,
        }
    }

    fn heard_stop(&self, why: &str) {
        let mut stopped = self.state.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.get_or_insert_with(|| why.to_owned());
    }

    /// Names this machine's key holders (`machine` is its name in the run).
    pub fn with_machine(mut self, machine: &str) -> Self {
        machine.clone_into(&mut self.machine);
        machine.clone_into(&mut self.run.machine);
        self
    }

    /// What a chunk holds: what each of its tests does.
    fn locks_of(&self, chunk: &Chunk) -> Locks {
        let mut l = Locks::free();
        if let UnitTests::Named(names) = &chunk.tests {
            for n in names {
                if let Some(t) = self.test_locks.get(&TestKey::new(chunk.binary, n)) {
                    l.add(t);
                }
            }
        }
        l
    }

    /// Starts `chunk` on `worker` if what it holds is free here and across machines.
    fn try_start(&mut self, worker: usize, locks: &Locks) -> bool {
        if !self.running.admits(locks) {
            return false;
        }
        let token = format!("{}|{worker}", self.machine);
        let mut taken: Vec<(String, String)> = Vec::new();
        for key in locks.shared_keys() {
            match self.queue.acquire_key(&key, &token) {
                Ok(true) => taken.push((key, token.clone())),
                Ok(false) => {
                    self.release(&taken);
                    return false;
                }
                Err(e) => {
                    self.fail(e.to_string());
                    self.release(&taken);
                    return false;
                }
            }
        }
        self.running.start(worker, locks.clone());
        if !taken.is_empty() {
            self.shared_keys.insert(worker, taken);
            self.sync_keys();
        }
        true
    }

    fn release(&mut self, keys: &[(String, String)]) {
        for (key, token) in keys {
            if let Err(e) = self.queue.release_key(key, token) {
                self.fail(e.to_string());
            }
        }
    }

    /// `worker`'s chunk is over: what it held is free again.
    fn finish(&mut self, worker: usize) {
        self.running.finish(worker);
        if let Some(keys) = self.shared_keys.remove(&worker) {
            self.release(&keys);
            self.sync_keys();
        }
    }

    fn sync_keys(&self) {
        let mut keys = self.state.keys.lock().unwrap_or_else(|e| e.into_inner());
        *keys = self.shared_keys.values().flatten().cloned().collect();
    }

    /// The first blocked chunk that can start on `worker` now.
    fn unblock(&mut self, worker: usize) -> Option<Chunk> {
        for i in 0..self.blocked.len() {
            let locks = self.blocked[i].1.clone();
            if self.try_start(worker, &locks) {
                return self.blocked.remove(i).map(|(c, _)| c);
            }
        }
        None
    }

    /// The leases held and the first error, shared with whoever needs them while the run
    /// goes on (a heartbeat, the session at the end).
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    fn fail(&self, why: String) {
        let mut error = self.state.error.lock().unwrap_or_else(|e| e.into_inner());
        error.get_or_insert(why);
    }

    fn failed(&self) -> bool {
        self.state
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    fn sync_leases(&self) {
        let mut leases = self.state.leases.lock().unwrap_or_else(|e| e.into_inner());
        *leases = self.held.values().map(|h| h.lease).collect();
    }

    /// The local chunk of `spec`, once held; `None` (and the run's error) for a binary
    /// this build does not have.
    fn hold(&mut self, lease: Lease, spec: ChunkSpec) -> Option<Chunk> {
        let Some(&binary) = self.binaries.get(spec.binary_id.as_str()) else {
            self.fail(format!(
                "the shared queue holds tests of `{}`, a binary this build does not have",
                spec.binary_id
            ));
            return None;
        };
        let names = match &spec.tests {
            ChunkTests::Named(names) => names.clone(),
            ChunkTests::Opaque => vec![spec.binary_id.as_str().to_owned()],
        };
        let pending: HashSet<TestKey> = names.iter().map(|n| TestKey::new(binary, n)).collect();
        for key in &pending {
            self.chunk_of.insert(key.clone(), lease.id);
        }
        self.held.insert(
            lease.id,
            Held {
                lease,
                pending,
                results: Vec::new(),
            },
        );
        self.sync_leases();
        Some(Chunk {
            binary,
            tests: match spec.tests {
                ChunkTests::Named(names) => UnitTests::Named(names),
                ChunkTests::Opaque => UnitTests::Opaque,
            },
        })
    }

    /// Acknowledges the chunk `id` once none of its tests is pending.
    fn maybe_acknowledge(&mut self, id: ChunkId) {
        if !self.held.get(&id).is_some_and(|h| h.pending.is_empty()) {
            return;
        }
        let Some(held) = self.held.remove(&id) else {
            return;
        };
        self.sync_leases();
        // `Stale`: the lease expired and the chunk went to another machine, whose
        // results are the ones recorded. Nothing to do here.
        let (id, token) = (held.lease.id, held.lease.token);
        if let Err(e) = self.queue.acknowledge(id, token, &held.results) {
            self.fail(e.to_string());
        }
        // The run moved on (it may even be over): ask again rather than take the last
        // answer.
        self.waited = None;
    }
}

impl<Q: SharedQueue> WorkQueue for SharedWorkQueue<Q> {
    fn workers(&self) -> usize {
        self.workers
    }

    fn remaining(&self) -> usize {
        self.tests_total
    }

    fn next(&mut self, worker: usize, _cost: &CostModel) -> Next {
        // The test phase starts with the first ask: the machine's results count from here.
        if !self.asked {
            self.asked = true;
            self.run = MachineRun::starting_now(&self.run.machine, self.workers);
        }
        // Asking again: its last chunk is over.
        self.finish(worker);
        if let Some(i) = (self.retries.iter()).position(|(_, w)| w.is_none_or(|w| w == worker)) {
            let locks = self.locks_of(&self.retries[i].0);
            if self.try_start(worker, &locks) {
                if let Some((chunk, _)) = self.retries.remove(i) {
                    return Next::Run(chunk);
                }
            }
        }
        if let Some(chunk) = self.unblock(worker) {
            return Next::Run(chunk);
        }
        // Reserving more than a chunk per worker ahead of what can start would keep
        // work from other machines.
        if self.failed() || self.blocked.len() >= self.workers {
            return if self.failed() {
                Next::Done
            } else {
                Next::Wait
            };
        }
        // The queue said wait a moment ago: the machine's other parked workers take that
        // answer rather than ask again each, so a machine asks once per poll interval.
        if self.waited.is_some_and(|at| at.elapsed() < self.poll) {
            return Next::Wait;
        }
        self.waited = None;
        match self.queue.reserve(&worker_name(worker)) {
            Ok(Reserve::Chunk { id, spec, token }) => match self.hold(Lease { id, token }, spec) {
                Some(chunk) => {
                    let locks = self.locks_of(&chunk);
                    if self.try_start(worker, &locks) {
                        Next::Run(chunk)
                    } else {
                        self.blocked.push_back((chunk, locks));
                        Next::Wait
                    }
                }
                None => Next::Done,
            },
            Ok(Reserve::Wait { machines, .. }) => {
                self.poll = waiting_poll(machines);
                self.waited = Some(Instant::now());
                Next::Wait
            }
            // This machine's own retries may still come.
            Ok(Reserve::Done) if !self.held.is_empty() => Next::Wait,
            Ok(Reserve::Done) => Next::Done,
            Ok(Reserve::Cancelled { reason }) => {
                self.heard_stop(&reason);
                self.stopped = Some(reason);
                Next::Done
            }
            Err(e) => {
                self.fail(e.to_string());
                Next::Done
            }
        }
    }

    fn push_retry(
        &mut self,
        test: &TestKey,
        _attempt: Attempt,
        opaque: bool,
        worker: Option<usize>,
    ) {
        let tests = if opaque {
            UnitTests::Opaque
        } else {
            UnitTests::Named(vec![test.name.clone()])
        };
        let chunk = Chunk {
            binary: test.binary,
            tests,
        };
        self.retries.push_back((chunk, worker));
    }

    fn take_binary(&mut self, binary: usize) -> Vec<Chunk> {
        let (taken, kept) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(c, _)| c.binary == binary);
        self.retries = kept;
        taken.into_iter().map(|(c, _)| c).collect()
    }

    fn remove_test(&mut self, test: &TestKey) {
        self.retries.retain(|(c, _)| {
            !(c.binary == test.binary && c.tests == UnitTests::Named(vec![test.name.clone()]))
        });
    }

    fn drain(&mut self) -> Vec<Chunk> {
        let blocked = std::mem::take(&mut self.blocked)
            .into_iter()
            .map(|(c, _)| c);
        std::mem::take(&mut self.retries)
            .into_iter()
            .map(|(c, _)| c)
            .chain(blocked)
            .collect()
    }

    fn reported(&mut self, outcome: &TestOutcome) {
        let Some(&binary) = self.binaries.get(outcome.binary_id.as_str()) else {
            return;
        };
        let key = TestKey::new(binary, &outcome.name);
        let Some(id) = self.chunk_of.remove(&key) else {
            // Not a test of a shared chunk (ignored, filtered out): nothing to record.
            return;
        };
        if outcome.status.is_failure() {
            match self.queue.add_failures(1) {
                Ok(total) => self.failures = self.failures.max(total as usize),
                Err(e) => self.fail(e.to_string()),
            }
        }
        if let Some(held) = self.held.get_mut(&id) {
            held.pending.remove(&key);
            // Reported outcomes are final: failed attempts that run again are held back
            // by the dispatcher, and come with the last one.
            held.results.push(self.run.record(outcome, true));
        }
        self.maybe_acknowledge(id);
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(self.poll)
    }

    fn failures(&mut self, here: usize) -> usize {
        self.failures.max(here)
    }

    fn stopped_elsewhere(&mut self) -> Option<String> {
        if let Some(why) = self
            .state
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Some(why);
        }
        // Asked once a poll interval, not on every tick of the dispatcher.
        let now = Instant::now();
        if self
            .checked
            .is_some_and(|at| now.duration_since(at) < self.cancel_poll)
        {
            return None;
        }
        self.checked = Some(now);
        if let Some(why) = &self.stopped {
            return Some(why.clone());
        }
        match self.queue.cancelled() {
            Ok(why) => {
                if let Some(why) = &why {
                    self.heard_stop(why);
                }
                why
            }
            Err(e) => {
                let why = e.to_string();
                self.fail(why.clone());
                Some(why)
            }
        }
    }

    fn stopping(&mut self, reason: &str) {
        self.heard_stop(reason);
        if let Err(e) = self.queue.cancel(reason) {
            self.fail(e.to_string());
        }
    }
}

/// How long parked workers wait before asking again, when `machines` machines of the run
/// are alive and ask as well: a millisecond per machine, and one ask per machine per
/// interval (its other parked workers take the answer), so the fleet's waiting machines
/// together ask about a thousand times a second at most, between 5 ms (on a small fleet
/// a chunk put back, or the run's end, is seen within a few milliseconds) and 250 ms.
pub(crate) fn waiting_poll(machines: usize) -> Duration {
    let machines = u32::try_from(machines).unwrap_or(u32::MAX);
    Duration::from_millis(1)
        .saturating_mul(machines)
        .clamp(Duration::from_millis(5), Duration::from_millis(250))
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
