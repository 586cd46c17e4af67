//! `--partition KIND:K/N`: the share of a selection that shard K of N runs, so that N CI
//! machines together run every selected test exactly once. Tests that must stay on one
//! machine (those sharing a `#[serial(key)]` or a `#[group]`) move together.
//!
//! - `slice`: the units dealt round-robin in list order.
//! - `hash`: a unit goes where the hash of its name sends it, so adding a test moves no
//!   other.
//! - `time`: the units packed longest first (by the duration history) onto the shard
//!   with the least so far, so shards finish together.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use super::durations::Durations;
use super::filter::{Selection, Unit, UnitTests};
use crate::discover::{BinaryContent, Markers, TestList};
use crate::ids::TestKey;
use xpar_protocol::Serial;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionKind {
    Slice,
    Hash,
    Time,
}

impl PartitionKind {
    /// As `--partition` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionKind::Slice => "slice",
            PartitionKind::Hash => "hash",
            PartitionKind::Time => "time",
        }
    }
}

/// Shard `index` (from 1) of `total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub kind: PartitionKind,
    pub index: usize,
    pub total: usize,
}

pub use crate::errors::BadPartition;

impl FromStr for Partition {
    type Err = BadPartition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPartition::Syntax(s.to_owned());
        let (kind, shard) = s.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "slice" => PartitionKind::Slice,
            "hash" => PartitionKind::Hash,
            "time" => PartitionKind::Time,
            _ => return Err(bad()),
        };
        let (k, n) = shard.split_once('/').ok_or_else(bad)?;
        let (index, total): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > total {
            return Err(bad());
        }
        Ok(Partition { kind, index, total })
    }
}

/// The CI systems whose shard variables `--partition auto` reads, in the order tried:
/// (name, index variable, total variable, whether the index counts from 1).
const CI_SHARDS: &[(&str, &str, &str, bool)] = &[
    ("GitLab", "CI_NODE_INDEX", "CI_NODE_TOTAL", true),
    ("CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", false),
    (
        "Buildkite",
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        false,
    ),
    (
        "a Kubernetes Indexed Job",
        "JOB_COMPLETION_INDEX",
        "XPAR_PARTITION_TOTAL",
        false,
    ),
];

/// `--partition auto` (or `KIND:auto`): the shard the CI's variables give, read through
/// `var`, and a line saying where it came from. An error when no CI's variables are set,
/// or when they are not a shard.
pub fn from_ci(
    kind: PartitionKind,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Partition, String), BadPartition> {
    for (ci, index_var, total_var, one_based) in CI_SHARDS {
        let Some(index) = var(index_var) else {
            continue;
        };
        let total = var(total_var).ok_or_else(|| {
            BadPartition::Ci(format!("{index_var} is set but {total_var} is not"))
        })?;
        let bad = || {
            BadPartition::Ci(format!(
                "{index_var}={index}, {total_var}={total} is not a shard K of N"
            ))
        };
        let i: usize = index.trim().parse().map_err(|_| bad())?;
        let n: usize = total.trim().parse().map_err(|_| bad())?;
        let k = if *one_based { i } else { i + 1 };
        if k == 0 || k > n {
            return Err(bad());
        }
        let p = Partition {
            kind,
            index: k,
            total: n,
        };
        let said = format!("shard {k} of {n} from {ci} ({index_var}={index}, {total_var}={total})");
        return Ok((p, said));
    }
    let known: Vec<String> = CI_SHARDS
        .iter()
        .map(|(ci, i, t, _)| format!("{ci} {i}/{t}"))
        .collect();
    Err(BadPartition::Ci(format!(
        "no CI shard variables are set (read: {})",
        known.join(", ")
    )))
}

/// What moves between shards as one: a test, or the tests bound to one machine by a
/// serial key or a group.
struct Atom {
    /// What `hash` hashes: the test's binary id and name, or the key or group.
    name: String,
    tests: Vec<TestKey>,
}

