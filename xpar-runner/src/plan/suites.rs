//! Command suites in the run's schedule: a suite starts once every suite it depends on
//! passed, never beside another suite of its `parallel-group`, and holds its slots of
//! the workers while it runs, which the tests' [`Schedule`] counts as taken. A suite
//! whose dependency did not pass is not run, with the reason. Ready suites go before
//! tests: they are few, long, and others may wait for them.

use std::collections::HashMap;

use super::cost::CostModel;
use super::filter::UnitTests;
use super::queue::{Chunk, Next, WorkQueue};
use super::schedule::Schedule;
use crate::ids::{Attempt, TestKey};
use crate::report::{TestOutcome, TestStatus};

/// One suite as the schedule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSuite {
    /// Its binary in the test list (a suite is one opaque unit).
    pub binary: usize,
    /// Its binary id, as its outcome names it.
    pub binary_id: String,
    pub name: String,
    /// The suites it waits for, as indices into the run's suites.
    pub depends_on: Vec<usize>,
    pub parallel_group: Option<String>,
    /// Worker slots it holds (at least 1, at most every worker).
    pub slots: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Passed,
    /// Failed, or was not run: its dependents are not run either.
    NotPassed,
}

/// The tests' schedule with the run's suites beside it.
pub struct SuiteQueue {
    tests: Schedule,
    suites: Vec<PlannedSuite>,
    state: Vec<State>,
    by_id: HashMap<String, usize>,
    /// The suite of each group that runs now.
    busy_groups: HashMap<String, usize>,
    /// Suites given up because a dependency did not pass, with the reason, until the
    /// dispatcher takes them.
    skipped: Vec<(Chunk, String)>,
}

