//! The distribution modes (`--dist`), with the meanings pytest-xdist users know, and the
//! pure function that turns a selection, the duration history and the options into the
//! [`Schedule`] a run follows.

use std::collections::HashMap;

use super::durations::Durations;
use super::filter::{Selection, UnitTests};
use super::schedule::{sort_longest_first, OwnRule, PlannedTest, Schedule, Segment};
use crate::discover::{BinaryContent, ListedTest, TestList};

/// How tests are shared among workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DistMode {
    /// Workers pull chunks from one queue, longest first; chunks shrink as it drains.
    #[default]
    Load,
    /// Tests of one module (binary id + module path) run on one worker, in order.
    Loadscope,
    /// Tests of one source file run on one worker, in order.
    Loadfile,
    /// Tests of one `#[group]` run on one worker; the rest as under `load`.
    Loadgroup,
    /// Each worker starts with an equal slice; one that runs dry steals half of the
    /// longest slice left.
    Worksteal,
    /// Every test runs once on every worker.
    Each,
    /// One worker, list order: the sequential baseline.
    No,
}

impl DistMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DistMode::Load => "load",
            DistMode::Loadscope => "loadscope",
            DistMode::Loadfile => "loadfile",
            DistMode::Loadgroup => "loadgroup",
            DistMode::Worksteal => "worksteal",
            DistMode::Each => "each",
            DistMode::No => "no",
        }
    }

    /// How many workers a run of `tests` tests needs with `jobs` allowed.
    pub fn workers(self, jobs: usize, tests: usize) -> usize {
        match self {
            DistMode::No => 1,
            // Every worker runs everything: idle ones would not be "each".
            DistMode::Each => jobs.max(1),
            _ => jobs.clamp(1, tests.max(1)),
        }
    }
}

/// What the planner needs besides the tests.
#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    pub mode: DistMode,
    pub workers: usize,
    /// Largest scopes first (`loadscope`, `loadfile`, `loadgroup`); off with
    /// `--no-loadscope-reorder`, which keeps list order.
    pub reorder_scopes: bool,
}

/// The schedule for `selection`: every selected test placed exactly once (once per
/// worker for `each`).
pub fn plan(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
    opts: &PlanOptions,
) -> Schedule {
    let units = planned_units(list, selection, durations);
    let workers = opts.workers.max(1);
    match opts.mode {
        DistMode::Load => {
            let mut s = Schedule::new(workers, OwnRule::Whole, false);
            s.push_shared(longest_first(units));
            s
        }
        DistMode::No => {
            let mut s = Schedule::new(1, OwnRule::Whole, false);
            s.push_own(0, units.into_iter().map(|u| u.segment));
            s
        }
        DistMode::Each => {
            let mut s = Schedule::new(workers, OwnRule::Whole, false);
            for w in 0..workers {
                s.push_own(w, units.iter().map(|u| u.segment.clone()));
            }
            s
        }
        DistMode::Worksteal => {
            let mut s = Schedule::new(workers, OwnRule::Halving, true);
            for (w, slice) in slices(longest_first(units), workers)
                .into_iter()
                .enumerate()
            {
                s.push_own(w, slice);
            }
            s
        }
        DistMode::Loadscope | DistMode::Loadfile => {
            let mut s = Schedule::new(workers, OwnRule::Whole, false);
            let key = |u: &PlannedUnit, i: usize| -> Option<String> {
                Some(if opts.mode == DistMode::Loadscope {
                    module_of(&u.segment.tests[i].name).to_owned()
                } else {
                    u.listed[i]
                        .and_then(|t| t.source_path.clone())
                        .unwrap_or_default()
                })
            };
            let (scopes, _) = scopes_by(&units, key);
            for scope in ordered(scopes, opts.reorder_scopes) {
                s.push_scope(scope);
            }
            s
        }
        DistMode::Loadgroup => {
            let mut s = Schedule::new(workers, OwnRule::Whole, false);
            let key = |u: &PlannedUnit, i: usize| u.listed[i].and_then(|t| t.markers.group.clone());
            let (groups, rest) = scopes_by(&units, key);
            // A group spans binaries: the (binary, group) scopes of one group are one.
            let mut merged: Vec<(String, Vec<Segment>)> = Vec::new();
            for (group, segs) in groups {
                match merged.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, all)) => all.extend(segs),
                    None => merged.push((group, segs)),
                }
            }
            for scope in ordered(merged, opts.reorder_scopes) {
                s.push_scope(scope);
            }
            s.push_shared(longest_first_segments(rest));
            s
        }
    }
}

