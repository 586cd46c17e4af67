//! The dispatcher: one loop owns the run state (the work queue, the cost model, counts,
//! cancellation); each worker thread owns only the process it is running. They talk by
//! messages. The dispatcher only carries the plan out: which worker gets what, and when a
//! dry worker steals, is the work queue's decision (the run's `Schedule`, or any other
//! [`WorkQueue`]). What it needs beyond its messages (the time, ending process groups)
//! it asks of a [`Host`], so its decisions can be tested without processes.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::cancel::{CancelHandle, CancelReason};
use super::messages::{ToWorker, WorkerMsg};
use super::options::ExecuteOptions;
use super::retry;
use super::watchdog::{self, Action, KillReason, Watchdog};
use crate::discover::{BinaryContent, BinaryId, TestList};
use crate::ids::{Attempt, TestKey};
use crate::plan::{BatchCost, Chunk, CostModel, Next, ProcessCosts, UnitTests, WorkQueue};
use crate::report::{Failure, RunEvent, TestOutcome, TestStatus};

/// How often the dispatcher looks at the clock while timers run.
const TICK: Duration = Duration::from_millis(20);

/// What the dispatcher asks of the machine it runs on.
pub trait Host {
    fn now(&self) -> Instant;
    /// Sends `signal` to the process group `pid` leads.
    fn kill_group(&self, pid: u32, signal: i32);
}

/// The machine itself.
pub struct RealHost;

impl Host for RealHost {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn kill_group(&self, pid: u32, signal: i32) {
        crate::process::os::kill_group(pid, signal);
    }
}

/// The run state the dispatcher loop owns.
pub struct Dispatcher<'a> {
    list: &'a TestList,
    opts: &'a ExecuteOptions,
    queue: &'a mut dyn WorkQueue,
    cost: CostModel,
    cancel: &'a CancelHandle,
    host: &'a dyn Host,
    watchdog: Watchdog,
    to_workers: Vec<mpsc::Sender<ToWorker>>,
    /// Workers told to wait (for slots that `#[serial]` or `#[resource_intensive]` tests
    /// hold); asked again whenever another worker finishes a chunk.
    parked: Vec<usize>,
    exited: usize,
    failures: usize,
    signal: Option<i32>,
    start: Instant,
    binary_index: HashMap<BinaryId, usize>,
    /// The tests with a time limit or retries of their own (a config file's overrides).
    own_settings: HashMap<TestKey, OwnSettings>,
    /// Failed attempts of tests that will run again, oldest first.
    failed_attempts: HashMap<RetryKey, Vec<TestOutcome>>,
    /// Retries waiting for their delay to pass.
    due: Vec<(Instant, RetryKey)>,
    /// (passes, failures) per test, for `--stop-stable`.
    tally: HashMap<TestKey, (usize, usize)>,
    /// Test processes that died under a test (each one replaced by a fresh process).
    crashes: usize,
    /// Binaries that could not start.
    broken: Vec<usize>,
    /// Set once every running process is being ended (`--maxfail N:immediate`, a
    /// signal, `--run-timeout`): a process that starts after that is ended as well.
    kill_new: Option<(KillReason, i32)>,
    /// When the parked workers last asked a shared queue again.
    polled: Instant,
}

/// What a test has of its own instead of `--timeout` and `--retries`.
#[derive(Clone, Copy, Debug)]
struct OwnSettings {
    timeout: Option<Duration>,
    retries: Option<usize>,
}

/// The tests of `list` whose markers carry a time limit or retries of their own.
fn own_settings(list: &TestList) -> HashMap<TestKey, OwnSettings> {
    let mut own = HashMap::new();
    for (i, b) in list.binaries.iter().enumerate() {
        let BinaryContent::Tests(tests) = &b.content else {
            // An opaque binary's one test: a suite's `timeout`.
            if let Some(timeout) = b.binary.timeout {
                let settings = OwnSettings {
                    timeout: Some(timeout),
                    retries: None,
                };
                own.insert(TestKey::new(i, b.binary.id.as_str()), settings);
            }
            continue;
        };
        for t in tests {
            let (timeout, retries) = (t.markers.timeout, t.markers.retries);
            if timeout.is_some() || retries.is_some() {
                own.insert(TestKey::new(i, &t.name), OwnSettings { timeout, retries });
            }
        }
    }
    own
}

