//! Reading the results directories given to `cargo xpar merge` and checking that they
//! make one run: one build, one selection, every shard once, every test in one shard.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use xpar_metadata::{ReportBinaryTests, RunReport};

use crate::errors::MergeError;
use crate::report::log::{self, RunHeader};
use crate::report::results_dir::REPORT_FILE;
use crate::report::RunEvent;

/// One shard's results.
pub struct Shard {
    pub dir: PathBuf,
    pub report: RunReport,
    pub header: RunHeader,
    pub events: Vec<RunEvent>,
    /// From 1.
    pub index: usize,
}

/// Reads every directory, in the order given.
pub fn read_all(dirs: &[PathBuf]) -> Result<Vec<Shard>, MergeError> {
    dirs.iter().map(|d| read(d)).collect()
}

fn read(dir: &Path) -> Result<Shard, MergeError> {
    let path = dir.join(REPORT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| MergeError::NotResults {
        dir: dir.to_owned(),
        why: if dir.is_dir() {
            format!("no {REPORT_FILE}: {e}")
        } else {
            "no such directory".to_owned()
        },
    })?;
    let report = RunReport::from_json(&text).map_err(|e| MergeError::NotResults {
        dir: dir.to_owned(),
        why: format!("{REPORT_FILE}: {e}"),
    })?;
    if report.build_id.is_none() {
        return Err(MergeError::NotResults {
            dir: dir.to_owned(),
            why: format!("{REPORT_FILE} has no build id (not written by --results-dir)"),
        });
    }
    let (header, events) = log::read(dir).map_err(|e| MergeError::NotResults {
        dir: dir.to_owned(),
        why: e.to_string(),
    })?;
    let index = report.partition.as_ref().map_or(1, |p| p.index);
    Ok(Shard {
        dir: dir.to_owned(),
        report,
        header,
        events,
        index,
    })
}

/// Checks that `shards` make one run, and sorts them by shard index.
pub fn check(shards: &mut [Shard]) -> Result<(), MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::NoShards);
    };
    let build = first.report.build_id.clone();
    let (kind, total) = first
        .report
        .partition
        .as_ref()
        .map_or((None, 1), |p| (Some(p.kind.clone()), p.total));
    for s in shards.iter() {
        if s.report.build_id != build {
            return Err(MergeError::DifferentBuilds {
                a: first.dir.clone(),
                a_id: build.clone().unwrap_or_default(),
                b: s.dir.clone(),
                b_id: s.report.build_id.clone().unwrap_or_default(),
            });
        }
        let p = &s.report.partition;
        if p.as_ref().map(|p| &p.kind) != kind.as_ref()
            || p.as_ref().map_or(1, |p| p.total) != total
        {
            return Err(MergeError::DifferentPartitions {
                a: first.dir.clone(),
                a_part: describe(&first.report),
                b: s.dir.clone(),
                b_part: describe(&s.report),
            });
        }
        if s.report.selection != first.report.selection {
            return Err(MergeError::DifferentSelections {
                a: first.dir.clone(),
                a_count: count(&first.report.selection),
                b: s.dir.clone(),
                b_count: count(&s.report.selection),
            });
        }
    }
    shards.sort_by_key(|s| s.index);
    check_shard_indices(shards, total)?;
    check_tests(shards)
}

fn describe(r: &RunReport) -> String {
    r.partition.as_ref().map_or_else(
        || "no partition".to_owned(),
        |p| format!("{}:{}/{}", p.kind, p.index, p.total),
    )
}

fn count(selection: &[ReportBinaryTests]) -> usize {
    selection.iter().map(|b| b.tests.len()).sum()
}

/// Every shard 1..=total exactly once (`shards` sorted by index).
fn check_shard_indices(shards: &[Shard], total: usize) -> Result<(), MergeError> {
    for pair in shards.windows(2) {
        if pair[0].index == pair[1].index {
            return Err(MergeError::ShardTwice {
                index: pair[0].index,
                total,
                a: pair[0].dir.clone(),
                b: pair[1].dir.clone(),
            });
        }
    }
    let given: BTreeSet<usize> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<usize> = (1..=total).filter(|k| !given.contains(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards { missing, total });
    }
    Ok(())
}

/// Every selected test reported by exactly one shard, and no shard reporting a test
/// outside the selection.
fn check_tests(shards: &[Shard]) -> Result<(), MergeError> {
    let mut by_test: HashMap<(&str, &str), Option<usize>> = HashMap::new();
    for b in &shards[0].report.selection {
        for t in &b.tests {
            by_test.insert((b.binary_id.as_str(), t.as_str()), None);
        }
    }
    for (i, s) in shards.iter().enumerate() {
        for t in &s.report.tests {
            let key = (t.binary_id.as_str(), t.name.as_str());
            match by_test.get_mut(&key) {
                None => {
                    return Err(MergeError::TestNotSelected {
                        dir: s.dir.clone(),
                        test: format!("{} {}", key.0, key.1),
                    })
                }
                Some(Some(j)) if *j != i => {
                    return Err(MergeError::TestTwice {
                        test: format!("{} {}", key.0, key.1),
                        a: shards[*j].dir.clone(),
                        b: s.dir.clone(),
                    })
                }
                Some(slot) => *slot = Some(i),
            }
        }
    }
    let mut missing: Vec<String> = by_test
        .iter()
        .filter(|(_, shard)| shard.is_none())
        .map(|((b, t), _)| format!("{b} {t}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort();
    Err(MergeError::TestsMissing {
        count: missing.len(),
        first: missing.swap_remove(0),
    })
}
