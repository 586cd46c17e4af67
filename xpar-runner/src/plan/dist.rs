//! The pure function that turns a selection, the duration history and the options into
//! the [`Schedule`] a run follows, each distribution mode (`--dist`) laying it out its
//! own way.

use std::collections::HashSet;

use super::durations::Durations;
use super::filter::Selection;
use super::options::{DistMode, PlanOptions};
use super::schedule::{sort_longest_first, OwnRule, PlannedTest, Schedule, Segment};
use super::split::{classify, effective_serial, planned_units, Split};
use crate::discover::TestList;
use crate::ids::TestKey;
use xpar_protocol::Serial;

/// The schedule for `selection`: every selected test placed exactly once (once per
/// worker for `each`), with the markers kept:
/// - `#[serial]` tests run in a first phase, alone (they hold every worker slot);
/// - `#[resource_intensive(slots = N)]` tests in that phase too, holding N slots;
/// - tests that share a `#[serial(key)]` form one scope, run by one worker in order,
///   so no two of them overlap while everything else runs beside them.
pub fn plan(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
    opts: &PlanOptions,
) -> Schedule {
    plan_first(list, selection, durations, opts, &HashSet::new())
}

/// [`plan`], with the tests in `first` (`--failed-first`) handed out before any other:
/// they are planned as a tier of their own, with the tests that must share a worker with
/// them (their scope, their serial keys), and the rest start only once a worker has
/// nothing of that tier left to take. Slots are counted across both, so markers hold as
/// in one plan.
pub fn plan_first(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
    opts: &PlanOptions,
    first: &HashSet<TestKey>,
) -> Schedule {
    let units = planned_units(list, selection, durations);
    let is_first = |binary: usize, name: &str| {
        // No key is built (and no name copied) when nothing goes first.
        !first.is_empty() && first.contains(&TestKey::new(binary, name))
    };
    let workers = opts.workers.max(1);
    if opts.mode == DistMode::No {
        // One worker: nothing can overlap, so markers change nothing.
        let mut s = Schedule::new(1, OwnRule::Whole, false);
        let (front, back): (Vec<Segment>, Vec<Segment>) = units
            .into_iter()
            .map(|u| {
                let binary = u.segment.binary;
                u.segment.split_off(|t| is_first(binary, &t.name))
            })
            .unzip();
        s.push_own(0, front);
        s.push_own(0, back);
        return s;
    }
    let unmeasured = |b: usize| !durations.knows_binary(list.binaries[b].binary.id.as_str());
    let split = classify(&units, opts, workers);
    if first.is_empty() {
        return place(split, opts, workers, &unmeasured);
    }
    let (front, back) = split.partition(is_first);
    place(front, opts, workers, &unmeasured).then(place(back, opts, workers, &unmeasured))
}

/// The schedule of the tests of `split`, laid out as `opts.mode` does; `unmeasured` says
/// which binaries have no recorded durations.
fn place(
    split: Split,
    opts: &PlanOptions,
    workers: usize,
    unmeasured: &dyn Fn(usize) -> bool,
) -> Schedule {
    let own_rule = match opts.mode {
        DistMode::Worksteal => OwnRule::Halving,
        _ => OwnRule::Whole,
    };
    let mut s = Schedule::new(workers, own_rule, opts.mode == DistMode::Worksteal);
    for (test, slots) in split.retry_slots {
        s.set_retry_slots(test, slots);
    }
    if opts.mode == DistMode::Each {
        for w in 0..workers {
            for (seg, slots) in &split.special {
                s.push_special(seg.clone(), *slots, Some(w));
            }
            s.push_own(w, split.rest.iter().cloned());
        }
        return s;
    }
    for (seg, slots) in split.special {
        s.push_special(seg, slots, None);
    }
    for (seg, slots, worker) in split.pinned {
        s.push_special(seg, slots, Some(worker));
    }
    for scope in ordered(split.scopes, opts.reorder_scopes) {
        s.push_scope(scope);
    }
    match opts.mode {
        DistMode::Worksteal => {
            let slices = slices(longest_first_segments(split.rest), workers);
            for (w, slice) in slices.into_iter().enumerate() {
                s.push_own(w, slice);
            }
        }
        _ => s.push_shared(spread_unmeasured(
            longest_first_segments(split.rest),
            unmeasured,
            workers,
        )),
    }
    s
}

/// How many interleaved segments per worker a binary with no recorded durations is dealt
/// into, at most, and the fewest tests each of them gets.
const SPREAD_PER_WORKER: usize = 4;
const SPREAD_MIN_TESTS: usize = 16;
/// Binaries with more tests keep list order: a chunk of neighbours is selected by a few
/// name prefixes, a dealt one only by `--exact` names, which libtest compares with every
/// test it has.
const SPREAD_MAX_TESTS: usize = 2000;