/// A test to retry, and the worker it must run on under `each` (where every worker
/// runs every test, and each run has attempts of its own).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RetryKey {
    test: TestKey,
    worker: Option<usize>,
}

impl<'a> Dispatcher<'a> {
    pub fn new(
        list: &'a TestList,
        opts: &'a ExecuteOptions,
        queue: &'a mut dyn WorkQueue,
        (cancel, host): (&'a CancelHandle, &'a dyn Host),
        to_workers: Vec<mpsc::Sender<ToWorker>>,
        start: Instant,
    ) -> Self {
        let binaries = list.binaries.iter().enumerate();
        Dispatcher {
            list,
            opts,
            queue,
            cost: CostModel::seeded(
                binaries.clone().map(|(i, b)| (i, b.binary.id.as_str())),
                &opts.process_costs,
            ),
            cancel,
            host,
            watchdog: Watchdog::new(to_workers.len(), opts.timeouts),
            to_workers,
            parked: Vec::new(),
            exited: 0,
            failures: 0,
            signal: None,
            start,
            binary_index: binaries.map(|(i, b)| (b.binary.id.clone(), i)).collect(),
            own_settings: own_settings(list),
            failed_attempts: HashMap::new(),
            due: Vec::new(),
            tally: HashMap::new(),
            crashes: 0,
            broken: Vec::new(),
            kill_new: None,
            polled: start,
        }
    }

    /// Handles the workers' messages until every worker has exited, looking at the clock
    /// between them while timers run.
    pub fn run(
        &mut self,
        from_workers: &mpsc::Receiver<WorkerMsg>,
        sink: &mut dyn FnMut(RunEvent),
    ) {
        while self.exited < self.to_workers.len() {
            let ticking = !self.due.is_empty()
                || self.watchdog.needs_ticks()
                || self.queue.poll_interval().is_some();
            let msg = if ticking || self.opts.run_timeout.is_some() {
                // Parked workers of a shared queue ask again as often as it says.
                let tick = match self.queue.poll_interval() {
                    Some(poll) if !self.parked.is_empty() => poll.min(TICK),
                    _ => TICK,
                };
                match from_workers.recv_timeout(tick) {
                    Ok(m) => Some(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match from_workers.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                }
            };
            if let Some(msg) = msg {
                self.handle(msg, sink);
            }
            self.tick(sink);
        }
    }

    /// The signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// `earlier` process costs with what this run measured in place (`id` names a
    /// binary by its index).
    pub fn learned(
        &self,
        id: impl Fn(usize) -> Option<String>,
        earlier: ProcessCosts,
    ) -> ProcessCosts {
        self.cost.learned(id, earlier)
    }
}

impl Dispatcher<'_> {
    /// Gives `worker` its next chunk; false when it must wait.
    fn answer(&mut self, worker: usize) -> bool {
        let next = if self.cancel.stopped() {
            Next::Done
        } else {
            self.queue.next(worker, &self.cost)
        };
        // A worker that is gone has nothing left to receive.
        match next {
            Next::Run(chunk) => drop(self.to_workers[worker].send(ToWorker::Run(chunk))),
            // Retries still waiting for their delay need a worker to run them.
            Next::Done if !self.due.is_empty() && !self.cancel.stopped() => return false,
            Next::Done => drop(self.to_workers[worker].send(ToWorker::Stop)),
            Next::Wait => return false,
        }
        true
    }

    /// The time limit `test` has of its own, if any.
    fn own_timeout(&self, test: &crate::ids::TestId) -> Option<Duration> {
        if self.own_settings.is_empty() {
            return None;
        }
        let binary = *self.binary_index.get(&test.binary_id)?;
        self.own_settings
            .get(&TestKey::new(binary, test.name.as_str()))?
            .timeout
    }

    /// The test `o` is a result of, if it is one of this run's binaries.
    fn key_of(&self, o: &TestOutcome) -> Option<TestKey> {
        let binary = *self.binary_index.get(&o.binary_id)?;
        Some(TestKey::new(binary, &o.name))
    }

