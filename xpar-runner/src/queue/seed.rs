//! The chunks a shared queue is seeded with: each binary's tests longest first, cut
//! into chunks of about the same expected time, all chunks longest first, as `--dist
//! load` hands work out. Pure: from the list, the selection and the history.

use xpar_metadata::queue::{ChunkSpec, ChunkTests};
use xpar_metadata::{Attempt, BinaryId};

use std::collections::BTreeMap;

use super::locks::Locks;
use crate::discover::TestList;
use crate::plan::{markers_by_name, Durations, ProcessCosts, Selection, UnitTests};

/// How many chunks the run's expected time is cut into, at least: enough to balance the
/// workers of many machines (the last chunks to finish are 1/256 of the run each).
const SHARES: f64 = 256.0;
/// A chunk runs in a process of its own: it holds at least this many times what a
/// process costs beyond its tests, so starting processes costs at most a quarter of the
/// run, as under `--dist load`.
const PROCESS_COST_FACTOR: f64 = 4.0;
/// What a process costs when the history does not say: a start and a libtest listing
/// of its names, a few milliseconds.
const DEFAULT_PROCESS_COST: f64 = 0.004;

/// The run's chunks, longest expected first.
pub fn seed_chunks(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
    processes: &ProcessCosts,
) -> Vec<ChunkSpec> {
    // (binary, its tests with their expected seconds, opaque)
    type Timed = (usize, Vec<(String, f64)>, bool);
    let mut timed: Vec<Timed> = Vec::new();
    let mut total = 0.0;
    for unit in &selection.units {
        let id = list.binaries[unit.binary].binary.id.as_str();
        let expect = durations.estimator(id);
        let (names, opaque) = match &unit.tests {
            UnitTests::Named(names) => (names.clone(), false),
            UnitTests::Opaque => (vec![id.to_owned()], true),
        };
        let named: Vec<(String, f64)> = names
            .into_iter()
            .map(|n| {
                let secs = expect(&n);
                (n, secs)
            })
            .collect();
        total += named.iter().map(|(_, s)| s).sum::<f64>();
        timed.push((unit.binary, named, opaque));
    }
    let share = total / SHARES;
    let mut out: Vec<ChunkSpec> = Vec::new();
    for (binary, mut named, opaque) in timed {
        let binary_id = BinaryId::new(list.binaries[binary].binary.id.as_str());
        let process = processes
            .get(binary_id.as_str())
            .map_or(DEFAULT_PROCESS_COST, |c| c.overhead.max(0.0));
        let target = share.max(PROCESS_COST_FACTOR * process);
        if opaque {
            out.push(chunk(&binary_id, None, named[0].1));
            continue;
        }
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        // Tests that hold the same things run together, apart from the others: a chunk
        // holds what any of its tests does for as long as it runs.
        let markers = markers_by_name(list, binary);
        let mut groups: BTreeMap<Locks, Vec<(String, f64)>> = BTreeMap::new();
        for (name, s) in named {
            let locks = markers
                .get(name.as_str())
                .map_or_else(Locks::free, |m| Locks::of(m));
            groups.entry(locks).or_default().push((name, s));
        }
        for tests in groups.into_values() {
            cut(&binary_id, tests, target, &mut out);
        }
    }
    out.sort_by(|a, b| b.expected_secs.total_cmp(&a.expected_secs));
    out
}

/// `tests` (longest first) in chunks of about `target` seconds each.
fn cut(binary_id: &BinaryId, tests: Vec<(String, f64)>, target: f64, out: &mut Vec<ChunkSpec>) {
    let mut current: Vec<String> = Vec::new();
    let mut secs = 0.0;
    for (name, s) in tests {
        if !current.is_empty() && secs + s > target {
            out.push(chunk(binary_id, Some(std::mem::take(&mut current)), secs));
            secs = 0.0;
        }
        current.push(name);
        secs += s;
    }
    if !current.is_empty() {
        out.push(chunk(binary_id, Some(current), secs));
    }
}

fn chunk(binary_id: &BinaryId, names: Option<Vec<String>>, secs: f64) -> ChunkSpec {
    ChunkSpec {
        binary_id: binary_id.clone(),
        tests: match names {
            Some(names) => ChunkTests::Named(names),
            None => ChunkTests::Opaque,
        },
        attempt: Attempt::FIRST,
        expected_secs: secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{ListedBinary, ListedTest};
    use crate::plan::Unit;

    #[test]
    fn every_test_once_in_chunks_of_about_equal_time_longest_first() {
        let names: Vec<String> = (0..1000).map(|i| format!("t{i:04}")).collect();
        let listed = names
            .iter()
            .map(|n| ListedTest {
                name: n.clone(),
                ..ListedTest::default()
            })
            .collect();
        let list = TestList {
            binaries: vec![ListedBinary::fake_lib("alpha", listed)],
        };
        let selection = Selection {
            units: vec![Unit {
                binary: 0,
                tests: UnitTests::Named(names.clone()),
            }],
            ..Selection::default()
        };
        let mut durations = Durations::default();
        // One long test, the rest short.
        durations.set("alpha", "t0500", 5.0);
        for n in &names {
            if n != "t0500" {
                durations.set("alpha", n, 0.01);
            }
        }
        let mut processes = ProcessCosts::new();
        processes.insert(
            "alpha".into(),
            crate::plan::ProcessCost {
                mean_test: 0.01,
                overhead: 0.005,
            },
        );
        let chunks = seed_chunks(&list, &selection, &durations, &processes);
        let mut seen: Vec<String> = chunks
            .iter()
            .flat_map(|c| match &c.tests {
                ChunkTests::Named(n) => n.clone(),
                ChunkTests::Opaque => vec![],
            })
            .collect();
        seen.sort();
        assert_eq!(seen, names, "every test once");
        // The time is cut into 256 shares of (5 + 9.99) / 256 = 0.0586 s (more than 4
        // process costs, 0.02 s): the long test alone, the short ones 5 to a chunk.
        assert_eq!(chunks.len(), 1 + 999 / 5 + 1, "{}", chunks.len());
        assert_eq!(chunks[0].tests, ChunkTests::Named(vec!["t0500".into()]));
        assert!(chunks
            .windows(2)
            .all(|w| w[0].expected_secs >= w[1].expected_secs));
        let target = (5.0 + 999.0 * 0.01) / 256.0;
        assert!(chunks[1..].iter().all(|c| c.expected_secs <= target + 1e-9));
    }
}
