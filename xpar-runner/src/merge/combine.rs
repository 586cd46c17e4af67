//! Shards combined into one run: every outcome from each shard's record (exactly as the
//! shard recorded it), workers numbered on from the previous shard's, and one duration
//! history.

use std::collections::HashSet;
use std::path::Path;

use xpar_metadata::{ReportShard, RunReport};

use super::shards::Shard;
use crate::errors::MergeError;
use crate::history::{self, History};
use crate::report::results_dir::DURATIONS_FILE;
use crate::report::{run_report, ReportMeta, RunRecord};

/// The shards as one run.
pub struct Merged {
    pub record: RunRecord,
    pub report: RunReport,
    /// How tests were shared among workers (the first shard's `--dist`).
    pub dist: String,
}

/// Combines checked shards (sorted by index).
pub fn combine(shards: &[Shard]) -> Merged {
    let mut merged = RunRecord::default();
    let mut shard_of: Vec<usize> = Vec::new();
    let mut shard_rows: Vec<ReportShard> = Vec::new();
    for s in shards {
        let mut r = RunRecord {
            flaky_is_failure: s.header.flaky_is_failure,
            ..RunRecord::default()
        };
        for e in &s.events {
            r.handle(e);
        }
        let first_worker = merged.workers;
        let shift = |w: &mut Option<usize>| *w = w.map(|w| w + first_worker);
        for mut o in r.outcomes {
            shift(&mut o.worker);
            for p in &mut o.previous {
                shift(&mut p.worker);
            }
            merged.outcomes.push(o);
            shard_of.push(s.index);
        }
        for mut n in r.notices {
            shift(&mut n.worker);
            merged.notices.push(n);
        }
        merged.flaky_is_failure |= r.flaky_is_failure;
        merged.workers += r.workers;
        merged.to_run += r.to_run;
        merged.wall = merged.wall.max(r.wall);
        merged.opaque.extend(r.opaque);
        merged.broken.extend(r.broken);
        if merged.cancelled.is_none() {
            merged.cancelled = r.cancelled.map(|why| format!("shard {}: {why}", s.index));
        }
        shard_rows.push(ReportShard {
            index: s.index,
            run_id: s.report.run_id.clone(),
            first_worker,
            workers: r.workers,
            wall_secs: r.wall.as_secs_f64(),
        });
    }
    merged.filtered_out = filtered_out(&shards[0]);
    let dist = shards[0].header.dist.clone();
    let meta = ReportMeta {
        build_id: shards[0].report.build_id.clone(),
        ..ReportMeta::default()
    };
    let mut report = run_report(&merged, &dist, &meta);
    for (t, shard) in report.tests.iter_mut().zip(shard_of) {
        t.shard = Some(shard);
    }
    report.shards = shard_rows;
    Merged {
        record: merged,
        report,
        dist,
    }
}

/// The tests the filters left out before the partition: a shard counts the other
/// shards' tests as filtered out too.
fn filtered_out(shard: &Shard) -> usize {
    let selected: usize = shard.report.selection.iter().map(|b| b.tests.len()).sum();
    let own: HashSet<(&str, &str)> = shard
        .report
        .tests
        .iter()
        .map(|t| (t.binary_id.as_str(), t.name.as_str()))
        .collect();
    shard
        .report
        .counts
        .filtered_out
        .saturating_sub(selected.saturating_sub(own.len()))
}

/// One duration history from the shards': each test's duration from the shard that ran
/// it, any other test's from the shards' earlier history.
pub fn durations(shards: &[Shard]) -> Result<History, MergeError> {
    let mut merged = History::default();
    let mut ran: Vec<(usize, History)> = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        let path = s.dir.join(DURATIONS_FILE);
        let h = read_history(&s.dir, &path)?;
        for (b, t, secs) in h.durations.entries() {
            if merged.durations.get(b, t).is_none() {
                merged.durations.set(b, t, secs);
            }
        }
        for (b, cost) in &h.processes {
            merged.processes.entry(b.clone()).or_insert(*cost);
        }
        ran.push((i, h));
    }
    for (i, h) in &ran {
        for o in &shards[*i].report.tests {
            let measured = matches!(
                o.status,
                xpar_metadata::ReportTestStatus::Passed | xpar_metadata::ReportTestStatus::Failed
            ) && o.worker.is_some();
            if let (true, Some(secs)) = (measured, h.durations.get(o.binary_id.as_str(), &o.name)) {
                merged.durations.set(o.binary_id.as_str(), &o.name, secs);
            }
        }
    }
    Ok(merged)
}

fn read_history(dir: &Path, path: &Path) -> Result<History, MergeError> {
    if !path.is_file() {
        return Err(MergeError::NotResults {
            dir: dir.to_owned(),
            why: format!("no {DURATIONS_FILE}"),
        });
    }
    history::load(path).map_err(|why| MergeError::NotResults {
        dir: dir.to_owned(),
        why: format!("{DURATIONS_FILE}: {why}"),
    })
}

/// Writes the merged history to `path`.
pub fn write_durations(path: &Path, h: History) -> Result<(), MergeError> {
    history::write(path, &h).map_err(|source| MergeError::Write {
        path: path.to_owned(),
        source,
    })
}