    fn retry_key(&self, o: &TestOutcome) -> Option<RetryKey> {
        let worker = if self.opts.pin_retries {
            o.worker
        } else {
            None
        };
        Some(RetryKey {
            test: self.key_of(o)?,
            worker,
        })
    }

    /// Holds a failed attempt back when the test is to run again; otherwise gives the
    /// final outcome its earlier attempts. Returns the outcome to report, if any.
    fn settle_attempts(
        &mut self,
        mut outcome: TestOutcome,
        sink: &mut dyn FnMut(RunEvent),
    ) -> Option<TestOutcome> {
        // Without retries there is nothing to hold back or attach: skip the bookkeeping
        // on every result.
        if self.opts.retry.retries == 0 && self.own_settings.values().all(|s| s.retries.is_none()) {
            return Some(outcome);
        }
        let Some(key) = self.retry_key(&outcome) else {
            return Some(outcome);
        };
        let retries = self
            .own_settings
            .get(&key.test)
            .and_then(|s| s.retries)
            .unwrap_or(self.opts.retry.retries);
        let mut prior = self.failed_attempts.remove(&key).unwrap_or_default();
        let attempt = Attempt::after(prior.len());
        outcome.attempt = attempt;
        if !self.cancel.stopped()
            && self
                .opts
                .retry
                .should_retry_up_to(retries, attempt, &outcome)
        {
            let delay = self.opts.retry.delay(attempt, retry::random_unit());
            sink(RunEvent::TestRetrying {
                outcome: outcome.clone(),
                attempt: attempt.number(),
                delay,
            });
            prior.push(outcome);
            self.failed_attempts.insert(key.clone(), prior);
            self.due.push((self.host.now() + delay, key));
            return None;
        }
        if matches!(outcome.status, TestStatus::NotRun(_)) {
            // A retry the run stopped before: the last real attempt is the result.
            if let Some(mut last) = prior.pop() {
                last.previous = prior;
                return Some(last);
            }
        }
        outcome.previous = prior;
        Some(outcome)
    }

    /// Reports what to do with a final outcome: count a failure, maybe stop the run.
    fn report(&mut self, outcome: TestOutcome, sink: &mut dyn FnMut(RunEvent)) {
        let failed = outcome.status.is_failure();
        let crashed = outcome.worker.is_some()
            && matches!(
                outcome.status,
                TestStatus::Failed(
                    Failure::Signal { .. } | Failure::Exited { .. } | Failure::CrashedAfter { .. }
                )
            );
        if crashed {
            self.crashes += 1;
            if self.crashes > self.opts.max_crashes && !self.cancel.stopped() {
                let binary_id = outcome.binary_id.clone();
                let crashes = self.crashes;
                sink(RunEvent::TooManyCrashes {
                    binary_id: binary_id.clone(),
                    crashes,
                });
                let reason = CancelReason::TooManyCrashes {
                    crashes,
                    last: binary_id,
                    max: self.opts.max_crashes,
                };
                self.cancel_run(reason, sink);
            }
        }
        if let Some(k) = self.opts.stop_stable {
            self.tally_stable(k, &outcome, failed);
        }
        self.queue.reported(&outcome);
        sink(RunEvent::TestFinished(outcome));
        self.report_skipped(sink);
        if !failed {
            return;
        }
        self.failures += 1;
        let failures = self.queue.failures(self.failures);
        if let Some(m) = self.opts.max_fail.filter(|m| failures >= m.count) {
            let reason = CancelReason::MaxFail {
                count: m.count,
                immediate: m.immediate,
            };
            self.cancel_run(reason, sink);
        }
    }

    /// `--stop-stable K`: drops the queued runs of a test once it passed `k` times and
    /// never failed.
    fn tally_stable(&mut self, k: usize, outcome: &TestOutcome, failed: bool) {
        let Some(test) = self.key_of(outcome) else {
            return;
        };
        let t = self.tally.entry(test.clone()).or_default();
        if outcome.status == TestStatus::Passed {
            t.0 += 1;
        } else if failed {
            t.1 += 1;
        }
        if t.0 >= k && t.1 == 0 {
            self.queue.remove_test(&test);
        }
    }