/// One selected binary's tests, with their expected times and their listing.
struct PlannedUnit<'a> {
    segment: Segment,
    /// The listed test behind each planned test (`None` for an opaque binary).
    listed: Vec<Option<&'a ListedTest>>,
}

fn planned_units<'a>(
    list: &'a TestList,
    selection: &Selection,
    durations: &Durations,
) -> Vec<PlannedUnit<'a>> {
    selection
        .units
        .iter()
        .map(|u| {
            let lb = &list.binaries[u.binary];
            let id = lb.binary.id.as_str();
            let expected = durations.estimator(id);
            match &u.tests {
                UnitTests::Opaque => PlannedUnit {
                    segment: Segment {
                        binary: u.binary,
                        opaque: true,
                        tests: [PlannedTest {
                            name: id.to_owned(),
                            expected: expected(id),
                        }]
                        .into(),
                    },
                    listed: vec![None],
                },
                UnitTests::Named(names) => {
                    let by_name: HashMap<&str, &ListedTest> = match &lb.content {
                        BinaryContent::Tests(t) => t.iter().map(|t| (t.name.as_str(), t)).collect(),
                        BinaryContent::Opaque { .. } => HashMap::new(),
                    };
                    PlannedUnit {
                        segment: Segment {
                            binary: u.binary,
                            opaque: false,
                            tests: names
                                .iter()
                                .map(|n| PlannedTest {
                                    name: n.clone(),
                                    expected: expected(n),
                                })
                                .collect(),
                        },
                        listed: names
                            .iter()
                            .map(|n| by_name.get(n.as_str()).copied())
                            .collect(),
                    }
                }
            }
        })
        .collect()
}

/// Each unit's tests longest first, and the units ordered by their longest test.
fn longest_first(units: Vec<PlannedUnit<'_>>) -> Vec<Segment> {
    longest_first_segments(units.into_iter().map(|u| u.segment).collect())
}

