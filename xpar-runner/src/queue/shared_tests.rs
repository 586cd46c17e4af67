//! The shared work queue over an in-memory [`SharedQueue`] several "machines" (queue
//! instances) share, with the lease rules a real one has: a chunk is recorded by the
//! token that holds it, an expired lease goes back to the queue, each (test, attempt)
//! is recorded once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::discover::{ListedBinary, ListedTest, TestList};
use crate::plan::CostModel;
use crate::report::{Failure, TestStatus};
use xpar_metadata::BinaryId;

#[derive(Default)]
struct Shared {
    queue: VecDeque<(u64, ChunkSpec)>,
    /// Chunk id -> (token, spec) of the lease that holds it.
    leased: BTreeMap<u64, (u64, ChunkSpec)>,
    next_token: u64,
    results: BTreeMap<(String, String, usize), String>,
    failures: usize,
    stopped: Option<String>,
    reserves: usize,
    /// Serial keys held: key -> token.
    keys: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Lost;

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Lost {}

/// One machine's connection to the shared state; `lost` makes every call fail.
#[derive(Clone)]
struct Machine {
    shared: Arc<Mutex<Shared>>,
    lost: Arc<Mutex<bool>>,
}

impl Machine {
    fn check(&self) -> Result<std::sync::MutexGuard<'_, Shared>, Lost> {
        if *self.lost.lock().unwrap() {
            return Err(Lost);
        }
        Ok(self.shared.lock().unwrap())
    }
}

impl SharedQueue for Machine {
    type Error = Lost;

    fn reserve(&mut self, _worker: &str) -> Result<Reserve, Lost> {
        let mut s = self.check()?;
        s.reserves += 1;
        let Some((id, spec)) = s.queue.pop_front() else {
            return Ok(if s.leased.is_empty() {
                Reserve::Done
            } else {
                Reserve::Wait {
                    next_expiry: Duration::from_secs(1),
                    machines: 2,
                }
            });
        };
        s.next_token += 1;
        let token = s.next_token;
        s.leased.insert(id, (token, spec.clone()));
        Ok(Reserve::Chunk {
            id: ChunkId(id),
            spec,
            token: Token(token),
        })
    }

    fn acknowledge(
        &mut self,
        id: ChunkId,
        token: Token,
        results: &[ResultRecord],
    ) -> Result<Ack, Lost> {
        let mut s = self.check()?;
        if s.leased.get(&id.0).map(|(t, _)| *t) != Some(token.0) {
            return Ok(Ack::Stale);
        }
        s.leased.remove(&id.0);
        let mut new = 0;
        for r in results {
            let key = (
                r.test.binary_id.as_str().to_owned(),
                r.test.name.clone(),
                r.attempt.number(),
            );
            if let std::collections::btree_map::Entry::Vacant(e) = s.results.entry(key) {
                e.insert(r.json.clone());
                new += 1;
            }
        }
        Ok(Ack::Recorded {
            new,
            done: 0,
            total: 0,
            retries: Vec::new(),
        })
    }

    fn add_failures(&mut self, n: u64) -> Result<u64, Lost> {
        let mut s = self.check()?;
        s.failures += n as usize;
        Ok(s.failures as u64)
    }

    fn cancel(&mut self, reason: &str) -> Result<String, Lost> {
        let mut s = self.check()?;
        Ok(s.stopped.get_or_insert_with(|| reason.to_owned()).clone())
    }

    fn cancelled(&mut self) -> Result<Option<String>, Lost> {
        Ok(self.check()?.stopped.clone())
    }

    fn acquire_key(&mut self, key: &str, token: &str) -> Result<bool, Lost> {
        let mut s = self.check()?;
        if s.keys.contains_key(key) {
            return Ok(false);
        }
        s.keys.insert(key.to_owned(), token.to_owned());
        Ok(true)
    }

    fn release_key(&mut self, key: &str, token: &str) -> Result<(), Lost> {
        let mut s = self.check()?;
        if s.keys.get(key).is_some_and(|t| t == token) {
            s.keys.remove(key);
        }
        Ok(())
    }
}

/// The lease of `id` expires: the chunk goes back to the front of the queue.
fn expire(shared: &Arc<Mutex<Shared>>, id: u64) {
    let mut s = shared.lock().unwrap();
    let (_, spec) = s.leased.remove(&id).unwrap();
    s.queue.push_front((id, spec));
}

fn list() -> TestList {
    let tests = |names: &[&str]| {
        names
            .iter()
            .map(|n| ListedTest {
                name: (*n).to_owned(),
                ..ListedTest::default()
            })
            .collect()
    };
    TestList {
        binaries: vec![
            ListedBinary::fake_lib("alpha", tests(&["a1", "a2", "a3"])),
            ListedBinary::fake_lib("beta", tests(&["b1", "b2"])),
        ],
    }
}

fn spec(binary: &str, tests: &[&str]) -> ChunkSpec {
    ChunkSpec {
        binary_id: BinaryId::new(binary),
        tests: ChunkTests::Named(tests.iter().map(|n| (*n).to_owned()).collect()),
        attempt: Attempt::FIRST,
        expected_secs: 1.0,
    }
}

