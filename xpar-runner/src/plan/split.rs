//! Sorting a run's tests by how they may be scheduled: the slot-holding ones
//! (`#[serial]`, `#[resource_intensive]`), the ones that must share a worker (a scope,
//! a source file, a `#[group]`, a `#[serial(key)]`, joined where they overlap), and the
//! rest; and the expected time of each.

use std::collections::HashMap;

use super::durations::Durations;
use super::filter::{Selection, UnitTests};
use super::options::{DistMode, PlanOptions};
use super::schedule::{PlannedTest, Segment};
use crate::discover::{BinaryContent, BinaryKind, ListedTest, Markers, TestList};
use crate::ids::TestKey;
use xpar_protocol::Serial;

/// The tests of a run sorted by how they may be scheduled.
pub(super) struct Split {
    /// Tests that hold worker slots while they run, per binary: (segment, slots).
    pub special: Vec<(Segment, usize)>,
    /// Under `loadgroup`, the groups with a slot-holding test: every test of such a group
    /// holds the group's most slots and runs on the one worker given, so the group stays
    /// whole: (segment, slots, worker).
    pub pinned: Vec<(Segment, usize, usize)>,
    /// Tests that must run on one worker together, in list order.
    pub scopes: Vec<Vec<Segment>>,
    /// Everything else, per binary, in list order.
    pub rest: Vec<Segment>,
    /// (test, slots) for tests that must hold slots when retried.
    pub retry_slots: Vec<(TestKey, usize)>,
}

impl Split {
    /// The tests for which `first` holds, with every test that must share a worker with
    /// one of them (its whole scope), and the rest. Retries keep their slots in the first.
    pub fn partition(self, first: impl Fn(usize, &str) -> bool) -> (Split, Split) {
        let empty = || Split {
            special: Vec::new(),
            pinned: Vec::new(),
            scopes: Vec::new(),
            rest: Vec::new(),
            retry_slots: Vec::new(),
        };
        let (mut front, mut back) = (empty(), empty());
        let pick = |seg: Segment| {
            let binary = seg.binary;
            seg.split_off(|t| first(binary, &t.name))
        };
        for (seg, slots) in self.special {
            let (f, b) = pick(seg);
            front.special.push((f, slots));
            back.special.push((b, slots));
        }
        for (seg, slots, worker) in self.pinned {
            let (f, b) = pick(seg);
            front.pinned.push((f, slots, worker));
            back.pinned.push((b, slots, worker));
        }
        for seg in self.rest {
            let (f, b) = pick(seg);
            front.rest.push(f);
            back.rest.push(b);
        }
        let (with, without): (Vec<_>, Vec<_>) = self.scopes.into_iter().partition(|scope| {
            (scope.iter()).any(|seg| seg.tests.iter().any(|t| first(seg.binary, &t.name)))
        });
        front.scopes = with;
        back.scopes = without;
        front.retry_slots = self.retry_slots;
        for split in [&mut front, &mut back] {
            split.special.retain(|(s, _)| !s.tests.is_empty());
            split.pinned.retain(|(s, _, _)| !s.tests.is_empty());
            split.rest.retain(|s| !s.tests.is_empty());
        }
        (front, back)
    }
}

/// What ties a test to the tests it must share a worker with: tests with one label in
/// common run on one worker, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ScopeLabel {
    /// `loadscope`: a module of a binary (its path, empty at the top level).
    Module { binary: usize, module: String },
    /// `loadfile`: a source file of a binary (empty when the listing had none).
    File { binary: usize, file: String },
    /// `loadgroup`: a `#[group]`.
    Group(String),
    /// A `#[serial(key)]`, in every mode.
    SerialKey(String),
    /// A binary whose tests run together (see [`PlannedUnit::together`]).
    Binary(usize),
}

