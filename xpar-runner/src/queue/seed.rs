//! The chunks a shared queue is seeded with: each binary's tests longest first, cut
//! into chunks of about the same expected time, all chunks longest first, as `--dist
//! load` hands work out. Pure: from the list, the selection and the history.

use xpar_metadata::queue::{ChunkSpec, ChunkTests};
use xpar_metadata::{Attempt, BinaryId};

use crate::discover::TestList;
use crate::plan::{Durations, Selection, UnitTests};

/// Chunks per test, at most: a chunk of one binary runs in one process, and a process
/// start costs what a few dozen tiny tests do.
const TESTS_PER_CHUNK: usize = 8;
/// The fewest and most chunks a run is cut into: enough to balance many machines'
/// workers, few enough that the queue's round trips stay small beside the tests.
const MIN_CHUNKS: usize = 64;
const MAX_CHUNKS: usize = 4096;

/// The run's chunks, longest expected first.
pub fn seed_chunks(
    list: &TestList,
    selection: &Selection,
    durations: &Durations,
) -> Vec<ChunkSpec> {
    let tests = selection.run_count();
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
    let chunks = (tests / TESTS_PER_CHUNK).clamp(MIN_CHUNKS, MAX_CHUNKS);
    let target = total / chunks as f64;
    let mut out: Vec<ChunkSpec> = Vec::new();
    for (binary, mut named, opaque) in timed {
        let binary_id = BinaryId::new(list.binaries[binary].binary.id.as_str());
        if opaque {
            out.push(chunk(&binary_id, None, named[0].1));
            continue;
        }
        named.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut current: Vec<String> = Vec::new();
        let mut secs = 0.0;
        for (name, s) in named {
            if !current.is_empty() && secs + s > target {
                out.push(chunk(&binary_id, Some(std::mem::take(&mut current)), secs));
                secs = 0.0;
            }
            current.push(name);
            secs += s;
        }
        if !current.is_empty() {
            out.push(chunk(&binary_id, Some(current), secs));
        }
    }
    out.sort_by(|a, b| b.expected_secs.total_cmp(&a.expected_secs));
    out
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
        let chunks = seed_chunks(&list, &selection, &durations);
        let mut seen: Vec<String> = chunks
            .iter()
            .flat_map(|c| match &c.tests {
                ChunkTests::Named(n) => n.clone(),
                ChunkTests::Opaque => vec![],
            })
            .collect();
        seen.sort();
        assert_eq!(seen, names, "every test once");
        // The time is cut into 1000 / 8 = 125 shares of (5 + 9.99) / 125 s: the long
        // test alone, the short ones 11 to a chunk (one left over).
        assert_eq!(chunks.len(), 1 + 999 / 11 + 1, "{}", chunks.len());
        assert_eq!(chunks[0].tests, ChunkTests::Named(vec!["t0500".into()]));
        assert!(chunks
            .windows(2)
            .all(|w| w[0].expected_secs >= w[1].expected_secs));
        let target = (5.0 + 999.0 * 0.01) / 125.0;
        assert!(chunks[1..].iter().all(|c| c.expected_secs <= target + 1e-9));
    }
}