/// The part of `selection` that `p`'s shard runs. The tests the other shards run count as
/// filtered out; each ignored test is reported by one shard only (the one `hash` gives
/// it), so that merged reports hold every test once.
pub fn partition(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
    p: &Partition,
) -> Selection {
    let atoms = atoms(list, selection);
    let shard_of: Vec<usize> = match p.kind {
        PartitionKind::Slice => (0..atoms.len()).map(|i| i % p.total).collect(),
        PartitionKind::Hash => atoms
            .iter()
            .map(|a| shard_by_hash(&a.name, p.total))
            .collect(),
        PartitionKind::Time => pack_by_time(list, &atoms, durations, p.total),
    };
    let mut kept: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut out = Selection {
        filtered_out: selection.filtered_out,
        ..Selection::default()
    };
    for (atom, shard) in atoms.iter().zip(shard_of) {
        if shard + 1 == p.index {
            for t in &atom.tests {
                kept.entry(t.binary).or_default().insert(t.name.clone());
            }
        } else {
            out.filtered_out += atom.tests.len();
        }
    }
    // Back to units, in the selection's order.
    for u in &selection.units {
        match &u.tests {
            UnitTests::Opaque => {
                if kept.contains_key(&u.binary) {
                    out.units.push(u.clone());
                }
            }
            UnitTests::Named(names) => {
                let Some(mine) = kept.get(&u.binary) else {
                    continue;
                };
                let keep: Vec<String> = names
                    .iter()
                    .filter(|n| mine.contains(n.as_str()))
                    .cloned()
                    .collect();
                if !keep.is_empty() {
                    out.units.push(Unit {
                        binary: u.binary,
                        tests: UnitTests::Named(keep),
                    });
                }
            }
        }
    }
    for t in &selection.ignored {
        let name = format!("{} {}", list.binaries[t.binary].binary.id, t.name);
        if shard_by_hash(&name, p.total) + 1 == p.index {
            out.ignored.push(t.clone());
        } else {
            out.filtered_out += 1;
        }
    }
    out
}

/// The selection's tests as atoms, in list order: tests sharing a serial key or a group
/// are one atom (keys and groups linked through shared tests join too).
fn atoms(list: &TestList, selection: &Selection) -> Vec<Atom> {
    let mut atoms: Vec<Atom> = Vec::new();
    // key or group label -> atom index
    let mut bound: HashMap<String, usize> = HashMap::new();
    for u in &selection.units {
        let id = list.binaries[u.binary].binary.id.as_str();
        let names: Vec<&str> = match &u.tests {
            UnitTests::Opaque => vec![id],
            UnitTests::Named(n) => n.iter().map(String::as_str).collect(),
        };
        // By name, once per binary: a scan per test would be quadratic in a binary of
        // 20,000 tests.
        let markers = markers_by_name(list, u.binary);
        for name in names {
            let key = TestKey::new(u.binary, name);
            let labels = labels(markers.get(name).copied());
            let home = labels.iter().find_map(|l| bound.get(l).copied());
            match home {
                Some(i) => {
                    atoms[i].tests.push(key);
                    // A test holding labels of two atoms joins them: its other atoms'
                    // tests move to `i`, their labels with them.
                    for l in &labels {
                        if let Some(j) = bound.get(l).copied().filter(|&j| j != i) {
                            let moved = std::mem::take(&mut atoms[j].tests);
                            atoms[i].tests.extend(moved);
                            bound.values_mut().filter(|v| **v == j).for_each(|v| *v = i);
                        }
                    }
                    for l in labels {
                        bound.entry(l).or_insert(i);
                    }
                }
                None => {
                    let name = labels
                        .first()
                        .cloned()
                        .unwrap_or_else(|| format!("{id} {name}"));
                    for l in labels {
                        bound.insert(l, atoms.len());
                    }
                    atoms.push(Atom {
                        name,
                        tests: vec![key],
                    });
                }
            }
        }
    }
    // Atoms joined into others are left empty.
    atoms.retain(|a| !a.tests.is_empty());
    atoms
}

/// The labels that bind a test to others: its serial keys and its group.
fn labels(m: Option<&Markers>) -> Vec<String> {
    let Some(m) = m else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Serial::Keys(keys) = &m.serial {
        out.extend(keys.iter().map(|k| format!("serial key {k}")));
    }
    if let Some(g) = &m.group {
        out.push(format!("group {g}"));
    }
    out
}

/// The markers of `binary`'s tests, by name.
pub(crate) fn markers_by_name(list: &TestList, binary: usize) -> HashMap<&str, &Markers> {
    match &list.binaries[binary].content {
        BinaryContent::Tests(tests) => tests
            .iter()
            .map(|t| (t.name.as_str(), &t.markers))
            .collect(),
        BinaryContent::Opaque { .. } => HashMap::new(),
    }
}

/// Longest first onto the shard with the least expected time so far (ties: the lower
/// shard), which keeps the largest shard within the longest atom of the ideal.
fn pack_by_time(
    list: &TestList,
    atoms: &[Atom],
    durations: &Durations,
    total: usize,
) -> Vec<usize> {
    let time = |a: &Atom| -> f64 {
        a.tests
            .iter()
            .map(|t| durations.estimator(list.binaries[t.binary].binary.id.as_str())(&t.name))
            .sum()
    };
    let times: Vec<f64> = atoms.iter().map(time).collect();
    let mut order: Vec<usize> = (0..atoms.len()).collect();
    order.sort_by(|&a, &b| times[b].total_cmp(&times[a]));
    let mut load = vec![0.0_f64; total];
    let mut shard_of = vec![0; atoms.len()];
    for i in order {
        let least = (0..total)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]))
            .unwrap_or(0);
        load[least] += times[i];
        shard_of[i] = least;
    }
    shard_of
}