/// Sorts the tests of `units` for a run on `workers` workers.
pub(super) fn classify(units: &[PlannedUnit<'_>], opts: &PlanOptions, workers: usize) -> Split {
    let slot_groups = slot_groups(units, opts, workers);
    let mut special: Vec<(Segment, usize)> = Vec::new();
    let mut pinned: Vec<(Segment, (usize, usize))> = Vec::new();
    let mut retry_slots = Vec::new();
    let mut labelled: Vec<(usize, bool, PlannedTest, Vec<ScopeLabel>)> = Vec::new();
    let mut rest = Vec::new();
    for u in units {
        let binary = u.segment.binary;
        let mut loose = u.segment.empty_like();
        for (i, t) in u.segment.tests.iter().enumerate() {
            let listed = u.listed[i];
            let markers = listed.map(|l| l.markers.clone()).unwrap_or_default();
            let serial = effective_serial(&markers, opts.require_parallel_safe);
            if let Some(&(slots, worker)) =
                markers.group.as_deref().and_then(|g| slot_groups.get(g))
            {
                retry_slots.push((TestKey::new(binary, &t.name), slots));
                add_to_segment(&mut pinned, &u.segment, (slots, worker), t);
                continue;
            }
            if let Serial::Keys(_) = &serial {
                retry_slots.push((TestKey::new(binary, &t.name), workers));
            }
            if let Some(slots) = slots_of(&markers, opts, workers) {
                retry_slots.push((TestKey::new(binary, &t.name), slots));
                add_to_segment(&mut special, &u.segment, slots, t);
                continue;
            }
            let mut labels = labels_of(opts.mode, binary, &t.name, listed, &markers, &serial);
            if u.together {
                labels.push(ScopeLabel::Binary(binary));
            }
            if labels.is_empty() {
                loose.tests.push_back(t.clone());
            } else {
                labelled.push((binary, u.segment.opaque, t.clone(), labels));
            }
        }
        if !loose.tests.is_empty() {
            rest.push(loose);
        }
    }
    Split {
        special,
        pinned: pinned
            .into_iter()
            .map(|(seg, (slots, worker))| (seg, slots, worker))
            .collect(),
        scopes: join_scopes(labelled),
        rest,
        retry_slots,
    }
}

/// How many worker slots a test with `markers` holds while it runs, if it holds any:
/// all of them for `#[serial]` (and, under `each`, for serial keys, which cannot be
/// kept to one worker there), N for `#[resource_intensive(slots = N)]`.
fn slots_of(markers: &Markers, opts: &PlanOptions, workers: usize) -> Option<usize> {
    let serial = effective_serial(markers, opts.require_parallel_safe);
    match (&serial, markers.resource_slots) {
        (Serial::All, _) => Some(workers),
        (Serial::Keys(_), _) if opts.mode == DistMode::Each => Some(workers),
        (_, Some(n)) => Some((n as usize).clamp(1, workers)),
        _ => None,
    }
}

/// Under `loadgroup`, the groups with a slot-holding test: group -> (its most slots, its
/// worker). A group that also has a test with serial keys runs alone: its keys' other
/// tests may run anywhere.
fn slot_groups<'u>(
    units: &'u [PlannedUnit<'_>],
    opts: &PlanOptions,
    workers: usize,
) -> HashMap<&'u str, (usize, usize)> {
    let mut slot_groups: HashMap<&str, (usize, usize)> = HashMap::new();
    if opts.mode != DistMode::Loadgroup {
        return slot_groups;
    }
    let grouped = || {
        units
            .iter()
            .flat_map(|u| u.listed.iter().flatten())
            .filter_map(|l| Some((l.markers.group.as_deref()?, &l.markers)))
    };
    for (g, m) in grouped() {
        if let Some(n) = slots_of(m, opts, workers) {
            let next_worker = slot_groups.len() % workers;
            let e = slot_groups.entry(g).or_insert((n, next_worker));
            e.0 = e.0.max(n);
        }
    }
    for (g, m) in grouped() {
        let keyed = matches!(
            effective_serial(m, opts.require_parallel_safe),
            Serial::Keys(_)
        );
        if let (true, Some(e)) = (keyed, slot_groups.get_mut(g)) {
            e.0 = workers;
        }
    }
    slot_groups
}

/// Adds `t` to the segment of `unit`'s binary kept under `key`, or to a new one.
fn add_to_segment<K: PartialEq>(
    segments: &mut Vec<(Segment, K)>,
    unit: &Segment,
    key: K,
    t: &PlannedTest,
) {
    match segments
        .iter_mut()
        .find(|(s, k)| s.binary == unit.binary && *k == key)
    {
        Some((seg, _)) => seg.tests.push_back(t.clone()),
        None => {
            let mut seg = unit.empty_like();
            seg.tests.push_back(t.clone());
            segments.push((seg, key));
        }
    }
}

