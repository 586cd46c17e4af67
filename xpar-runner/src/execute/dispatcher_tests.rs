//! The dispatcher's decisions without processes: each test feeds it the messages workers
//! would send (a recorded run), moves a clock of its own, and checks what the workers
//! were told, which process groups were signalled and which events were reported.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::discover::{ListedBinary, ListedTest, Markers};
use crate::execute::{MaxFail, RetryPolicy, Timeouts};
use crate::ids::TestId;
use crate::plan::{self, DistMode, PlanOptions, RunIgnored, TestFilter};
use xpar_protocol::Serial;

const SIGTERM: i32 = watchdog::SIGTERM;
const SIGKILL: i32 = watchdog::SIGKILL;

/// The clock and the process groups, as the dispatcher sees them.
struct FakeHost {
    now: Cell<Instant>,
    killed: RefCell<Vec<(u32, i32)>>,
}

impl Host for FakeHost {
    fn now(&self) -> Instant {
        self.now.get()
    }

    fn kill_group(&self, pid: u32, signal: i32) {
        self.killed.borrow_mut().push((pid, signal));
    }
}

/// A queue that hands out its chunks in order (`None`: the asking worker waits), and
/// records what the dispatcher gives back.
#[derive(Default)]
struct Scripted {
    workers: usize,
    script: VecDeque<Option<Chunk>>,
    retried: Vec<(TestKey, Attempt, Option<usize>)>,
    removed: Vec<TestKey>,
}

impl Scripted {
    fn new(workers: usize, chunks: impl IntoIterator<Item = Chunk>) -> Self {
        Scripted {
            workers,
            script: chunks.into_iter().map(Some).collect(),
            ..Scripted::default()
        }
    }
}

impl WorkQueue for Scripted {
    fn workers(&self) -> usize {
        self.workers
    }

    fn remaining(&self) -> usize {
        self.script.iter().flatten().map(Chunk::len).sum()
    }

    fn next(&mut self, _: usize, _: &CostModel) -> Next {
        match self.script.pop_front() {
            Some(Some(chunk)) => Next::Run(chunk),
            Some(None) => Next::Wait,
            None => Next::Done,
        }
    }

    fn push_retry(&mut self, test: &TestKey, attempt: Attempt, _: bool, worker: Option<usize>) {
        self.retried.push((test.clone(), attempt, worker));
        self.script
            .push_back(Some(chunk(test.binary, &[&test.name])));
    }

    fn take_binary(&mut self, binary: usize) -> Vec<Chunk> {
        let (out, keep) = std::mem::take(&mut self.script)
            .into_iter()
            .partition(|c| c.as_ref().is_some_and(|c| c.binary == binary));
        self.script = keep;
        out.into_iter().flatten().collect()
    }

    fn remove_test(&mut self, test: &TestKey) {
        self.removed.push(test.clone());
    }

    fn drain(&mut self) -> Vec<Chunk> {
        self.script.drain(..).flatten().collect()
    }
}

fn chunk(binary: usize, names: &[&str]) -> Chunk {
    Chunk {
        binary,
        tests: UnitTests::Named(names.iter().map(|n| n.to_string()).collect()),
    }
}

fn test(name: &str, markers: Markers) -> ListedTest {
    ListedTest {
        name: name.into(),
        markers,
        ..ListedTest::default()
    }
}

fn list(bins: &[(&str, Vec<ListedTest>)]) -> TestList {
    TestList {
        binaries: bins
            .iter()
            .map(|(id, tests)| ListedBinary::fake_lib(id, tests.clone()))
            .collect(),
    }
}

/// Binary `a` with tests `t1`..`t4`, `b` with `u1`.
fn two_binaries() -> TestList {
    let plain = |names: &[&str]| {
        names
            .iter()
            .map(|n| test(n, Markers::default()))
            .collect::<Vec<_>>()
    };
    list(&[
        ("a", plain(&["t1", "t2", "t3", "t4"])),
        ("b", plain(&["u1"])),
    ])
}