fn longest_first_segments(mut segments: Vec<Segment>) -> Vec<Segment> {
    for s in &mut segments {
        s.tests
            .make_contiguous()
            .sort_by(|a, b| b.expected.total_cmp(&a.expected));
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

/// The module path of a test: its name up to the last `::` (empty at the top level).
fn module_of(name: &str) -> &str {
    name.rsplit_once("::").map_or("", |(m, _)| m)
}

/// Splits every unit's tests by `key`: tests with a key go to the scope of
/// (binary, key), in list order, scopes in order of first appearance; tests without
/// one are returned as plain segments.
fn scopes_by(
    units: &[PlannedUnit<'_>],
    key: impl Fn(&PlannedUnit<'_>, usize) -> Option<String>,
) -> (Vec<(String, Vec<Segment>)>, Vec<Segment>) {
    let mut scopes: Vec<(String, Vec<Segment>)> = Vec::new();
    let mut index: HashMap<(usize, String), usize> = HashMap::new();
    let mut rest = Vec::new();
    for u in units {
        let mut loose = Segment {
            binary: u.segment.binary,
            opaque: u.segment.opaque,
            tests: Default::default(),
        };
        for (i, t) in u.segment.tests.iter().enumerate() {
            let Some(k) = key(u, i) else {
                loose.tests.push_back(t.clone());
                continue;
            };
            let slot = *index
                .entry((u.segment.binary, k.clone()))
                .or_insert_with(|| {
                    scopes.push((
                        k,
                        vec![Segment {
                            binary: u.segment.binary,
                            opaque: u.segment.opaque,
                            tests: Default::default(),
                        }],
                    ));
                    scopes.len() - 1
                });
            scopes[slot].1[0].tests.push_back(t.clone());
        }
        if !loose.tests.is_empty() {
            rest.push(loose);
        }
    }
    (scopes, rest)
}

/// Scopes largest first (by expected time, which is the test count when nothing is
/// known), or in list order.
fn ordered(scopes: Vec<(String, Vec<Segment>)>, reorder: bool) -> Vec<Vec<Segment>> {
    let mut scopes: Vec<Vec<Segment>> = scopes.into_iter().map(|(_, s)| s).collect();
    if reorder {
        let time = |s: &Vec<Segment>| s.iter().map(Segment::time).sum::<f64>();
        scopes.sort_by(|a, b| time(b).total_cmp(&time(a)));
    }
    scopes
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;

    use super::*;
    use crate::discover::{BinaryId, BinaryKind, ListedBinary, Markers, TestBinary};
    use crate::plan::{select, Chunk, CostModel, TestFilter};

    /// A test for the list: (name, source file, group).
    type T = (String, &'static str, Option<&'static str>);

    fn list_of(bins: Vec<Vec<T>>) -> TestList {
        TestList {
            binaries: bins
                .into_iter()
                .enumerate()
                .map(|(b, tests)| {
                    let id = format!("crate{b}");
                    ListedBinary {
                        binary: TestBinary {
                            id: BinaryId::new(&id, BinaryKind::Lib, &id),
                            package: id.clone(),
                            kind: BinaryKind::Lib,
                            path: id.clone().into(),
                            cwd: ".".into(),
                            env: vec![],
                        },
                        content: BinaryContent::Tests(
                            tests
                                .into_iter()
                                .map(|(name, file, group)| ListedTest {
                                    name,
                                    ignored: false,
                                    source_path: Some(file.to_owned()),
                                    markers: Markers {
                                        group: group.map(str::to_owned),
                                    },
                                })
                                .collect(),
                        ),
                    }
                })
                .collect(),
        }
    }

    fn opts(mode: DistMode, workers: usize) -> PlanOptions {
        PlanOptions {
            mode,
            workers: mode.workers(workers, usize::MAX),
            reorder_scopes: true,
        }
    }

    /// (worker, binary, test name).
    type Handed = (usize, usize, String);

    /// Runs the schedule as workers asking in the order `turns` gives (cycled); a worker
    /// told there is nothing left retires. Returns (worker, binary, name) in hand-out
    /// order, and what a drain after `drain_after` chunks returned.
    fn simulate(
        mut s: Schedule,
        turns: &[usize],
        drain_after: Option<usize>,
    ) -> (Vec<Handed>, Vec<(usize, String)>) {
        let cost = CostModel::default();
        let mut active: Vec<usize> = (0..s.workers()).collect();
        let mut out = Vec::new();
        let mut drained = Vec::new();
        let mut chunks = 0;
        let mut turn = 0;
        while !active.is_empty() {
            let i = turns.get(turn % turns.len().max(1)).copied().unwrap_or(0) % active.len();
            turn += 1;
            let w = active[i];
            match s.next(w, &cost) {
                Some(c) => {
                    assert!(!c.is_empty());
                    out.extend(names(&c).into_iter().map(|n| (w, c.binary, n)));
                    chunks += 1;
                    if drain_after == Some(chunks) {
                        for c in s.drain() {
                            drained.extend(names(&c).into_iter().map(|n| (c.binary, n)));
                        }
                    }
                }
                None => {
                    active.remove(i);
                }
            }
        }
        assert_eq!(s.remaining(), 0);
        (out, drained)
    }

    fn names(c: &Chunk) -> Vec<String> {
        match &c.tests {
            UnitTests::Named(n) => n.clone(),
            UnitTests::Opaque => vec!["<opaque>".into()],
        }
    }

    fn arb_list() -> impl Strategy<Value = (TestList, Durations)> {
        let test = (0usize..3, 0usize..3, prop::option::of(0usize..3), 0u32..5);
        let binary = prop::collection::vec(test, 0..12);
        prop::collection::vec(binary, 1..5).prop_map(|bins| {
            let mut durations = Durations::default();
            let mut measured = Vec::new();
            let bins = bins
                .into_iter()
                .enumerate()
                .map(|(b, tests)| {
                    tests
                        .into_iter()
                        .enumerate()
                        .map(|(i, (module, file, group, ms))| {
                            let name = format!("m{module}::t{i}");
                            if ms > 0 {
                                measured.push((format!("crate{b}"), name.clone(), f64::from(ms)));
                            }
                            let file = ["a.rs", "b.rs", "c.rs"][file];
                            let group = group.map(|g| ["g0", "g1", "g2"][g]);
                            (name, file, group)
                        })
                        .collect()
                })
                .collect();
            durations.merge_run(
                measured
                    .iter()
                    .map(|(b, n, s)| (b.as_str(), n.as_str(), *s)),
            );
            (list_of(bins), durations)
        })
    }

    fn arb_mode() -> impl Strategy<Value = DistMode> {
        prop_oneof![
            Just(DistMode::Load),
            Just(DistMode::Loadscope),
            Just(DistMode::Loadfile),
            Just(DistMode::Loadgroup),
            Just(DistMode::Worksteal),
            Just(DistMode::Each),
            Just(DistMode::No),
        ]
    }

    /// The (binary, name) pairs of the selection, in list order.
    fn selected(list: &TestList) -> Vec<(usize, String)> {
        let sel = select(list, &TestFilter::default());
        sel.units
            .iter()
            .flat_map(|u| match &u.tests {
                UnitTests::Named(n) => n.iter().map(|n| (u.binary, n.clone())).collect(),
                UnitTests::Opaque => vec![(u.binary, "<opaque>".into())],
            })
            .collect()
    }

    fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
        v.sort();
        v
    }

    /// The scope a test belongs to under `mode`, if the mode keeps scopes whole.
    fn scope_of(list: &TestList, mode: DistMode, binary: usize, name: &str) -> Option<String> {
        let BinaryContent::Tests(tests) = &list.binaries[binary].content else {
            return None;
        };
        let t = tests.iter().find(|t| t.name == name)?;
        match mode {
            DistMode::Loadscope => Some(format!("{binary}/{}", module_of(name))),
            DistMode::Loadfile => Some(format!("{binary}/{}", t.source_path.clone()?)),
            DistMode::Loadgroup => t.markers.group.clone(),
            _ => None,
        }
    }

    proptest! {
        #[test]
        fn every_test_is_placed_exactly_once_and_scopes_stay_whole(
            (list, durations) in arb_list(),
            mode in arb_mode(),
            workers in 1usize..5,
            turns in prop::collection::vec(0usize..8, 1..20),
            drain_after in prop::option::of(1usize..6),
        ) {
            let sel = select(&list, &TestFilter::default());
            let o = opts(mode, workers);
            let schedule = plan(&list, &sel, &durations, &o);
            let (handed, drained) = simulate(schedule, &turns, drain_after);
            let want = selected(&list);

            if mode == DistMode::Each {
                prop_assume!(drain_after.is_none());
                for w in 0..o.workers {
                    let mine: Vec<(usize, String)> = handed.iter()
                        .filter(|(hw, _, _)| *hw == w)
                        .map(|(_, b, n)| (*b, n.clone()))
                        .collect();
                    // Each worker runs everything once, in list order.
                    prop_assert_eq!(&mine, &want);
                }
                return Ok(());
            }

            let mut all: Vec<(usize, String)> =
                handed.iter().map(|(_, b, n)| (*b, n.clone())).collect();
            all.extend(drained);
            prop_assert_eq!(sorted(all), sorted(want.clone()));

            if mode == DistMode::No {
                prop_assert!(handed.iter().all(|(w, _, _)| *w == 0));
                if drain_after.is_none() {
                    let order: Vec<(usize, String)> =
                        handed.iter().map(|(_, b, n)| (*b, n.clone())).collect();
                    prop_assert_eq!(order, want.clone());
                }
            }

            // Scopes: one worker each, tests in list order.
            let mut scopes: BTreeMap<String, Vec<(usize, usize, String)>> = BTreeMap::new();
            for (w, b, n) in &handed {
                if let Some(s) = scope_of(&list, mode, *b, n) {
                    scopes.entry(s).or_default().push((*w, *b, n.clone()));
                }
            }
            let position: HashMap<(usize, String), usize> =
                want.iter().cloned().enumerate().map(|(i, k)| (k, i)).collect();
            for (scope, tests) in scopes {
                let workers: Vec<usize> = tests.iter().map(|t| t.0).collect();
                prop_assert!(workers.windows(2).all(|p| p[0] == p[1]),
                    "scope {} split over workers {:?}", scope, workers);
                let pos: Vec<usize> = tests.iter().map(|(_, b, n)| position[&(*b, n.clone())]).collect();
                prop_assert!(pos.windows(2).all(|p| p[0] < p[1]),
                    "scope {} out of list order: {:?}", scope, tests);
            }
        }
    }

    fn named(names: &[&str]) -> Vec<T> {
        names
            .iter()
            .map(|n| (n.to_string(), "a.rs", None))
            .collect()
    }

    #[test]
    fn load_runs_the_longest_tests_first() {
        let list = list_of(vec![named(&["a", "b"]), named(&["long", "short"])]);
        let mut d = Durations::default();
        d.merge_run([
            ("crate0", "a", 0.1),
            ("crate0", "b", 0.2),
            ("crate1", "long", 5.0),
            ("crate1", "short", 0.01),
        ]);
        let sel = select(&list, &TestFilter::default());
        let mut s = plan(&list, &sel, &d, &opts(DistMode::Load, 2));
        let first = s.next(0, &CostModel::default()).unwrap();
        assert_eq!(first.binary, 1);
        assert_eq!(names(&first), ["long"]);
        let second = s.next(1, &CostModel::default()).unwrap();
        assert_eq!(names(&second), ["short"]);
        // Within a binary: longest first too, in chunks of a worker's share.
        let c = CostModel::default();
        assert_eq!(names(&s.next(1, &c).unwrap()), ["b"]);
        assert_eq!(names(&s.next(0, &c).unwrap()), ["a"]);
    }

    #[test]
    fn loadscope_hands_out_the_largest_scope_first_unless_told_not_to() {
        let list = list_of(vec![named(&["small::a", "big::a", "big::b", "big::c"])]);
        let sel = select(&list, &TestFilter::default());
        let d = Durations::default();
        let mut s = plan(&list, &sel, &d, &opts(DistMode::Loadscope, 2));
        let c = CostModel::default();
        assert_eq!(
            names(&s.next(0, &c).unwrap()),
            ["big::a", "big::b", "big::c"]
        );
        assert_eq!(names(&s.next(1, &c).unwrap()), ["small::a"]);
        let mut keep = opts(DistMode::Loadscope, 2);
        keep.reorder_scopes = false;
        let mut s = plan(&list, &sel, &d, &keep);
        assert_eq!(names(&s.next(0, &c).unwrap()), ["small::a"]);
    }

    #[test]
    fn a_group_spanning_binaries_goes_to_one_worker() {
        let list = list_of(vec![
            vec![("x".into(), "a.rs", Some("db")), ("y".into(), "a.rs", None)],
            vec![("z".into(), "b.rs", Some("db"))],
        ]);
        let sel = select(&list, &TestFilter::default());
        let mut s = plan(
            &list,
            &sel,
            &Durations::default(),
            &opts(DistMode::Loadgroup, 2),
        );
        let c = CostModel::default();
        assert_eq!(names(&s.next(0, &c).unwrap()), ["x"]);
        // Worker 1 gets the ungrouped test; the rest of the group stays with worker 0.
        assert_eq!(names(&s.next(1, &c).unwrap()), ["y"]);
        assert!(s.next(1, &c).is_none());
        assert_eq!(names(&s.next(0, &c).unwrap()), ["z"]);
    }

    #[test]
    fn worksteal_slices_are_equal_by_expected_time() {
        let list = list_of(vec![named(&["a", "b", "c", "d"])]);
        let mut d = Durations::default();
        d.merge_run([
            ("crate0", "a", 3.0),
            ("crate0", "b", 1.0),
            ("crate0", "c", 1.0),
            ("crate0", "d", 1.0),
        ]);
        let sel = select(&list, &TestFilter::default());
        let mut s = plan(&list, &sel, &d, &opts(DistMode::Worksteal, 2));
        let c = CostModel::default();
        assert_eq!(names(&s.next(0, &c).unwrap()), ["a"]);
        assert_eq!(names(&s.next(1, &c).unwrap()), ["b", "c"]);
        assert_eq!(names(&s.next(1, &c).unwrap()), ["d"]);
        assert!(s.next(0, &c).is_none());
    }
}