    fn handle(&mut self, msg: WorkerMsg, sink: &mut dyn FnMut(RunEvent)) {
        match msg {
            WorkerMsg::Many(msgs) => {
                for m in msgs {
                    self.handle(m, sink);
                }
            }
            WorkerMsg::Ready { worker, costs } => self.ready(worker, costs),
            WorkerMsg::Spawned { worker, pid } => {
                self.watchdog.spawned(worker, pid);
                // Started before it heard of a stop that ends every process: end it too.
                if let Some((reason, signal)) = self.kill_new.clone() {
                    let actions = self.watchdog.kill(worker, reason, signal, self.host.now());
                    self.act(actions.into_iter().collect(), sink);
                }
            }
            WorkerMsg::Started { worker, test } => {
                let limit = self.own_timeout(&test);
                self.watchdog
                    .started_with_limit(worker, &test, self.host.now(), limit);
                sink(RunEvent::TestStarted {
                    binary_id: test.binary_id,
                    name: test.name,
                    worker,
                });
            }
            WorkerMsg::Finished { outcome } => self.finished(outcome, sink),
            WorkerMsg::Exited => self.exited += 1,
            WorkerMsg::WasKilled { worker } => {
                let killed = self.cancel.stopped() || self.watchdog.is_killing(worker);
                let _ = self.to_workers[worker].send(ToWorker::Killed(killed));
            }
            WorkerMsg::Notice {
                worker,
                binary_id,
                test,
                notice,
            } => sink(RunEvent::ProcessNotice {
                binary_id,
                worker,
                test,
                notice,
            }),
            WorkerMsg::MayGoOn { worker } => {
                let go_on = !self.cancel.stopped();
                let _ = self.to_workers[worker].send(ToWorker::GoOn(go_on));
            }
            WorkerMsg::BinaryBroken { binary, reason } => self.binary_broken(binary, reason, sink),
            WorkerMsg::Cancel(CancelReason::Signal(sig)) => self.interrupted(sig, sink),
            WorkerMsg::Cancel(reason) => self.cancel_run(reason, sink),
        }
    }

    /// A worker finished its chunk (having spent `costs`): gives it the next, and asks
    /// again for the parked workers, whose slots may be free now.
    fn ready(&mut self, worker: usize, costs: Vec<BatchCost>) {
        for c in costs {
            self.cost.record(c);
        }
        self.watchdog.idle(worker);
        if !self.answer(worker) {
            self.parked.push(worker);
        }
        let parked = std::mem::take(&mut self.parked);
        for w in parked {
            if w == worker || !self.answer(w) {
                self.parked.push(w);
            }
        }
    }

    /// A test's result from its worker: a kill the dispatcher made is its verdict; then
    /// it is held back for a retry or reported.
    fn finished(&mut self, mut outcome: TestOutcome, sink: &mut dyn FnMut(RunEvent)) {
        if let Some(w) = outcome.worker {
            let crashed = is_crash(&outcome.status);
            if let Some(reason) = self.watchdog.finished(w, &outcome.name, crashed) {
                outcome.status = killed_status(outcome.status, &reason, outcome.duration);
            }
        }
        if let Some(outcome) = self.settle_attempts(outcome, sink) {
            self.report(outcome, sink);
        }
    }

    /// Work the queue gave up (a suite whose dependency did not pass): not run, saying
    /// why. Reported, it may give up more (that suite's own dependents).
    fn report_skipped(&mut self, sink: &mut dyn FnMut(RunEvent)) {
        for (chunk, why) in self.queue.take_skipped() {
            let (binary_id, names) = chunk_tests(self.list, chunk);
            for name in names {
                let status = TestStatus::NotRun(why.clone());
                self.report(
                    TestOutcome::not_started(binary_id.clone(), name, status),
                    sink,
                );
            }
        }
    }