fn options() -> ExecuteOptions {
    ExecuteOptions {
        run_id: None,
        max_fail: None,
        run_ignored: RunIgnored::Default,
        capture: true,
        test_args: Vec::new(),
        keep_tmp: false,
        profile_dir: None,
        timeouts: Timeouts {
            grace: Duration::from_secs(5),
            ..Timeouts::default()
        },
        run_timeout: None,
        retry: RetryPolicy::default(),
        pin_retries: false,
        stop_stable: None,
        max_crashes: usize::MAX,
        process_costs: ProcessCosts::new(),
        cancel: None,
    }
}

/// Everything a dispatcher borrows.
struct World {
    list: TestList,
    opts: ExecuteOptions,
    cancel: CancelHandle,
    host: FakeHost,
    t0: Instant,
}

impl World {
    fn new(list: TestList, opts: ExecuteOptions) -> Self {
        let t0 = Instant::now();
        World {
            list,
            opts,
            cancel: CancelHandle::new(),
            host: FakeHost {
                now: Cell::new(t0),
                killed: RefCell::new(Vec::new()),
            },
            t0,
        }
    }

    fn dispatcher<'a>(&'a self, queue: &'a mut dyn WorkQueue) -> Rig<'a> {
        let (to_workers, inboxes) = (0..queue.workers()).map(|_| mpsc::channel()).unzip();
        Rig {
            d: Dispatcher::new(
                &self.list,
                &self.opts,
                queue,
                (&self.cancel, &self.host),
                to_workers,
                self.t0,
            ),
            inboxes,
            stops: Vec::new(),
            events: Vec::new(),
            world: self,
        }
    }

    /// Moves the clock to `secs` after the start, as a tick would see it.
    fn at(&self, secs: f64) {
        self.host.now.set(self.t0 + Duration::from_secs_f64(secs));
    }

    fn killed(&self) -> Vec<(u32, i32)> {
        std::mem::take(&mut self.host.killed.borrow_mut())
    }
}

/// A dispatcher, the inboxes of its workers and what it reported.
struct Rig<'a> {
    d: Dispatcher<'a>,
    inboxes: Vec<mpsc::Receiver<ToWorker>>,
    /// The stops each worker was told of, by worker, in order.
    stops: Vec<(usize, CancelReason)>,
    events: Vec<RunEvent>,
    world: &'a World,
}

impl Rig<'_> {
    /// Hands `msg` to the dispatcher, then lets it look at the clock, as its loop does.
    fn send(&mut self, msg: WorkerMsg) {
        let events = &mut self.events;
        self.d.handle(msg, &mut |e| events.push(e));
        self.tick();
    }

    fn tick(&mut self) {
        let events = &mut self.events;
        self.d.tick(&mut |e| events.push(e));
    }

    /// What `worker` was told since last asked, but the run's stop, which is kept in
    /// `stops`.
    fn told(&mut self, worker: usize) -> Vec<ToWorker> {
        let mut told = Vec::new();
        for m in self.inboxes[worker].try_iter() {
            match m {
                ToWorker::Stopped(reason) => self.stops.push((worker, reason)),
                other => told.push(other),
            }
        }
        told
    }

    /// `worker` asks for work: the chunk it is given, if any (`None`: it was told to
    /// wait or to stop).
    fn ready(&mut self, worker: usize) -> Option<Chunk> {
        let costs = Vec::new();
        self.send(WorkerMsg::Ready { worker, costs });
        match &self.told(worker)[..] {
            [ToWorker::Run(chunk)] => Some(chunk.clone()),
            [] | [ToWorker::Stop] => None,
            other => panic!("unexpected answer {other:?}"),
        }
    }

    /// `worker` has a process, `pid`, running test `name` of binary `a`.
    fn running(&mut self, worker: usize, pid: u32, name: &str) {
        self.send(WorkerMsg::Spawned { worker, pid });
        let id = TestId::new(self.world.list.binaries[0].binary.id.clone(), name);
        self.send(WorkerMsg::Started { worker, test: id });
    }

    /// `worker` reports the result of test `name` of binary `binary`.
    fn finished(&mut self, worker: usize, (binary, name): (usize, &str), status: TestStatus) {
        let outcome = TestOutcome {
            binary_id: self.world.list.binaries[binary].binary.id.clone(),
            name: name.into(),
            status,
            duration: Duration::from_secs(1),
            output: String::new(),
            worker: Some(worker),
            started: Some(Duration::ZERO),
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        };
        self.send(WorkerMsg::Finished { outcome });
    }

    /// The results reported since last asked: (name, status, earlier attempts).
    fn results(&mut self) -> Vec<(String, TestStatus, usize)> {
        std::mem::take(&mut self.events)
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::TestFinished(o) => Some((o.name, o.status, o.previous.len())),
                _ => None,
            })
            .collect()
    }
}

