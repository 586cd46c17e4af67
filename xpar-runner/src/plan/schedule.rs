//! The schedule a run follows: a state machine that gives each worker that asks its next
//! chunk (tests of one binary, for one process). Where the work comes from depends on the
//! distribution mode, built in `dist.rs`. First come chunks that hold several worker slots
//! (`#[serial]` holds all of them, `#[resource_intensive(slots = N)]` N): a worker waits
//! until enough slots are free. Then a worker's own queue (a scope it took, its worksteal
//! slice, its copy under `each`), then whole scopes, then the shared load queue, and last,
//! under worksteal, the back half of the longest queue of another worker. A schedule may
//! be cut into tiers (`--failed-first`): nothing of a tier is handed out while an earlier
//! one has work for the worker that asks, and slots are counted across all of them. Pure:
//! the executor reports what processes cost and asks; no clock or processes.

use std::collections::{HashMap, VecDeque};

use super::cost::CostModel;
use super::filter::UnitTests;
use super::queue::{Chunk, Next, WorkQueue};
use crate::ids::{Attempt, TestKey};

/// A test and the seconds it is expected to take.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedTest {
    pub name: String,
    pub expected: f64,
}

/// Tests of one binary, in the order they are to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub binary: usize,
    /// The whole binary as one test (its one entry is named after the binary id).
    pub opaque: bool,
    pub tests: VecDeque<PlannedTest>,
}

impl Segment {
    /// A segment of the same binary with no tests yet.
    pub fn empty_like(&self) -> Segment {
        Segment {
            binary: self.binary,
            opaque: self.opaque,
            tests: VecDeque::new(),
        }
    }

    /// The tests for which `pick` holds, and the rest, each in this segment's order.
    pub fn split_off(self, pick: impl Fn(&PlannedTest) -> bool) -> (Segment, Segment) {
        let (mut picked, mut rest) = (self.empty_like(), self.empty_like());
        for t in self.tests {
            if pick(&t) {
                picked.tests.push_back(t);
            } else {
                rest.tests.push_back(t);
            }
        }
        (picked, rest)
    }

    pub fn time(&self) -> f64 {
        self.tests.iter().map(|t| t.expected).sum()
    }

    /// All of it, as one chunk (for reporting what will not run).
    fn into_chunk(self) -> Chunk {
        Chunk {
            binary: self.binary,
            tests: if self.opaque {
                UnitTests::Opaque
            } else {
                UnitTests::Named(self.tests.into_iter().map(|t| t.name).collect())
            },
        }
    }

    fn longest(&self) -> f64 {
        self.tests.iter().map(|t| t.expected).fold(0.0, f64::max)
    }
}

/// How a worker takes from its own queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnRule {
    /// The whole front segment: a scope, or a copy under `each`, runs in one process.
    Whole,
    /// Half of what the worker has left (but enough to pay for the process), so that
    /// the other half is always there to be stolen.
    Halving,
}

/// The most bytes of test names one command line carries, so argument lists stay far
/// below the operating system's limit however large a binary is.
const MAX_ARG_BYTES: usize = 64 * 1024;

/// A chunk that holds `slots` worker slots while it runs (optionally only for one worker).
#[derive(Clone, Debug)]
struct Special {
    segment: Segment,
    slots: usize,
    worker: Option<usize>,
}

/// One tier of the work: everything a schedule hands out, in the order it does.
#[derive(Clone, Debug)]
struct Tier {
    /// Chunks that hold slots, handed out before anything else of the tier.
    special: VecDeque<Special>,
    /// Work that belongs to one worker (its slice under worksteal, its copy under
    /// `each`).
    own: Vec<VecDeque<Segment>>,
    /// Units that must run whole on one worker, handed out in this order.
    scopes: VecDeque<Vec<Segment>>,
    /// The load queue, shared by all workers.
    shared: VecDeque<Segment>,
    /// How many tests of each binary the shared queue was given: a binary whose
    /// processes are dear is still shared among all workers, but not cut finer.
    shared_counts: HashMap<usize, usize>,
}