fn seeded() -> Arc<Mutex<Shared>> {
    let mut s = Shared::default();
    s.queue.push_back((1, spec("alpha", &["a1", "a2"])));
    s.queue.push_back((2, spec("beta", &["b1", "b2"])));
    s.queue.push_back((3, spec("alpha", &["a3"])));
    Arc::new(Mutex::new(s))
}

fn machine(shared: &Arc<Mutex<Shared>>, list: &TestList) -> SharedWorkQueue<Machine> {
    let m = Machine {
        shared: shared.clone(),
        lost: Arc::new(Mutex::new(false)),
    };
    // Polled on every call: the tests ask when they mean to.
    SharedWorkQueue::new(m, list, 2, 5, Duration::ZERO)
}

fn outcome(list: &TestList, binary: usize, name: &str, status: TestStatus) -> TestOutcome {
    TestOutcome {
        binary_id: list.binaries[binary].binary.id.clone(),
        name: name.into(),
        status,
        duration: Duration::from_millis(5),
        output: String::new(),
        worker: Some(0),
        started: Some(Duration::ZERO),
        previous: Vec::new(),
        attempt: Attempt::FIRST,
        resources: None,
    }
}

fn names(chunk: &Chunk) -> Vec<String> {
    match &chunk.tests {
        UnitTests::Named(n) => n.clone(),
        UnitTests::Opaque => vec![],
    }
}

fn run(next: Next) -> Chunk {
    match next {
        Next::Run(c) => c,
        other => panic!("expected a chunk, got {other:?}"),
    }
}

/// Runs every test of `chunk` on `q`, passing.
fn pass_all(q: &mut SharedWorkQueue<Machine>, list: &TestList, chunk: &Chunk) {
    for n in names(chunk) {
        q.reported(&outcome(list, chunk.binary, &n, TestStatus::Passed));
    }
}

#[test]
fn two_machines_share_the_chunks_and_each_test_is_recorded_once() {
    let (list, shared) = (list(), seeded());
    let cost = CostModel::default();
    let (mut m1, mut m2) = (machine(&shared, &list), machine(&shared, &list));
    let c1 = run(m1.next(0, &cost));
    let c2 = run(m2.next(0, &cost));
    assert_eq!(
        (names(&c1), names(&c2)),
        (
            vec!["a1".into(), "a2".into()],
            vec!["b1".into(), "b2".into()]
        )
    );
    assert_eq!(c2.binary, 1, "beta is this machine's binary 1");
    pass_all(&mut m1, &list, &c1);
    // Acknowledged as soon as its last test is in.
    assert!(!shared.lock().unwrap().leased.contains_key(&1));
    let c3 = run(m1.next(1, &cost));
    // m2 still holds c2: the queue is empty but not done.
    assert_eq!(m1.next(0, &cost), Next::Wait);
    pass_all(&mut m2, &list, &c2);
    pass_all(&mut m1, &list, &c3);
    assert_eq!(m1.next(0, &cost), Next::Done);
    assert_eq!(m2.next(0, &cost), Next::Done);
    assert_eq!(shared.lock().unwrap().results.len(), 5);
}

#[test]
fn a_chunk_whose_lease_expired_runs_elsewhere_and_the_late_result_is_ignored() {
    let (list, shared) = (list(), seeded());
    let cost = CostModel::default();
    let (mut slow, mut other) = (machine(&shared, &list), machine(&shared, &list));
    let c1 = run(slow.next(0, &cost));
    expire(&shared, 1);
    let again = run(other.next(0, &cost));
    assert_eq!(names(&again), names(&c1));
    let mut failed = outcome(
        &list,
        0,
        "a1",
        TestStatus::Failed(Failure::Exited { code: 1 }),
    );
    failed.output = "late".into();
    slow.reported(&failed);
    slow.reported(&outcome(&list, 0, "a2", TestStatus::Passed));
    assert!(
        shared.lock().unwrap().results.is_empty(),
        "a stale lease records nothing"
    );
    pass_all(&mut other, &list, &again);
    let s = shared.lock().unwrap();
    let a1 = &s.results[&("alpha".to_owned(), "a1".to_owned(), 1)];
    assert!(a1.contains("\"passed\"") || a1.contains("Passed"), "{a1}");
}

#[test]
fn retries_run_here_and_the_chunk_is_acknowledged_after_the_last_attempt() {
    let (list, shared) = (list(), seeded());
    let cost = CostModel::default();
    let mut m = machine(&shared, &list);
    let c1 = run(m.next(0, &cost));
    m.reported(&outcome(&list, 0, "a2", TestStatus::Passed));
    // a1 failed and runs again (the dispatcher holds the failed attempt back).
    m.push_retry(&TestKey::new(0, "a1"), Attempt::after(1), false, None);
    let retry = run(m.next(1, &cost));
    assert_eq!(names(&retry), ["a1"]);
    assert!(
        shared.lock().unwrap().leased.contains_key(&1),
        "held until a1's last attempt"
    );
    let mut second = outcome(&list, 0, "a1", TestStatus::Passed);
    second.attempt = Attempt::after(1);
    m.reported(&second);
    let s = shared.lock().unwrap();
    assert!(!s.leased.contains_key(&1));
    assert!(s
        .results
        .contains_key(&("alpha".to_owned(), "a1".to_owned(), 2)));
    drop(s);
    let _ = c1;
}