    fn binary_broken(&mut self, binary: usize, reason: String, sink: &mut dyn FnMut(RunEvent)) {
        // Once the run is stopping, a process may die before its first test
        // because it was killed, not because the binary is broken.
        if self.broken.contains(&binary) || self.cancel.stopped() {
            return;
        }
        self.broken.push(binary);
        let binary_id = self.list.binaries[binary].binary.id.clone();
        sink(RunEvent::BinaryBroken { binary_id, reason });
        // Its queued tests would only crash the same way: they fail unrun.
        for chunk in self.queue.take_binary(binary) {
            let mut events = Vec::new();
            report_not_run(self.list, chunk, self.cancel, &mut |e| events.push(e));
            for e in events {
                if let RunEvent::TestFinished(mut o) = e {
                    o.status = TestStatus::Failed(Failure::BinaryBroken);
                    self.report(o, sink);
                }
            }
        }
    }

    /// The runner received `sig`: the run stops, and the tests' processes get it too; a
    /// second signal kills them.
    fn interrupted(&mut self, sig: i32, sink: &mut dyn FnMut(RunEvent)) {
        if self.signal.is_some() {
            // A second signal: no more grace.
            self.kill_all(KillReason::Signal(sig), watchdog::SIGKILL, sink);
            return;
        }
        self.signal = Some(sig);
        sink(RunEvent::Stopping { signal: sig });
        self.cancel_run(CancelReason::Signal(sig), sink);
    }

    /// Every stop comes here, whoever asked for it: the run stops for `reason` (unless
    /// it had stopped already), and the tests still running end as `reason` asks.
    fn cancel_run(&mut self, reason: CancelReason, sink: &mut dyn FnMut(RunEvent)) {
        let kill = reason.kill();
        self.stop(reason, sink);
        if let Some((why, signal)) = kill {
            self.kill_all(why, signal, sink);
        }
    }

    /// Stops scheduling: what was never handed out is reported not run.
    fn stop(&mut self, reason: CancelReason, sink: &mut dyn FnMut(RunEvent)) {
        if !self.cancel.stop(reason.clone()) {
            return;
        }
        // `--maxfail` counts every machine's failures: reached, it stops them all. (A
        // signal or a timeout stops this machine only; its leases go back to the
        // others.)
        if matches!(reason, CancelReason::MaxFail { .. }) {
            self.queue.stopping(&reason.to_string());
        }
        // The workers hear it as a message, whatever they are doing.
        for tx in &self.to_workers {
            let _ = tx.send(ToWorker::Stopped(reason.clone()));
        }
        // Retries that will not run now: their last attempt is the result.
        for (_, key) in std::mem::take(&mut self.due) {
            if let Some(mut prior) = self.failed_attempts.remove(&key) {
                if let Some(mut last) = prior.pop() {
                    last.previous = prior;
                    sink(RunEvent::TestFinished(last));
                }
            }
        }
        for chunk in self.queue.drain() {
            let mut not_run = Vec::new();
            report_not_run(self.list, chunk, self.cancel, &mut |e| not_run.push(e));
            for e in not_run {
                match e {
                    RunEvent::TestFinished(o) => {
                        if let Some(o) = self.settle_attempts(o, sink) {
                            sink(RunEvent::TestFinished(o));
                        }
                    }
                    other => sink(other),
                }
            }
        }
        let parked = std::mem::take(&mut self.parked);
        for w in parked {
            self.answer(w);
        }
    }

    fn kill_all(&mut self, reason: KillReason, signal: i32, sink: &mut dyn FnMut(RunEvent)) {
        self.kill_new = Some((reason.clone(), signal));
        let actions = self.watchdog.kill_all(reason, signal, self.host.now());
        self.act(actions, sink);
    }

    fn tick(&mut self, sink: &mut dyn FnMut(RunEvent)) {
        let now = self.host.now();
        self.poll_shared(now, sink);
        if self.due.iter().any(|(at, _)| *at <= now) {
            let (ready, waiting) = std::mem::take(&mut self.due)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            self.due = waiting;
            for (_, key) in ready {
                let failed = self.failed_attempts.get(&key).map_or(0, Vec::len);
                let opaque = matches!(
                    self.list.binaries[key.test.binary].content,
                    BinaryContent::Opaque { .. }
                );
                let attempt = Attempt::after(failed);
                self.queue
                    .push_retry(&key.test, attempt, opaque, key.worker);
            }
            let parked = std::mem::take(&mut self.parked);
            for w in parked {
                if !self.answer(w) {
                    self.parked.push(w);
                }
            }
        }
        if let Some(limit) = self.opts.run_timeout {
            if now.duration_since(self.start) >= limit && !self.cancel.stopped() {
                self.cancel_run(CancelReason::RunTimeout(limit), sink);
            }
        }
        let actions = self.watchdog.tick(now);
        self.act(actions, sink);
    }