/// Deals the tests of each binary nothing is known of round-robin into several segments
/// (a chunk never spans two). The long tests of a suite are often neighbours in list
/// order (one module's property tests): dealt, they land in different processes, which
/// the workers take as they free up, as cargo test's threads take tests one by one.
fn spread_unmeasured(
    segments: Vec<Segment>,
    unmeasured: &dyn Fn(usize) -> bool,
    workers: usize,
) -> Vec<Segment> {
    let mut out = Vec::with_capacity(segments.len());
    for seg in segments {
        let n = seg.tests.len();
        let parts = (SPREAD_PER_WORKER * workers).min(n / SPREAD_MIN_TESTS);
        if seg.opaque || parts < 2 || n > SPREAD_MAX_TESTS || !unmeasured(seg.binary) {
            out.push(seg);
            continue;
        }
        let mut dealt = vec![seg.empty_like(); parts];
        for (i, t) in seg.tests.into_iter().enumerate() {
            dealt[i % parts].tests.push_back(t);
        }
        out.extend(dealt);
    }
    out
}

/// `cargo xpar stress`: every selected test `count` times, each run a process of its
/// own (libtest runs a name once per process), the runs of all tests interleaved so
/// each test's runs spread over the whole stress run and over the workers. Markers hold
/// as in a run: a `#[serial]` or `#[serial(key)]` test runs alone (its runs would
/// otherwise overlap each other), a `#[resource_intensive]` one holds its slots.
pub fn stress_schedule(
    list: &TestList,
    selection: &Selection,
    count: usize,
    workers: usize,
) -> Schedule {
    let mut s = Schedule::new(workers, OwnRule::Whole, false);
    let units = planned_units(list, selection, &Durations::default());
    for _ in 0..count {
        for u in &units {
            for (t, listed) in u.segment.tests.iter().zip(&u.listed) {
                let single = Segment {
                    tests: [t.clone()].into(),
                    ..u.segment.empty_like()
                };
                let markers = listed.map(|l| &l.markers);
                let slots = markers.and_then(|m| match effective_serial(m, false) {
                    Serial::All | Serial::Keys(_) => Some(workers),
                    Serial::No => m.resource_slots.map(|n| n as usize),
                });
                match slots {
                    Some(n) => s.push_special(single, n, None),
                    None => s.push_shared([single]),
                }
            }
        }
    }
    s
}

/// Tests expected to take less than this are not reordered among themselves: packing
/// gains nothing from their order, and neighbours in name order are what lets a batch
/// be selected by a few name prefixes instead of thousands of `--exact` names.
const TINY_TEST_SECS: f64 = 0.005;

/// Each segment's tests longest first (tiny ones after, in list order), and the segments
/// ordered by their longest test.
fn longest_first_segments(mut segments: Vec<Segment>) -> Vec<Segment> {
    let key = |t: &PlannedTest| {
        if t.expected < TINY_TEST_SECS {
            0.0
        } else {
            t.expected
        }
    };
    for s in &mut segments {
        s.tests
            .make_contiguous()
            .sort_by(|a, b| key(b).total_cmp(&key(a)));
    }
    sort_longest_first(&mut segments);
    segments
}

/// Cuts `segments` into `workers` contiguous slices of about equal expected time: each
/// test goes to the slice in which its expected start time falls.
fn slices(segments: Vec<Segment>, workers: usize) -> Vec<Vec<Segment>> {
    let total: f64 = segments.iter().map(Segment::time).sum();
    let mut out: Vec<Vec<Segment>> = vec![Vec::new(); workers];
    let mut done = 0.0;
    for seg in segments {
        let mut current: Option<(usize, Segment)> = None;
        for t in seg.tests {
            let w = if total > 0.0 {
                ((done / total) * workers as f64) as usize
            } else {
                0
            }
            .min(workers - 1);
            done += t.expected;
            match &mut current {
                Some((cw, part)) if *cw == w => part.tests.push_back(t),
                _ => {
                    if let Some((cw, part)) = current.take() {
                        out[cw].push(part);
                    }
                    let part = Segment {
                        binary: seg.binary,
                        opaque: seg.opaque,
                        tests: [t].into(),
                    };
                    current = Some((w, part));
                }
            }
        }
        if let Some((cw, part)) = current {
            out[cw].push(part);
        }
    }
    out
}

/// Scopes largest first (by expected time, which is the test count when nothing is
/// known), or in list order.
fn ordered(mut scopes: Vec<Vec<Segment>>, reorder: bool) -> Vec<Vec<Segment>> {
    if reorder {
        let time = |s: &Vec<Segment>| s.iter().map(Segment::time).sum::<f64>();
        scopes.sort_by(|a, b| time(b).total_cmp(&time(a)));
    }
    scopes
}

#[cfg(test)]
#[path = "dist_tests.rs"]
mod tests;