/// The shard (from 0) of `total` that `name` hashes to: xxh3 (the hash nextest's
/// partitions use), whose value is fixed by its specification, the same on every machine
/// and toolchain; its high bits decide (multiply and shift).
fn shard_by_hash(name: &str, total: usize) -> usize {
    let h = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    ((u128::from(h) * total as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_and_bad_ones_are_refused() {
        assert_eq!(
            "time:2/4".parse(),
            Ok(Partition {
                kind: PartitionKind::Time,
                index: 2,
                total: 4
            })
        );
        for bad in [
            "time:0/4",
            "time:5/4",
            "count:1/2",
            "slice:1",
            "hash:a/b",
            "",
        ] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(err.to_string().contains("--partition"), "{err}");
        }
    }

    use crate::discover::{binary_id, BinaryKind, Harness, ListedBinary, ListedTest, TestBinary};
    use crate::plan::{select, TestFilter};

    /// Binary `b0` with `n` tests `t00..`, test `t03` and `t05` sharing serial key `db`,
    /// `t07` and `t08` in group `g`, `t09` ignored; test `tNN` takes NN+1 seconds.
    fn fixture(n: usize) -> (TestList, Durations) {
        let tests = (0..n)
            .map(|i| ListedTest {
                name: format!("t{i:02}"),
                ignored: i == 9,
                source_path: None,
                markers: Markers {
                    serial: if i == 3 || i == 5 {
                        Serial::Keys(vec!["db".into()])
                    } else {
                        Serial::No
                    },
                    group: (i == 7 || i == 8).then(|| "g".to_owned()),
                    ..Markers::default()
                },
            })
            .collect();
        (one_binary(tests), durations_of(n))
    }

    /// Binary `b0` holding `tests`.
    fn one_binary(tests: Vec<ListedTest>) -> TestList {
        TestList {
            binaries: vec![ListedBinary {
                binary: TestBinary {
                    id: binary_id("b0", BinaryKind::Lib, "b0"),
                    package: "b0".into(),
                    kind: BinaryKind::Lib,
                    path: "b0".into(),
                    cwd: ".".into(),
                    args: Vec::new(),
                    timeout: None,
                    env: vec![],
                    no_listing: None,
                    repeated: Vec::new(),
                    runner: Vec::new(),
                },
                content: BinaryContent::Tests(tests),
                harness: Harness::Libtest,
            }],
        }
    }

    /// Test `tNN` of `b0` takes NN+1 seconds.
    fn durations_of(n: usize) -> Durations {
        let mut d = Durations::default();
        d.merge_run(
            (0..n)
                .map(|i| ("b0", format!("t{i:02}"), (i + 1) as f64))
                .collect::<Vec<_>>()
                .iter()
                .map(|(b, t, s)| (*b, t.as_str(), *s)),
        );
        d
    }

    fn names(sel: &Selection) -> Vec<String> {
        sel.units
            .iter()
            .flat_map(|u| match &u.tests {
                UnitTests::Named(n) => n.clone(),
                UnitTests::Opaque => vec![],
            })
            .collect()
    }

    #[test]
    fn every_test_runs_on_exactly_one_shard_and_bound_tests_together() {
        let (list, d) = fixture(40);
        let all = select(&list, &TestFilter::default());
        for kind in [
            PartitionKind::Slice,
            PartitionKind::Hash,
            PartitionKind::Time,
        ] {
            for total in [1, 2, 3, 4, 8] {
                let mut seen: Vec<String> = Vec::new();
                let mut ignored = 0;
                for index in 1..=total {
                    let p = Partition { kind, index, total };
                    let part = partition(&list, &all, &d, &p);
                    let mine = names(&part);
                    for bound in [["t03", "t05"], ["t07", "t08"]] {
                        let here = bound
                            .iter()
                            .filter(|t| mine.contains(&t.to_string()))
                            .count();
                        assert!(here == 0 || here == 2, "{kind:?} {index}/{total}: {mine:?}");
                    }
                    assert_eq!(
                        part.run_count() + part.ignored.len() + part.filtered_out,
                        all.run_count() + all.ignored.len() + all.filtered_out,
                        "{kind:?} {index}/{total}"
                    );
                    ignored += part.ignored.len();
                    seen.extend(mine);
                }
                seen.sort();
                let mut expected = names(&all);
                expected.sort();
                assert_eq!(seen, expected, "{kind:?} /{total}");
                assert_eq!(ignored, all.ignored.len(), "{kind:?} /{total}");
            }
        }
    }

    /// A test holding two keys binds the tests of both, also when each key was first met
    /// on a test of its own (and so began an atom of its own).
    #[test]
    fn a_test_of_two_keys_joins_the_tests_of_both() {
        let test = |name: &str, keys: &[&str]| ListedTest {
            name: name.to_owned(),
            ignored: false,
            source_path: None,
            markers: Markers {
                serial: if keys.is_empty() {
                    Serial::No
                } else {
                    Serial::Keys(keys.iter().map(|k| k.to_string()).collect())
                },
                ..Markers::default()
            },
        };
        let mut tests = vec![
            test("a1", &["a"]),
            test("b1", &["b"]),
            test("c_both", &["a", "b"]),
        ];
        tests.extend((0..20).map(|i| test(&format!("free{i:02}"), &[])));
        let list = one_binary(tests);
        let all = select(&list, &TestFilter::default());
        for kind in [
            PartitionKind::Slice,
            PartitionKind::Hash,
            PartitionKind::Time,
        ] {
            for total in [2, 3, 4] {
                for index in 1..=total {
                    let p = Partition { kind, index, total };
                    let mine = names(&partition(&list, &all, &Durations::default(), &p));
                    let here = ["a1", "b1", "c_both"]
                        .iter()
                        .filter(|t| mine.contains(&t.to_string()))
                        .count();
                    assert!(here == 0 || here == 3, "{kind:?} {index}/{total}: {mine:?}");
                }
            }
        }
    }

    /// `time` keeps the largest shard within the longest unit of the ideal.
    #[test]
    fn time_shards_finish_together() {
        let (list, d) = fixture(40);
        let all = select(&list, &TestFilter::default());
        let secs = |sel: &Selection| -> f64 {
            names(sel)
                .iter()
                .map(|n| d.get("b0", n).unwrap_or_default())
                .sum()
        };
        let total_secs = secs(&all);
        for total in [2, 4, 8] {
            let largest = (1..=total)
                .map(|index| {
                    let p = Partition {
                        kind: PartitionKind::Time,
                        index,
                        total,
                    };
                    secs(&partition(&list, &all, &d, &p))
                })
                .fold(0.0, f64::max);
            let ideal = (total_secs / total as f64).max(40.0);
            assert!(
                largest <= 1.1 * ideal,
                "{total} shards: {largest} against {ideal}"
            );
        }
    }

    #[test]
    fn auto_reads_each_ci_and_says_which() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let (p, said) = from_ci(
            PartitionKind::Time,
            env(&[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")]),
        )
        .unwrap();
        assert_eq!((p.index, p.total), (2, 4));
        assert!(said.contains("GitLab"), "{said}");
        let (p, _) = from_ci(
            PartitionKind::Hash,
            env(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "3")]),
        )
        .unwrap();
        assert_eq!((p.kind, p.index, p.total), (PartitionKind::Hash, 1, 3));
        let (p, _) = from_ci(
            PartitionKind::Time,
            env(&[
                ("BUILDKITE_PARALLEL_JOB", "4"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "5"),
            ]),
        )
        .unwrap();
        assert_eq!((p.index, p.total), (5, 5));
        let (p, said) = from_ci(
            PartitionKind::Time,
            env(&[("JOB_COMPLETION_INDEX", "1"), ("XPAR_PARTITION_TOTAL", "2")]),
        )
        .unwrap();
        assert_eq!((p.index, p.total), (2, 2));
        assert!(said.contains("Kubernetes"), "{said}");
        let none = from_ci(PartitionKind::Time, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            none.contains("no CI shard variables") && none.contains("CI_NODE_INDEX"),
            "{none}"
        );
        let half = from_ci(PartitionKind::Time, env(&[("JOB_COMPLETION_INDEX", "1")]))
            .unwrap_err()
            .to_string();
        assert!(half.contains("XPAR_PARTITION_TOTAL is not"), "{half}");
        let out = from_ci(
            PartitionKind::Time,
            env(&[("CI_NODE_INDEX", "5"), ("CI_NODE_TOTAL", "4")]),
        )
        .unwrap_err()
        .to_string();
        assert!(out.contains("CI_NODE_INDEX=5"), "{out}");
    }

    #[test]
    fn hash_shards_are_even_on_names_that_differ_in_a_number() {
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            counts[shard_by_hash(&format!("tiny0 tests::m{}::t{}", i / 50, i % 50), 3)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }
}