/// What ties a test to the tests it must share a worker with: under `mode`, its module,
/// its source file or its group; in every mode, its serial keys. No label: it may run
/// anywhere.
fn labels_of(
    mode: DistMode,
    binary: usize,
    name: &str,
    listed: Option<&ListedTest>,
    markers: &Markers,
    serial: &Serial,
) -> Vec<ScopeLabel> {
    let mut labels = Vec::new();
    match mode {
        DistMode::Loadscope => labels.push(ScopeLabel::Module {
            binary,
            module: module_of(name).to_owned(),
        }),
        DistMode::Loadfile => {
            let file = listed.and_then(|l| l.source_path.as_deref());
            labels.push(ScopeLabel::File {
                binary,
                file: file.unwrap_or("").to_owned(),
            });
        }
        DistMode::Loadgroup => {
            labels.extend(markers.group.clone().map(ScopeLabel::Group));
        }
        _ => {}
    }
    if let Serial::Keys(keys) = serial {
        labels.extend(keys.iter().cloned().map(ScopeLabel::SerialKey));
    }
    labels
}

/// What `#[serial]` means for a test in this run: `--require-parallel-safe` makes every
/// test that did not declare itself safe (or name its serial keys) `#[serial]`. A test
/// that holds worker slots and serial keys is run alone: slot phases and key scopes
/// cannot both hold it.
pub(super) fn effective_serial(m: &Markers, require_parallel_safe: bool) -> Serial {
    match &m.serial {
        Serial::No if require_parallel_safe && !m.parallel_safe => Serial::All,
        Serial::Keys(_) if m.resource_slots.is_some() => Serial::All,
        other => other.clone(),
    }
}

/// Joins tests that share a label (scope, file, group, serial key) into scopes: a test
/// with labels `a` and `b` joins the scopes of both. Each scope keeps list order, its
/// tests split by binary.
fn join_scopes(labelled: Vec<(usize, bool, PlannedTest, Vec<ScopeLabel>)>) -> Vec<Vec<Segment>> {
    let mut ids: HashMap<&ScopeLabel, usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (_, _, _, labels) in &labelled {
        let mut first = None;
        for l in labels {
            let id = *ids.entry(l).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            });
            match first {
                None => first = Some(id),
                Some(f) => {
                    let (a, b) = (find(&mut parent, f), find(&mut parent, id));
                    parent[b] = a;
                }
            }
        }
    }
    let roots: Vec<usize> = labelled
        .iter()
        .map(|(_, _, _, labels)| {
            let id = ids[&labels[0]];
            find(&mut parent, id)
        })
        .collect();
    let mut scopes: Vec<Vec<Segment>> = Vec::new();
    let mut scope_of_root: HashMap<usize, usize> = HashMap::new();
    for ((binary, opaque, test, _), root) in labelled.into_iter().zip(roots) {
        let i = *scope_of_root.entry(root).or_insert_with(|| {
            scopes.push(Vec::new());
            scopes.len() - 1
        });
        let segs = &mut scopes[i];
        match segs.iter_mut().find(|s| s.binary == binary) {
            Some(seg) => seg.tests.push_back(test),
            None => segs.push(Segment {
                binary,
                opaque,
                tests: [test].into(),
            }),
        }
    }
    scopes
}

/// One selected binary's tests, with their expected times and their listing.
pub(super) struct PlannedUnit<'a> {
    pub segment: Segment,
    /// The listed test behind each planned test (`None` for an opaque binary).
    pub listed: Vec<Option<&'a ListedTest>>,
    /// Whether the unit's tests run in one process on one worker: an edition 2024
    /// library's doctests, which rustdoc compiles into one program for every process
    /// that runs any of them (see `docs/design/doctests.md`).
    pub together: bool,
}

pub(super) fn planned_units<'a>(
    list: &'a TestList,
    selection: &Selection,
    durations: &Durations,
) -> Vec<PlannedUnit<'a>> {
    selection
        .units
        .iter()
        // Suites are scheduled beside the tests (`SuiteQueue`), not among them.
        .filter(|u| list.binaries[u.binary].binary.kind != BinaryKind::Suite)
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
                    together: false,
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
                        together: lb.binary.merged_doctests(),
                    }
                }
            }
        })
        .collect()
}

/// The module path of a test: its name up to the last `::` (empty at the top level).
pub(super) fn module_of(name: &str) -> &str {
    name.rsplit_once("::").map_or("", |(m, _)| m)
}