impl Tier {
    fn new(workers: usize) -> Tier {
        Tier {
            special: VecDeque::new(),
            own: vec![VecDeque::new(); workers],
            scopes: VecDeque::new(),
            shared: VecDeque::new(),
            shared_counts: HashMap::new(),
        }
    }

    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.special
            .iter()
            .map(|s| &s.segment)
            .chain(self.own.iter().flatten())
            .chain(self.scopes.iter().flatten())
            .chain(self.shared.iter())
    }
}

/// What remains to be handed out, and the rules for handing it out.
#[derive(Clone, Debug)]
pub struct Schedule {
    workers: usize,
    /// The slots each worker's running chunk holds (0 when it is asking).
    holding: Vec<usize>,
    /// The rest of the scope each worker took: run whole, in order, never stolen.
    taken: Vec<VecDeque<Segment>>,
    /// The work, in tiers handed out one after the other (one tier unless
    /// [`Schedule::then`] added more); what is pushed goes to the last.
    tiers: Vec<Tier>,
    own_rule: OwnRule,
    steal: bool,
    /// The slots a retried test must hold: its own for `#[serial]` and
    /// `#[resource_intensive]`, all of them for one with serial keys (its key-mates may
    /// run anywhere by then). Tests not here retry as plain ones.
    retry_slots: HashMap<TestKey, usize>,
}

impl Schedule {
    pub(super) fn new(workers: usize, own_rule: OwnRule, steal: bool) -> Self {
        let workers = workers.max(1);
        Schedule {
            workers,
            holding: vec![0; workers],
            taken: vec![VecDeque::new(); workers],
            tiers: vec![Tier::new(workers)],
            own_rule,
            steal,
            retry_slots: HashMap::new(),
        }
    }

    /// This schedule, then `next`'s work as a tier of its own: none of it is handed to a
    /// worker while this schedule has any for it. Both are made for the same workers.
    pub(super) fn then(mut self, next: Schedule) -> Schedule {
        debug_assert_eq!(self.workers, next.workers);
        self.tiers.extend(next.tiers);
        self.retry_slots.extend(next.retry_slots);
        self
    }

    /// The tier pushed work goes to.
    fn last(&mut self) -> &mut Tier {
        let n = self.tiers.len();
        &mut self.tiers[n - 1]
    }

    /// `worker` holds `slots` worker slots for work given out beside the schedule (a
    /// suite), until it asks again.
    pub(super) fn hold(&mut self, worker: usize, slots: usize) {
        self.holding[worker] = slots;
    }

    /// Worker slots no running chunk holds.
    pub(super) fn free_slots(&self) -> usize {
        self.workers
            .saturating_sub(self.holding.iter().sum::<usize>())
    }

    pub(super) fn set_retry_slots(&mut self, test: TestKey, slots: usize) {
        self.retry_slots.insert(test, slots.clamp(1, self.workers));
    }

    pub(super) fn push_own(&mut self, worker: usize, segments: impl IntoIterator<Item = Segment>) {
        self.last().own[worker].extend(segments.into_iter().filter(|s| !s.tests.is_empty()));
    }

    /// A chunk that holds `slots` of the worker slots while it runs (all of them for
    /// `#[serial]`), for any worker or only `worker`.
    pub(super) fn push_special(&mut self, segment: Segment, slots: usize, worker: Option<usize>) {
        if !segment.tests.is_empty() {
            let slots = slots.clamp(1, self.workers);
            self.last().special.push_back(Special {
                segment,
                slots,
                worker,
            });
        }
    }

    pub(super) fn push_scope(&mut self, scope: Vec<Segment>) {
        let scope: Vec<Segment> = scope.into_iter().filter(|s| !s.tests.is_empty()).collect();
        if !scope.is_empty() {
            self.last().scopes.push_back(scope);
        }
    }