    /// A queue shared with other machines: stops when the run stopped elsewhere, and
    /// asks again for the parked workers once every poll interval.
    fn poll_shared(&mut self, now: Instant, sink: &mut dyn FnMut(RunEvent)) {
        let Some(every) = self.queue.poll_interval() else {
            return;
        };
        if !self.cancel.stopped() {
            if let Some(why) = self.queue.stopped_elsewhere() {
                self.cancel_run(CancelReason::Elsewhere(why), sink);
            }
        }
        if self.parked.is_empty() || now.duration_since(self.polled) < every {
            return;
        }
        self.polled = now;
        let parked = std::mem::take(&mut self.parked);
        for w in parked {
            if !self.answer(w) {
                self.parked.push(w);
            }
        }
    }

    fn act(&mut self, actions: Vec<Action>, sink: &mut dyn FnMut(RunEvent)) {
        for a in actions {
            match a {
                Action::Signal { pid, signal } => self.host.kill_group(pid, signal),
                Action::Slow {
                    worker,
                    test,
                    elapsed,
                } => sink(RunEvent::TestSlow {
                    binary_id: test.binary_id,
                    name: test.name,
                    worker,
                    elapsed,
                }),
            }
        }
    }
}

/// The test's process ended under it (what a kill looks like from the worker).
/// (An opaque binary's failure is its process's end: a kill shows as one.)
fn is_crash(status: &TestStatus) -> bool {
    matches!(
        status,
        TestStatus::Failed(
            Failure::Signal { .. }
                | Failure::Exited { .. }
                | Failure::NoResult { .. }
                | Failure::OpaqueExit { .. }
        )
    )
}

/// What became of a test whose process the dispatcher killed. A test that got its
/// result in before the kill keeps it.
fn killed_status(status: TestStatus, reason: &KillReason, ran: Duration) -> TestStatus {
    if !is_crash(&status) {
        return status;
    }
    match reason {
        KillReason::Timeout(after) => TestStatus::Failed(Failure::TimedOut {
            after: *after,
            run: false,
        }),
        KillReason::RunTimeout => TestStatus::Failed(Failure::TimedOut {
            after: ran,
            run: true,
        }),
        KillReason::MaxFail => TestStatus::NotRun("killed when --maxfail was reached".into()),
        KillReason::Cancelled => TestStatus::NotRun("killed when the run was cancelled".into()),
        // It ran, so it is not "not run"; nor did it pass: it was cut short.
        KillReason::Signal(sig) => TestStatus::Failed(Failure::Interrupted {
            signal: *sig,
            name: crate::process::os::signal_name(*sig).to_owned(),
        }),
    }
}

/// The binary id and the test names of `chunk` (an opaque binary's one test is named
/// after it).
fn chunk_tests(list: &TestList, chunk: Chunk) -> (BinaryId, Vec<String>) {
    let binary_id = list.binaries[chunk.binary].binary.id.clone();
    let names = match chunk.tests {
        UnitTests::Named(names) => names,
        UnitTests::Opaque => vec![binary_id.to_string()],
    };
    (binary_id, names)
}

fn report_not_run(
    list: &TestList,
    chunk: Chunk,
    cancel: &CancelHandle,
    sink: &mut dyn FnMut(RunEvent),
) {
    let (binary_id, names) = chunk_tests(list, chunk);
    for name in names {
        sink(RunEvent::TestFinished(TestOutcome::not_started(
            binary_id.clone(),
            name,
            cancel.not_run(),
        )));
    }
}

#[cfg(test)]
#[path = "dispatcher_tests.rs"]
mod tests;