impl SuiteQueue {
    pub fn new(tests: Schedule, suites: Vec<PlannedSuite>) -> SuiteQueue {
        let workers = tests.workers();
        let suites: Vec<PlannedSuite> = suites
            .into_iter()
            .map(|mut s| {
                s.slots = s.slots.clamp(1, workers);
                s
            })
            .collect();
        SuiteQueue {
            by_id: (suites.iter().enumerate())
                .map(|(i, s)| (s.binary_id.clone(), i))
                .collect(),
            state: vec![State::Waiting; suites.len()],
            tests,
            suites,
            busy_groups: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    fn chunk(&self, i: usize) -> Chunk {
        Chunk {
            binary: self.suites[i].binary,
            tests: UnitTests::Opaque,
        }
    }

    /// Waiting suites a dependency of which did not pass go to `skipped`, and so on down
    /// their own dependents as the dispatcher reports them.
    fn skip_blocked(&mut self) {
        for i in 0..self.suites.len() {
            if self.state[i] != State::Waiting {
                continue;
            }
            let failed =
                (self.suites[i].depends_on.iter()).find(|&&d| self.state[d] == State::NotPassed);
            if let Some(&d) = failed {
                self.state[i] = State::NotPassed;
                let why = format!("its dependency `{}` did not pass", self.suites[d].name);
                self.skipped.push((self.chunk(i), why));
            }
        }
    }

    /// The first waiting suite that may start on a worker now.
    fn ready(&self, free: usize) -> Option<usize> {
        (0..self.suites.len()).find(|&i| {
            let s = &self.suites[i];
            self.state[i] == State::Waiting
                && s.slots <= free
                && (s.depends_on.iter()).all(|&d| self.state[d] == State::Passed)
                && s.parallel_group
                    .as_ref()
                    .is_none_or(|g| !self.busy_groups.contains_key(g))
        })
    }

    /// Suite `i`'s group is free again, if `i` held it.
    fn free_group(&mut self, i: usize) {
        if let Some(g) = &self.suites[i].parallel_group {
            if self.busy_groups.get(g) == Some(&i) {
                self.busy_groups.remove(g);
            }
        }
    }

    fn suite_left(&self) -> bool {
        (self.state.iter()).any(|s| matches!(s, State::Waiting | State::Running))
    }
}

impl WorkQueue for SuiteQueue {
    fn workers(&self) -> usize {
        self.tests.workers()
    }

    fn remaining(&self) -> usize {
        let waiting = self.state.iter().filter(|s| **s == State::Waiting).count();
        self.tests.remaining() + waiting
    }

    fn next(&mut self, worker: usize, cost: &CostModel) -> Next {
        // Its last chunk is over: it holds nothing now.
        self.tests.hold(worker, 0);
        self.skip_blocked();
        if let Some(i) = self.ready(self.tests.free_slots()) {
            self.state[i] = State::Running;
            self.tests.hold(worker, self.suites[i].slots);
            if let Some(g) = &self.suites[i].parallel_group {
                self.busy_groups.insert(g.clone(), i);
            }
            return Next::Run(self.chunk(i));
        }
        match self.tests.next(worker, cost) {
            // A suite still waits for another to end.
            Next::Done if self.suite_left() => Next::Wait,
            next => next,
        }
    }

    fn push_retry(
        &mut self,
        test: &TestKey,
        attempt: Attempt,
        opaque: bool,
        worker: Option<usize>,
    ) {
        match (self.suites.iter()).position(|s| s.binary == test.binary) {
            // It runs again as it ran first: when its group is free, which its failed
            // attempt (held back for this retry, so never reported) no longer holds.
            Some(i) => {
                self.state[i] = State::Waiting;
                self.free_group(i);
            }
            None => self.tests.push_retry(test, attempt, opaque, worker),
        }
    }

    fn take_binary(&mut self, binary: usize) -> Vec<Chunk> {
        if let Some(i) = self.suites.iter().position(|s| s.binary == binary) {
            if self.state[i] == State::Waiting {
                self.state[i] = State::NotPassed;
                return vec![self.chunk(i)];
            }
            return Vec::new();
        }
        self.tests.take_binary(binary)
    }

    fn remove_test(&mut self, test: &TestKey) {
        self.tests.remove_test(test);
    }

    fn drain(&mut self) -> Vec<Chunk> {
        let mut out = self.tests.drain();
        for i in 0..self.suites.len() {
            if self.state[i] == State::Waiting {
                self.state[i] = State::NotPassed;
                out.push(self.chunk(i));
            }
        }
        out.extend(self.skipped.drain(..).map(|(c, _)| c));
        out
    }

    fn reported(&mut self, outcome: &TestOutcome) {
        let Some(&i) = self.by_id.get(outcome.binary_id.as_str()) else {
            return;
        };
        self.state[i] = match outcome.status {
            TestStatus::Passed => State::Passed,
            _ => State::NotPassed,
        };
        self.free_group(i);
        self.skip_blocked();
    }

    fn take_skipped(&mut self) -> Vec<(Chunk, String)> {
        std::mem::take(&mut self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::schedule::OwnRule;
    use xpar_metadata::BinaryId;

    fn suite(binary: usize, deps: &[usize], group: Option<&str>) -> PlannedSuite {
        PlannedSuite {
            binary,
            binary_id: format!("@suite/s{binary}"),
            name: format!("s{binary}"),
            depends_on: deps.to_vec(),
            parallel_group: group.map(str::to_owned),
            slots: 1,
        }
    }

    fn outcome(q: &SuiteQueue, i: usize, status: TestStatus) -> TestOutcome {
        let id = BinaryId::new(&q.suites[i].binary_id);
        TestOutcome::not_started(id.clone(), id.to_string(), status)
    }

    fn binary_of(next: Next) -> Option<usize> {
        match next {
            Next::Run(c) => Some(c.binary),
            _ => None,
        }
    }

    #[test]
    fn a_suite_waits_for_its_dependencies_and_groups_do_not_overlap() {
        let tests = Schedule::new(3, OwnRule::Halving, false);
        // 0 <- 1; 2 and 3 share a group.
        let suites = vec![
            suite(0, &[], None),
            suite(1, &[0], None),
            suite(2, &[], Some("db")),
            suite(3, &[], Some("db")),
        ];
        let mut q = SuiteQueue::new(tests, suites);
        let cost = CostModel::default();
        assert_eq!(binary_of(q.next(0, &cost)), Some(0));
        assert_eq!(binary_of(q.next(1, &cost)), Some(2), "1 waits for 0");
        assert_eq!(q.next(2, &cost), Next::Wait, "3 waits for 2's group");
        q.reported(&outcome(&q, 2, TestStatus::Passed));
        assert_eq!(binary_of(q.next(2, &cost)), Some(3));
        q.reported(&outcome(&q, 0, TestStatus::Passed));
        assert_eq!(binary_of(q.next(0, &cost)), Some(1));
        assert_eq!(q.next(1, &cost), Next::Wait, "suites still run");
        q.reported(&outcome(&q, 1, TestStatus::Passed));
        q.reported(&outcome(&q, 3, TestStatus::Passed));
        assert_eq!(q.next(1, &cost), Next::Done);
        assert!(q.take_skipped().is_empty());
    }

    #[test]
    fn a_failed_dependency_leaves_its_dependents_not_run_with_the_reason() {
        let tests = Schedule::new(2, OwnRule::Halving, false);
        let suites = vec![
            suite(0, &[], None),
            suite(1, &[0], None),
            suite(2, &[1], None),
        ];
        let mut q = SuiteQueue::new(tests, suites);
        let cost = CostModel::default();
        assert_eq!(binary_of(q.next(0, &cost)), Some(0));
        q.reported(&outcome(
            &q,
            0,
            TestStatus::Failed(crate::report::Failure::Failed),
        ));
        // Its dependents, and theirs, each with the dependency that did not pass.
        let skipped: Vec<(usize, String)> = (q.take_skipped().into_iter())
            .map(|(c, why)| (c.binary, why))
            .collect();
        assert_eq!(
            skipped,
            [
                (1, "its dependency `s0` did not pass".to_owned()),
                (2, "its dependency `s1` did not pass".to_owned())
            ]
        );
        q.reported(&outcome(&q, 1, TestStatus::NotRun(skipped[0].1.clone())));
        assert!(q.take_skipped().is_empty());
        assert_eq!(q.next(0, &cost), Next::Done);
    }

    /// A failed attempt held back for a retry is never reported: the retry must not wait
    /// for the group that attempt held.
    #[test]
    fn a_retried_suite_of_a_group_runs_again() {
        let tests = Schedule::new(2, OwnRule::Halving, false);
        let mut q = SuiteQueue::new(tests, vec![suite(0, &[], Some("db"))]);
        let cost = CostModel::default();
        assert_eq!(binary_of(q.next(0, &cost)), Some(0));
        let key = TestKey::new(0, "@suite/s0");
        q.push_retry(&key, Attempt::FIRST.next(), true, None);
        assert_eq!(binary_of(q.next(0, &cost)), Some(0), "the retry starts");
    }

    #[test]
    fn a_suite_holds_its_slots_of_the_tests_workers() {
        let tests = Schedule::new(2, OwnRule::Halving, false);
        let mut big = suite(0, &[], None);
        big.slots = 5;
        let mut q = SuiteQueue::new(tests, vec![big, suite(1, &[], None)]);
        let cost = CostModel::default();
        // Clamped to the two workers: the other suite waits for it.
        assert_eq!(binary_of(q.next(0, &cost)), Some(0));
        assert_eq!(q.next(1, &cost), Next::Wait);
        q.reported(&outcome(&q, 0, TestStatus::Passed));
        assert_eq!(binary_of(q.next(0, &cost)), Some(1));
    }
}