#[test]
fn failures_count_across_machines_and_a_stop_reaches_every_machine() {
    let (list, shared) = (list(), seeded());
    let cost = CostModel::default();
    let (mut m1, mut m2) = (machine(&shared, &list), machine(&shared, &list));
    let c1 = run(m1.next(0, &cost));
    let c2 = run(m2.next(0, &cost));
    let fail = TestStatus::Failed(Failure::Exited { code: 101 });
    m1.reported(&outcome(&list, 0, &names(&c1)[0], fail.clone()));
    m2.reported(&outcome(&list, 1, &names(&c2)[0], fail));
    assert_eq!(m2.failures(1), 2, "m2 sees m1's failure too");
    assert_eq!(m1.stopped_elsewhere(), None);
    m2.stopping("the run stopped after 2 failures (--maxfail)");
    assert_eq!(
        m1.stopped_elsewhere().as_deref(),
        Some("the run stopped after 2 failures (--maxfail)")
    );
}

#[test]
fn a_lost_queue_stops_the_run_with_its_error() {
    let (list, shared) = (list(), seeded());
    let cost = CostModel::default();
    let lost = Arc::new(Mutex::new(false));
    let m = Machine {
        shared: shared.clone(),
        lost: lost.clone(),
    };
    let mut q = SharedWorkQueue::new(m, &list, 2, 5, Duration::from_millis(100));
    let state = q.state();
    let c1 = run(q.next(0, &cost));
    assert_eq!(
        state.leases.lock().unwrap().len(),
        1,
        "the heartbeat sees the lease"
    );
    *lost.lock().unwrap() = true;
    pass_all(&mut q, &list, &c1);
    assert_eq!(q.next(0, &cost), Next::Done);
    let why = q.stopped_elsewhere().unwrap();
    assert_eq!(why, "connection refused");
    assert!(state.error.lock().unwrap().is_some());
}

#[test]
fn a_binary_this_build_lacks_is_the_runs_error() {
    let list = list();
    let mut s = Shared::default();
    s.queue.push_back((1, spec("gamma", &["g"])));
    let shared = Arc::new(Mutex::new(s));
    let mut q = machine(&shared, &list);
    assert_eq!(q.next(0, &CostModel::default()), Next::Done);
    let why = q.state().error.lock().unwrap().clone().unwrap();
    assert!(why.contains("`gamma`"), "{why}");
}

/// `db1` and `db2` share serial key `db`; `free` holds nothing.
fn keyed_list() -> TestList {
    let test = |name: &str, key: Option<&str>| ListedTest {
        name: name.to_owned(),
        markers: crate::discover::Markers {
            serial: match key {
                Some(k) => xpar_protocol::Serial::Keys(vec![k.to_owned()]),
                None => xpar_protocol::Serial::No,
            },
            ..Default::default()
        },
        ..ListedTest::default()
    };
    TestList {
        binaries: vec![ListedBinary::fake_lib(
            "alpha",
            vec![
                test("db1", Some("db")),
                test("db2", Some("db")),
                test("free", None),
            ],
        )],
    }
}

#[test]
fn a_serial_key_is_held_across_machines_and_among_workers() {
    let list = keyed_list();
    let mut s = Shared::default();
    s.queue.push_back((1, spec("alpha", &["db1"])));
    s.queue.push_back((2, spec("alpha", &["db2"])));
    s.queue.push_back((3, spec("alpha", &["free"])));
    let shared = Arc::new(Mutex::new(s));
    let cost = CostModel::default();
    let (mut m1, mut m2) = (
        machine(&shared, &list).with_machine("m1"),
        machine(&shared, &list).with_machine("m2"),
    );
    let c1 = run(m1.next(0, &cost));
    assert_eq!(names(&c1), ["db1"]);
    assert!(shared.lock().unwrap().keys.contains_key("db"));
    // m2 reserves db2 but cannot start it while m1 holds `db`.
    assert_eq!(m2.next(0, &cost), Next::Wait);
    let c3 = run(m2.next(1, &cost));
    assert_eq!(names(&c3), ["free"], "the other worker takes other work");
    pass_all(&mut m1, &list, &c1);
    // m1's worker asks again: its chunk is over, the key is free.
    assert_eq!(m1.next(0, &cost), Next::Wait);
    assert!(!shared.lock().unwrap().keys.contains_key("db"));
    let c2 = run(m2.next(0, &cost));
    assert_eq!(names(&c2), ["db2"]);
    let held = m2.state().keys.lock().unwrap().clone();
    assert_eq!(held.len(), 1, "the heartbeat extends it: {held:?}");
}