fn failed() -> TestStatus {
    TestStatus::Failed(Failure::Failed)
}

fn not_run(why: &str) -> TestStatus {
    TestStatus::NotRun(why.into())
}

/// Died of `signal`: what a worker reports when the process went under a test.
fn died(signal: i32) -> TestStatus {
    TestStatus::Failed(Failure::Signal {
        signal,
        name: crate::process::os::signal_name(signal).into(),
    })
}

#[test]
fn hands_out_the_queue_in_order_then_stops_each_worker() {
    let w = World::new(two_binaries(), options());
    let mut q = Scripted::new(2, [chunk(0, &["t1", "t2"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    assert_eq!(r.ready(0), Some(chunk(0, &["t1", "t2"])));
    assert_eq!(r.ready(1), Some(chunk(1, &["u1"])));
    r.send(WorkerMsg::Ready {
        worker: 0,
        costs: Vec::new(),
    });
    assert!(matches!(r.told(0)[..], [ToWorker::Stop]));
    r.send(WorkerMsg::Exited);
    assert_eq!(r.d.exited, 1);
}

/// A worker that must wait (here for the slots a `#[serial]` test holds) is asked again
/// as soon as another finishes its chunk.
#[test]
fn a_waiting_worker_is_asked_again_when_another_finishes() {
    let serial = Markers {
        serial: Serial::All,
        ..Markers::default()
    };
    let tests = vec![
        test("s", serial),
        test("p1", Markers::default()),
        test("p2", Markers::default()),
    ];
    let w = World::new(list(&[("a", tests)]), options());
    let selection = plan::select(&w.list, &TestFilter::default());
    let plan_opts = PlanOptions {
        mode: DistMode::Load,
        workers: 2,
        reorder_scopes: true,
        require_parallel_safe: false,
    };
    let mut schedule = plan::plan(&w.list, &selection, &Default::default(), &plan_opts);
    let mut r = w.dispatcher(&mut schedule);
    assert_eq!(r.ready(0), Some(chunk(0, &["s"])));
    assert_eq!(
        r.ready(1),
        None,
        "worker 1 waits while `s` holds every slot"
    );
    assert!(r.told(1).is_empty());
    assert_eq!(r.ready(0), Some(chunk(0, &["p1"])));
    assert!(matches!(&r.told(1)[..], [ToWorker::Run(c)] if *c == chunk(0, &["p2"])));
}

#[test]
fn a_failure_runs_again_after_its_delay_and_its_result_carries_the_attempts() {
    let mut opts = options();
    opts.retry = RetryPolicy {
        retries: 2,
        delay: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, [chunk(0, &["t1"])]);
    let mut r = w.dispatcher(&mut q);
    assert_eq!(r.ready(0), Some(chunk(0, &["t1"])));
    r.finished(0, (0, "t1"), failed());
    assert!(matches!(
        &r.events[..],
        [RunEvent::TestRetrying { attempt: 1, delay, .. }] if *delay == Duration::from_secs(1)
    ));
    assert!(r.results().is_empty(), "held back for the retry");
    // Nothing queued, but the retry will be: the worker waits for it.
    assert_eq!(r.ready(0), None);
    w.at(0.5);
    r.tick();
    assert!(r.told(0).is_empty());
    w.at(1.0);
    r.tick();
    assert!(matches!(&r.told(0)[..], [ToWorker::Run(c)] if *c == chunk(0, &["t1"])));
    r.finished(0, (0, "t1"), TestStatus::Passed);
    // Passed on its second attempt: flaky, with the failed one attached, and the result
    // says it is the second.
    let attempts: Vec<(Attempt, Vec<Attempt>)> = r
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::TestFinished(o) => {
                Some((o.attempt, o.previous.iter().map(|p| p.attempt).collect()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [(Attempt::after(1), vec![Attempt::FIRST])]);
    assert_eq!(r.results(), [("t1".into(), TestStatus::Passed, 1)]);
    drop(r);
    assert_eq!(
        q.retried,
        [(TestKey::new(0, "t1"), Attempt::after(1), None)]
    );
}

/// Under `--dist each` every worker runs every test: a retry stays with its worker.
#[test]
fn a_pinned_retry_goes_back_to_the_worker_that_ran_it() {
    let mut opts = options();
    opts.retry.retries = 1;
    opts.pin_retries = true;
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(2, []);
    let mut r = w.dispatcher(&mut q);
    r.finished(1, (0, "t1"), failed());
    r.finished(0, (0, "t1"), TestStatus::Passed);
    // Worker 0's pass is its own result, not a retry of worker 1's failure.
    assert_eq!(r.results(), [("t1".into(), TestStatus::Passed, 0)]);
    drop(r);
    assert_eq!(
        q.retried,
        [(TestKey::new(0, "t1"), Attempt::after(1), Some(1))]
    );
}

#[test]
fn maxfail_stops_scheduling_and_reports_what_was_never_handed_out() {
    let mut opts = options();
    opts.max_fail = Some(MaxFail {
        count: 1,
        immediate: false,
    });
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(
        2,
        [
            chunk(0, &["t1"]),
            chunk(0, &["t2"]),
            chunk(0, &["t3", "t4"]),
        ],
    );
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.ready(1);
    r.running(1, 7, "t2");
    r.finished(0, (0, "t1"), failed());
    let why = "the run stopped after a failure (--no-fail-fast runs everything)";
    assert_eq!(
        r.results(),
        [
            ("t1".into(), failed(), 0),
            ("t3".into(), not_run(why), 0),
            ("t4".into(), not_run(why), 0)
        ]
    );
    // The running test runs to its end; nothing new starts.
    assert!(w.killed().is_empty());
    r.send(WorkerMsg::MayGoOn { worker: 1 });
    assert!(matches!(r.told(1)[..], [ToWorker::GoOn(false)]));
    // Every worker is told the run stopped, by a message.
    r.told(0);
    let stop = CancelReason::MaxFail {
        count: 1,
        immediate: false,
    };
    r.stops.sort_by_key(|(w, _)| *w);
    assert_eq!(r.stops, [(0, stop.clone()), (1, stop)]);
    r.finished(1, (0, "t2"), TestStatus::Passed);
    assert_eq!(r.results(), [("t2".into(), TestStatus::Passed, 0)]);
    assert_eq!(r.ready(1), None);
    assert_eq!(
        w.cancel.reason(),
        Some(CancelReason::MaxFail {
            count: 1,
            immediate: false
        })
    );
}

#[test]
fn maxfail_immediate_kills_what_runs_and_what_starts_after() {
    let mut opts = options();
    opts.max_fail = Some(MaxFail {
        count: 1,
        immediate: true,
    });
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(2, [chunk(0, &["t1"]), chunk(0, &["t2"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.ready(1);
    r.running(1, 7, "t2");
    r.finished(0, (0, "t1"), failed());
    assert_eq!(w.killed(), [(7, SIGKILL)]);
    r.send(WorkerMsg::WasKilled { worker: 1 });
    assert!(matches!(r.told(1)[..], [ToWorker::Killed(true)]));
    r.finished(1, (0, "t2"), died(SIGKILL));
    let killed = not_run("killed when --maxfail was reached");
    assert_eq!(
        r.results(),
        [("t1".into(), failed(), 0), ("t2".into(), killed, 0)]
    );
    // A process that started before its worker heard of the stop is ended too.
    r.send(WorkerMsg::Spawned { worker: 0, pid: 8 });
    assert_eq!(w.killed(), [(8, SIGKILL)]);
}

#[test]
fn a_caller_cancels_through_the_handle_and_the_running_tests_end() {
    let mut opts = options();
    opts.timeouts.grace = Duration::from_secs(2);
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, [chunk(0, &["t1"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.running(0, 5, "t1");
    // The handle passes the request on as the dispatcher's message.
    let (tx, rx) = mpsc::channel();
    w.cancel.attach(tx);
    w.cancel
        .clone()
        .cancel(CancelReason::Requested("asked by a test".into()));
    assert!(w.cancel.is_cancelled());
    for msg in rx.try_iter() {
        r.send(msg);
    }
    let why = "the run was cancelled (asked by a test)";
    assert_eq!(r.results(), [("u1".into(), not_run(why), 0)]);
    assert_eq!(w.killed(), [(5, SIGTERM)]);
    w.at(2.0);
    r.tick();
    assert_eq!(w.killed(), [(5, SIGKILL)]);
    r.finished(0, (0, "t1"), died(SIGKILL));
    let killed = not_run("killed when the run was cancelled");
    assert_eq!(r.results(), [("t1".into(), killed, 0)]);
    assert_eq!(r.ready(0), None);
    assert_eq!(r.d.signal(), None);
}

#[test]
fn a_signal_stops_the_run_and_a_second_kills_at_once() {
    let mut opts = options();
    opts.retry = RetryPolicy {
        retries: 1,
        delay: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(2, [chunk(0, &["t1"]), chunk(0, &["t2"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.ready(1);
    r.running(1, 9, "t2");
    r.finished(0, (0, "t1"), failed());
    r.events.clear();
    r.send(WorkerMsg::Cancel(CancelReason::Signal(2)));
    assert!(matches!(r.events[0], RunEvent::Stopping { signal: 2 }));
    let why = format!(
        "the run was interrupted by {}",
        crate::process::os::signal_name(2)
    );
    // The retry that will not run now: its failed attempt is the result.
    assert_eq!(
        r.results(),
        [("t1".into(), failed(), 0), ("u1".into(), not_run(&why), 0)]
    );
    assert_eq!(w.killed(), [(9, 2)]);
    r.send(WorkerMsg::Cancel(CancelReason::Signal(15)));
    assert_eq!(w.killed(), [(9, SIGKILL)]);
    r.finished(1, (0, "t2"), died(SIGKILL));
    let interrupted = TestStatus::Failed(Failure::Interrupted {
        signal: 2,
        name: crate::process::os::signal_name(2).into(),
    });
    assert_eq!(r.results(), [("t2".into(), interrupted, 0)]);
    assert_eq!(r.d.signal(), Some(2));
    assert_eq!(w.cancel.reason(), Some(CancelReason::Signal(2)));
}

#[test]
fn the_run_timeout_stops_the_run_when_the_clock_reaches_it() {
    let mut opts = options();
    opts.run_timeout = Some(Duration::from_secs(10));
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, [chunk(0, &["t1"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.running(0, 5, "t1");
    w.at(9.9);
    r.tick();
    assert!(r.results().is_empty());
    w.at(10.0);
    r.tick();
    let why = "the run reached --run-timeout (10.000s)";
    assert_eq!(r.results(), [("u1".into(), not_run(why), 0)]);
    assert_eq!(w.killed(), [(5, SIGTERM)]);
    r.finished(0, (0, "t1"), died(SIGTERM));
    let timed_out = TestStatus::Failed(Failure::TimedOut {
        after: Duration::from_secs(1),
        run: true,
    });
    assert_eq!(r.results(), [("t1".into(), timed_out, 0)]);
}

#[test]
fn a_test_past_its_timeout_is_ended_and_the_run_goes_on() {
    let mut opts = options();
    opts.timeouts = Timeouts {
        test: Some(Duration::from_secs(5)),
        grace: Duration::from_secs(1),
        ..Timeouts::default()
    };
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, [chunk(0, &["t1"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.running(0, 5, "t1");
    w.at(4.9);
    r.tick();
    assert!(w.killed().is_empty());
    w.at(5.0);
    r.tick();
    assert_eq!(w.killed(), [(5, SIGTERM)]);
    r.send(WorkerMsg::WasKilled { worker: 0 });
    assert!(matches!(r.told(0)[..], [ToWorker::Killed(true)]));
    w.at(6.0);
    r.tick();
    assert_eq!(w.killed(), [(5, SIGKILL)]);
    r.finished(0, (0, "t1"), died(SIGKILL));
    let timed_out = TestStatus::Failed(Failure::TimedOut {
        after: Duration::from_secs(5),
        run: false,
    });
    assert_eq!(r.results(), [("t1".into(), timed_out, 0)]);
    assert_eq!(r.ready(0), Some(chunk(1, &["u1"])));
    assert_eq!(w.cancel.reason(), None);
}

#[test]
fn a_broken_binary_fails_its_queued_tests_without_running_them() {
    let w = World::new(two_binaries(), options());
    let mut q = Scripted::new(1, [chunk(0, &["t1"]), chunk(1, &["u1"]), chunk(0, &["t2"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    let reason = || "it could not start".to_string();
    r.send(WorkerMsg::BinaryBroken {
        binary: 0,
        reason: reason(),
    });
    assert!(matches!(
        &r.events[0],
        RunEvent::BinaryBroken { binary_id, .. } if binary_id.as_str() == "a"
    ));
    let broken = TestStatus::Failed(Failure::BinaryBroken);
    assert_eq!(r.results(), [("t2".into(), broken, 0)]);
    // Said once for the binary.
    r.send(WorkerMsg::BinaryBroken {
        binary: 0,
        reason: reason(),
    });
    assert!(r.events.is_empty());
    assert_eq!(r.ready(0), Some(chunk(1, &["u1"])));
}

#[test]
fn too_many_crashes_stop_the_run() {
    let mut opts = options();
    opts.max_crashes = 1;
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, [chunk(0, &["t1", "t2"]), chunk(1, &["u1"])]);
    let mut r = w.dispatcher(&mut q);
    r.ready(0);
    r.finished(0, (0, "t1"), died(11));
    r.finished(0, (0, "t2"), died(11));
    assert!(matches!(
        r.events[1],
        RunEvent::TooManyCrashes { crashes: 2, .. }
    ));
    let why = "test processes crashed 2 times, the last of a (--max-worker-restart 1)";
    assert_eq!(
        r.results(),
        [
            ("t1".into(), died(11), 0),
            ("u1".into(), not_run(why), 0),
            ("t2".into(), died(11), 0)
        ]
    );
}

#[test]
fn stop_stable_drops_a_test_once_it_passed_enough_and_never_failed() {
    let mut opts = options();
    opts.stop_stable = Some(2);
    let w = World::new(two_binaries(), opts);
    let mut q = Scripted::new(1, []);
    let mut r = w.dispatcher(&mut q);
    r.finished(0, (0, "t1"), TestStatus::Passed);
    r.finished(0, (0, "t2"), failed());
    r.finished(0, (0, "t2"), TestStatus::Passed);
    r.finished(0, (0, "t2"), TestStatus::Passed);
    r.finished(0, (0, "t1"), TestStatus::Passed);
    drop(r);
    assert_eq!(q.removed, [TestKey::new(0, "t1")]);
}