    pub(super) fn push_shared(&mut self, segments: impl IntoIterator<Item = Segment>) {
        let tier = self.last();
        for s in segments.into_iter().filter(|s| !s.tests.is_empty()) {
            *tier.shared_counts.entry(s.binary).or_default() += s.tests.len();
            tier.shared.push_back(s);
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Tests not yet handed out.
    pub fn remaining(&self) -> usize {
        self.all_segments().map(|s| s.tests.len()).sum()
    }

    fn all_segments(&self) -> impl Iterator<Item = &Segment> {
        self.taken
            .iter()
            .flatten()
            .chain(self.tiers.iter().flat_map(Tier::segments))
    }

    /// The next chunk of tier `t` for `worker` that needs no more than a slot.
    fn next_plain(&mut self, t: usize, worker: usize, cost: &CostModel) -> Option<Chunk> {
        let workers = self.workers;
        loop {
            if !self.taken[worker].is_empty() {
                return take_chunk(&mut self.taken[worker], Take::Whole);
            }
            let tier = &mut self.tiers[t];
            if let Some(front) = tier.own[worker].front() {
                let take = match self.own_rule {
                    OwnRule::Whole => Take::Whole,
                    OwnRule::Halving => Take::Guided {
                        target: queue_time(&tier.own[worker]) / 2.0,
                        min_count: cost.min_chunk(front.binary),
                        no_overshoot: false,
                    },
                };
                return take_chunk(&mut tier.own[worker], take);
            }
            if let Some(scope) = tier.scopes.pop_front() {
                self.taken[worker].extend(scope);
                continue;
            }
            if let Some(front) = tier.shared.front() {
                // Guided self-scheduling: a worker's share of what is left, so chunks
                // are large at first and shrink as the queue drains.
                // Chunks are never smaller than a process is worth, except to give each
                // worker a share of a binary: the workers would idle otherwise.
                let share = tier
                    .shared_counts
                    .get(&front.binary)
                    .map_or(1, |n| n.div_ceil(workers));
                let take = Take::Guided {
                    target: queue_time(&tier.shared) / workers as f64,
                    min_count: cost.min_chunk(front.binary).min(share),
                    no_overshoot: true,
                };
                return take_chunk(&mut tier.shared, take);
            }
            if self.steal && self.steal_for(t, worker) {
                continue;
            }
            return None;
        }
    }

    /// Moves the back half (by expected time) of the longest other queue of tier `t` to
    /// `thief`.
    fn steal_for(&mut self, t: usize, thief: usize) -> bool {
        let own = &mut self.tiers[t].own;
        let victim = (0..self.workers)
            .filter(|&w| w != thief && !own[w].is_empty())
            .max_by(|&a, &b| queue_time(&own[a]).total_cmp(&queue_time(&own[b])));
        let Some(victim) = victim else {
            return false;
        };
        let half = queue_time(&own[victim]) / 2.0;
        let mut stolen: VecDeque<Segment> = VecDeque::new();
        let mut stolen_time = 0.0;
        let queue = &mut own[victim];
        while stolen.is_empty() || stolen_time < half {
            let Some(mut last) = queue.pop_back() else {
                break;
            };
            if last.opaque {
                stolen_time += last.time();
                stolen.push_front(last);
                continue;
            }
            let mut part = Segment {
                binary: last.binary,
                opaque: false,
                tests: VecDeque::new(),
            };
            while part.tests.is_empty() || stolen_time < half {
                let Some(t) = last.tests.pop_back() else {
                    break;
                };
                stolen_time += t.expected;
                part.tests.push_front(t);
            }
            if !last.tests.is_empty() {
                queue.push_back(last);
            }
            stolen.push_front(part);
        }
        let found = !stolen.is_empty();
        own[thief].extend(stolen);
        found
    }

    /// A chunk of tier `t` that holds slots, for `worker` with `free` slots free, or
    /// `Wait`: until the tier's slot-holding chunks are done nothing else starts, or a
    /// worker wanting every slot could wait for ever behind a stream of small chunks.
    fn next_special(&mut self, t: usize, worker: usize, free: usize) -> Next {
        let special = &mut self.tiers[t].special;
        let fits = special
            .iter()
            .position(|s| s.slots <= free && s.worker.is_none_or(|w| w == worker));
        let Some(special) = fits.and_then(|i| special.remove(i)) else {
            return Next::Wait;
        };
        self.holding[worker] = special.slots;
        let mut queue = VecDeque::from([special.segment]);
        match take_chunk(&mut queue, Take::Whole) {
            Some(chunk) => Next::Run(chunk),
            None => Next::Wait,
        }
    }
}

impl WorkQueue for Schedule {
    fn workers(&self) -> usize {
        self.workers
    }

    fn remaining(&self) -> usize {
        Schedule::remaining(self)
    }

    fn next(&mut self, worker: usize, cost: &CostModel) -> Next {
        self.holding[worker] = 0;
        let free = self.workers - self.holding.iter().sum::<usize>();
        for t in 0..self.tiers.len() {
            if !self.tiers[t].special.is_empty() {
                return self.next_special(t, worker, free);
            }
            if free == 0 && self.remaining() > 0 {
                // The last slot-holding chunk still runs (a `#[serial]` test, say).
                return Next::Wait;
            }
            if let Some(chunk) = self.next_plain(t, worker, cost) {
                self.holding[worker] = 1;
                return Next::Run(chunk);
            }
        }
        Next::Done
    }

    /// A retry holds the slots its markers ask for.
    fn push_retry(&mut self, test: &TestKey, _: Attempt, opaque: bool, worker: Option<usize>) {
        let segment = Segment {
            binary: test.binary,
            opaque,
            tests: [PlannedTest {
                name: test.name.clone(),
                expected: 0.0,
            }]
            .into(),
        };
        match (self.retry_slots.get(test), worker) {
            (Some(&slots), w) => self.push_special(segment, slots, w),
            (None, Some(w)) => self.push_special(segment, 1, Some(w)),
            (None, None) => self.last().shared.push_back(segment),
        }
    }

    fn take_binary(&mut self, binary: usize) -> Vec<Chunk> {
        let mut taken: Vec<Segment> = Vec::new();
        let mut specials: Vec<Segment> = Vec::new();
        let mut keep = |q: &mut VecDeque<Segment>| {
            let (out, stay): (Vec<Segment>, Vec<Segment>) =
                q.drain(..).partition(|s| s.binary == binary);
            taken.extend(out);
            q.extend(stay);
        };
        for q in &mut self.taken {
            keep(q);
        }
        for tier in &mut self.tiers {
            for q in &mut tier.own {
                keep(q);
            }
            keep(&mut tier.shared);
            for scope in &mut tier.scopes {
                let mut q: VecDeque<Segment> = std::mem::take(scope).into();
                keep(&mut q);
                *scope = q.into();
            }
            tier.scopes.retain(|s| !s.is_empty());
            let (out, stay): (Vec<Special>, Vec<Special>) = tier
                .special
                .drain(..)
                .partition(|s| s.segment.binary == binary);
            specials.extend(out.into_iter().map(|s| s.segment));
            tier.special.extend(stay);
        }
        taken.extend(specials);
        taken.into_iter().map(Segment::into_chunk).collect()
    }

    /// Only single-test segments of the shared queue are looked at: stress queues
    /// nothing else.
    fn remove_test(&mut self, test: &TestKey) {
        for tier in &mut self.tiers {
            tier.shared.retain(|s| {
                !(s.binary == test.binary && s.tests.len() == 1 && s.tests[0].name == test.name)
            });
        }
    }

    fn drain(&mut self) -> Vec<Chunk> {
        let mut segments: Vec<Segment> = Vec::new();
        for q in &mut self.taken {
            segments.extend(q.drain(..));
        }
        for tier in &mut self.tiers {
            segments.extend(tier.special.drain(..).map(|s| s.segment));
            for q in &mut tier.own {
                segments.extend(q.drain(..));
            }
            segments.extend(tier.scopes.drain(..).flatten());
            segments.extend(tier.shared.drain(..));
        }
        segments.into_iter().map(Segment::into_chunk).collect()
    }
}

/// Longest first: segments by their longest test, then by their total, both descending.
/// Stable, so with nothing known the list order stays.
pub(super) fn sort_longest_first(segments: &mut [Segment]) {
    segments.sort_by(|a, b| {
        b.longest()
            .total_cmp(&a.longest())
            .then(b.time().total_cmp(&a.time()))
    });
}

fn queue_time(q: &VecDeque<Segment>) -> f64 {
    q.iter().map(Segment::time).sum()
}

#[derive(Clone, Copy, Debug)]
enum Take {
    Whole,
    /// Tests from the front until their expected time reaches `target` and there are at
    /// least `min_count` of them (one at the very least).
    Guided {
        target: f64,
        min_count: usize,
        /// Stop before a test that would take the chunk past `target`.
        no_overshoot: bool,
    },
}

fn take_chunk(queue: &mut VecDeque<Segment>, take: Take) -> Option<Chunk> {
    let front = queue.front_mut()?;
    let binary = front.binary;
    if front.opaque {
        queue.pop_front();
        return Some(Chunk {
            binary,
            tests: UnitTests::Opaque,
        });
    }
    let (target, min_count, no_overshoot) = match take {
        Take::Whole => (f64::INFINITY, usize::MAX, false),
        Take::Guided {
            target,
            min_count,
            no_overshoot,
        } => (target, min_count.max(1), no_overshoot),
    };
    let mut taken: Vec<PlannedTest> = Vec::new();
    let (mut time, mut bytes) = (0.0, 0);
    let mut reached = false;
    while let Some(t) = front.tests.front() {
        // Enough once the target is reached, or (from the shared queue) when the next test
        // would overshoot it: a long test left for another worker packs better than one
        // worker taking the three longest because the first two fell short of its share.
        // Nor is a remainder smaller than `min_count` left behind: it would cost a process
        // more than it is worth.
        let enough = !taken.is_empty()
            && (time >= target || (no_overshoot && time + t.expected > target))
            && taken.len() >= min_count
            && front.tests.len() >= min_count;
        let too_long = !taken.is_empty() && bytes + t.name.len() + 1 > MAX_ARG_BYTES;
        if enough || too_long {
            reached = enough && !too_long;
            break;
        }
        bytes += t.name.len() + 1;
        time += t.expected;
        taken.extend(front.tests.pop_front());
    }
    // A chunk of tiny tests ends where its module does when that is near (see
    // `to_module_end`): past the point reached, or back before the module it stopped
    // in when the command line is full.
    let last = taken.last().map(|t| t.name.clone());
    if reached {
        let k = to_module_end(front, last.as_deref(), time, taken.len());
        let k = k.filter(|&k| {
            let left = front.tests.len() - k;
            let fits = (front.tests.iter().take(k))
                .map(|t| t.name.len() + 1)
                .sum::<usize>();
            (left == 0 || left >= min_count) && bytes + fits <= MAX_ARG_BYTES
        });
        taken.extend(front.tests.drain(..k.unwrap_or(0)));
    } else if !front.tests.is_empty() {
        let start = module_start(&taken);
        if start > 0 && taken.len() - start <= taken.len() / 4 {
            for t in taken.drain(start..).rev() {
                front.tests.push_front(t);
            }
        }
    }
    let taken: Vec<String> = taken.into_iter().map(|t| t.name).collect();
    if front.tests.is_empty() {
        queue.pop_front();
    }
    Some(Chunk {
        binary,
        tests: UnitTests::Named(taken),
    })
}

/// Where the tests of the last one's module start in `taken` (0 when they are all of
/// it, or it has none).
fn module_start(taken: &[PlannedTest]) -> usize {
    fn module(name: &str) -> Option<&str> {
        name.rsplit_once("::").map(|(m, _)| m)
    }
    match taken.last().and_then(|t| module(&t.name)) {
        Some(m) => taken
            .iter()
            .rposition(|t| module(&t.name) != Some(m))
            .map_or(0, |i| i + 1),
        None => 0,
    }
}

/// How many more tests from the front of `segment` end the module of `last` (the name
/// up to its last `::`), if that is near: a quarter more tests and time at most, each no
/// longer than twice the chunk's mean. A chunk that ends where its module does is
/// selected by a few module prefixes instead of dozens of name prefixes, and libtest
/// compares every test of the binary with every filter (30 filters cost a process of
/// 20,000 tests 10 ms).
fn to_module_end(segment: &Segment, last: Option<&str>, time: f64, count: usize) -> Option<usize> {
    let module = |name: &str| name.rsplit_once("::").map(|(m, _)| m.len());
    let last = last?;
    let len = module(last)?;
    let of_last = |name: &str| module(name) == Some(len) && name.starts_with(&last[..len]);
    let mean = time / count.max(1) as f64;
    let mut extra = 0.0;
    for (k, t) in segment.tests.iter().enumerate() {
        if !of_last(&t.name) {
            return Some(k);
        }
        extra += t.expected;
        if k + 1 > count / 4 || extra > time / 4.0 || t.expected > 2.0 * mean {
            return None;
        }
    }
    Some(segment.tests.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(binary: usize, times: &[f64]) -> Segment {
        Segment {
            binary,
            opaque: false,
            tests: times
                .iter()
                .enumerate()
                .map(|(i, &t)| PlannedTest {
                    name: format!("b{binary}::t{i}"),
                    expected: t,
                })
                .collect(),
        }
    }

    fn sizes(s: &mut Schedule, worker: usize) -> Vec<usize> {
        let cost = CostModel::default();
        std::iter::from_fn(|| s.next(worker, &cost).chunk())
            .map(|c| c.len())
            .collect()
    }

    impl Next {
        fn chunk(self) -> Option<Chunk> {
            match self {
                Next::Run(c) => Some(c),
                Next::Wait => panic!("unexpected wait"),
                Next::Done => None,
            }
        }
    }

    #[test]
    fn slot_holding_chunks_go_first_and_wait_for_free_slots() {
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_special(seg(0, &[1.0]), 2, None);
        s.push_special(seg(1, &[1.0, 1.0]), 1, None);
        s.push_shared([seg(2, &[1.0; 4])]);
        let cost = CostModel::default();
        // Worker 0 takes the chunk that holds both slots: worker 1 must wait.
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 0);
        assert_eq!(s.next(1, &cost), Next::Wait);
        // Worker 0 is done with it: one-slot chunks may run side by side, but nothing
        // plain starts while a slot-holding chunk is still queued.
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 1);
        assert_eq!(s.next(1, &cost).chunk().unwrap().binary, 2);
    }

    /// A later tier starts once the first has nothing left to hand out, and its
    /// `#[serial]` chunk waits for the slot the first tier's last chunk still holds.
    #[test]
    fn tiers_go_in_order_and_share_the_slots() {
        let mut first = Schedule::new(2, OwnRule::Whole, false);
        first.push_shared([seg(0, &[1.0])]);
        let mut then = Schedule::new(2, OwnRule::Whole, false);
        then.push_special(seg(1, &[1.0]), 2, None);
        then.push_shared([seg(2, &[1.0; 2])]);
        let mut s = first.then(then);
        let cost = CostModel::default();
        assert_eq!(s.remaining(), 4);
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 0);
        assert_eq!(s.next(1, &cost), Next::Wait);
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 1);
        assert_eq!(s.next(1, &cost), Next::Wait);
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 2);
        assert_eq!(s.next(1, &cost).chunk().unwrap().binary, 2);
        assert_eq!(s.remaining(), 0);
    }

    #[test]
    fn pinned_chunks_wait_for_their_worker() {
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_special(seg(0, &[1.0]), 2, Some(1));
        let cost = CostModel::default();
        assert_eq!(s.next(0, &cost), Next::Wait);
        assert_eq!(s.next(1, &cost).chunk().unwrap().binary, 0);
        assert_eq!(s.next(0, &cost), Next::Done);
        assert_eq!(s.next(1, &cost), Next::Done);
    }

    #[test]
    fn nothing_starts_beside_the_last_serial_chunk() {
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_special(seg(0, &[1.0]), 2, None);
        s.push_shared([seg(1, &[1.0; 4])]);
        let cost = CostModel::default();
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 0);
        assert_eq!(s.next(1, &cost), Next::Wait);
        assert_eq!(s.next(0, &cost).chunk().unwrap().binary, 1);
        assert_eq!(s.next(1, &cost).chunk().unwrap().binary, 1);
    }

    #[test]
    fn shared_chunks_shrink_as_the_queue_drains() {
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_shared([seg(0, &[1.0; 1000])]);
        let sizes = sizes(&mut s, 0);
        assert_eq!(sizes.iter().sum::<usize>(), 1000);
        assert_eq!(sizes[0], 500);
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(*sizes.last().unwrap(), 1);
    }

    /// 1,000 tiny tests in modules of 60: the first chunk, half of them, ends with its
    /// module (540, not 500); far from a module's end, a chunk ends where its time does.
    #[test]
    fn a_chunk_of_tiny_tests_ends_with_its_module_when_that_is_near() {
        let named = |module_size: usize| Segment {
            binary: 0,
            opaque: false,
            tests: (0..1000)
                .map(|i| PlannedTest {
                    name: format!("m{:02}::t{i:04}", i / module_size),
                    expected: 0.001,
                })
                .collect(),
        };
        let first = |segment: Segment| {
            let mut s = Schedule::new(2, OwnRule::Whole, false);
            s.push_shared([segment]);
            s.next(0, &CostModel::default()).chunk().unwrap().len()
        };
        assert_eq!(first(named(60)), 540);
        // Modules of 400: the first ends 300 tests past the chunk's time, too far.
        assert_eq!(first(named(400)), 500);
    }

    /// A chunk whose command line is full ends before the module it stopped in, whose
    /// tests go to the next chunk.
    #[test]
    fn a_full_chunk_ends_before_the_module_it_stopped_in() {
        let tests: VecDeque<PlannedTest> = (0..5000)
            .map(|i| PlannedTest {
                name: format!("tests::m{:03}::t{i:05}", i / 100),
                expected: 0.001,
            })
            .collect();
        let mut queue = VecDeque::from([Segment {
            binary: 0,
            opaque: false,
            tests,
        }]);
        // 20 bytes a name: 3,276 fill the command line, 76 of module m032.
        let first = take_chunk(&mut queue, Take::Whole).unwrap();
        assert_eq!(first.len(), 3200);
        let second = take_chunk(&mut queue, Take::Whole).unwrap();
        match second.tests {
            UnitTests::Named(names) => assert_eq!(names[0], "tests::m032::t03200"),
            UnitTests::Opaque => panic!("named tests"),
        }
    }

    #[test]
    fn chunk_sizes_follow_expected_time_not_count() {
        // Two long tests then many short ones: the second long test would take the first
        // worker past its share of the time, so each worker gets one.
        let mut times = vec![10.0, 10.0];
        times.extend([0.1; 100]);
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_shared([seg(0, &times)]);
        let cost = CostModel::default();
        assert_eq!(s.next(0, &cost).chunk().unwrap().len(), 1);
        assert!(s.next(1, &cost).chunk().unwrap().len() < 100);
    }

    /// Five long tests, longest first, then tiny ones (memchr's suite): the first worker
    /// takes the two longest and leaves the third, which would take it past its share.
    #[test]
    fn a_long_test_past_a_workers_share_is_left_for_another() {
        let mut times = vec![4.5, 4.1, 3.8, 3.4, 3.0];
        times.extend([0.001; 200]);
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_shared([seg(0, &times)]);
        let cost = CostModel::default();
        assert_eq!(s.next(0, &cost).chunk().unwrap().len(), 2);
        assert_eq!(s.next(1, &cost).chunk().unwrap().len(), 1);
    }

    #[test]
    fn expensive_processes_get_larger_chunks() {
        let cost = crate::plan::cost::tests::heavy_fixture();
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_shared([seg(0, &[1.0; 300])]);
        // A worker's share, 150 tests, leaves enough for another process.
        assert_eq!(s.next(0, &cost).chunk().unwrap().len(), 150);
        // Half of the rest is below the 87 tests a process is worth, and so would be the
        // 63 left after 87: all of it.
        assert_eq!(s.next(1, &cost).chunk().unwrap().len(), 150);
        assert_eq!(s.next(0, &cost), Next::Done);
        // Fewer tests than two processes are worth: still one share per worker, as the
        // other would idle, but no third process.
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_shared([seg(0, &[1.0; 100])]);
        assert_eq!(s.next(0, &cost).chunk().unwrap().len(), 50);
        assert_eq!(s.next(1, &cost).chunk().unwrap().len(), 50);
        assert_eq!(s.next(0, &cost), Next::Done);
    }

    #[test]
    fn a_dry_worker_steals_the_back_half_of_the_longest_queue() {
        let mut s = Schedule::new(3, OwnRule::Halving, true);
        s.push_own(0, [seg(0, &[1.0; 4])]);
        s.push_own(1, [seg(1, &[1.0; 8])]);
        let cost = CostModel::default();
        let c = s.next(2, &cost).chunk().unwrap();
        // Worker 1 had 8 s queued: the thief took the last 4 tests and runs half of them.
        assert_eq!(c.binary, 1);
        assert_eq!(
            c.tests,
            UnitTests::Named(vec!["b1::t4".into(), "b1::t5".into()])
        );
        assert_eq!(s.remaining(), 4 + 4 + 2);
        // Worker 1 keeps the front half, in order.
        assert_eq!(
            s.next(1, &cost).chunk().unwrap().tests,
            UnitTests::Named(vec!["b1::t0".into(), "b1::t1".into()])
        );
    }

    #[test]
    fn a_broken_binary_is_taken_out_of_every_queue() {
        let mut s = Schedule::new(2, OwnRule::Whole, false);
        s.push_special(seg(0, &[1.0]), 2, None);
        s.push_own(1, [seg(0, &[1.0; 2]), seg(1, &[1.0])]);
        s.push_scope(vec![seg(0, &[1.0]), seg(2, &[1.0])]);
        s.push_shared([seg(0, &[1.0; 3])]);
        let taken: usize = s.take_binary(0).iter().map(Chunk::len).sum();
        assert_eq!(taken, 7);
        assert_eq!(s.remaining(), 2);
    }

    #[test]
    fn a_chunk_never_mixes_binaries() {
        let mut s = Schedule::new(1, OwnRule::Whole, false);
        s.push_shared([seg(0, &[1.0; 3]), seg(1, &[1.0; 5])]);
        assert_eq!(sizes(&mut s, 0), [3, 5]);
    }

    #[test]
    fn longest_first_orders_by_longest_test_then_total() {
        let mut v = vec![seg(0, &[0.1; 50]), seg(1, &[2.0]), seg(2, &[1.0, 1.0, 1.0])];
        sort_longest_first(&mut v);
        assert_eq!(v.iter().map(|s| s.binary).collect::<Vec<_>>(), [1, 2, 0]);
    }
}
