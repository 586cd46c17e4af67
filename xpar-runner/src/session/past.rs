//! What a run asks of the run history and leaves in it: the estimates it plans from
//! (or `--durations FILE`'s), the last run's failures (`--last-failed`,
//! `--failed-first`), and the run itself with its options.

use std::collections::HashSet;
use std::path::Path;

use xpar_metadata::{RunHeader, RunReport};

use super::{Reporter, RunOptions};
use crate::discover::TestList;
use crate::history::{self, Rerun, RunHistory, RunMeta};
use crate::ids::TestKey;
use crate::plan;

/// Whether the run moves the planner's estimates: not a time partition, which is cut
/// from them (every shard of a run must read the same ones, so a shard leaves them as
/// they were; `merge --durations` writes the next ones, from every shard's results).
fn updates_estimates(opts: &RunOptions) -> bool {
    !matches!(opts.partition, Some(p) if p.kind == plan::PartitionKind::Time)
}

/// `--durations FILE`: writes the estimates the run leaves; a warning when it cannot.
pub(super) fn save_history(
    opts: &RunOptions,
    history: &history::History,
    reporter: &mut dyn Reporter,
) {
    let Some(path) = opts
        .durations_file
        .as_deref()
        .filter(|_| updates_estimates(opts))
    else {
        return;
    };
    if let Err(e) = history::write(path, history) {
        reporter.warning(&format!(
            "could not update the duration history at {}: {e}",
            path.display()
        ));
    }
}

/// Appends the run to the run history, with the estimates it leaves unless they come
/// from `--durations FILE` (which keeps them) or it is a time shard.
pub(super) fn record_run(
    past: RunHistory,
    run_report: &RunReport,
    header: &RunHeader,
    opts: &RunOptions,
    history: &history::History,
    reporter: &mut dyn Reporter,
) {
    let options = options_json(opts).to_string();
    let own_estimates = opts.durations_file.is_none() && updates_estimates(opts);
    let meta = RunMeta {
        run_id: &header.run_id,
        started: &header.started,
        options: &options,
        estimates: own_estimates.then_some(history),
        keep_runs: opts.history_runs,
    };
    past.record(run_report, &meta, &mut |m| reporter.warning(&m));
}

/// `--last-failed`, `--failed-first`: the tests that failed in the last recorded run,
/// which go first; `whole` keeps only them under `--last-failed`. The run says what it
/// does with them.
pub(super) fn rerun_failed(
    opts: &RunOptions,
    past: &RunHistory,
    list: &TestList,
    whole: &mut plan::Selection,
    reporter: &mut dyn Reporter,
) -> HashSet<TestKey> {
    let Some(how) = opts.rerun else {
        return HashSet::new();
    };
    let last = past.last_run(&mut |m| reporter.warning(&m));
    let (first, note) = history::failed_tests(how, last.as_ref(), list, whole);
    reporter.note("History", &note);
    first
}

/// The run's options as the run history keeps them: what was selected and how it ran.
pub(super) fn options_json(opts: &RunOptions) -> serde_json::Value {
    let c = &opts.cargo;
    let f = &opts.filter;
    serde_json::json!({
        "packages": c.packages,
        "workspace": c.workspace,
        "exclude": c.exclude,
        "lib": c.lib,
        "bins": c.bins,
        "bin": c.bin,
        "tests": c.tests,
        "test": c.test,
        "examples": c.examples,
        "example": c.example,
        "all-targets": c.all_targets,
        "doc": c.doc,
        "features": c.features,
        "all-features": c.all_features,
        "no-default-features": c.no_default_features,
        "release": c.release,
        "profile": c.profile,
        "filters": f.patterns,
        "exact": f.exact,
        "skip": f.skip,
        "ignored": match f.run_ignored {
            plan::RunIgnored::Default => "default",
            plan::RunIgnored::Only => "only",
            plan::RunIgnored::Include => "include",
        },
        "markers": f.markers.as_ref().map(ToString::to_string),
        "jobs": opts.jobs,
        "dist": opts.dist.as_str(),
        "retries": opts.retry.retries,
        "maxfail": opts.max_fail.map(|m| m.count),
        "partition": opts.partition.map(|p| format!("{}:{}/{}", p.kind.as_str(), p.index, p.total)),
        "coverage": opts.coverage.is_some(),
        "archive": opts.archive.is_some(),
        "queue-run": opts.queue.as_ref().map(|q| q.run_id.clone()),
        "rerun": opts.rerun.map(Rerun::flag),
        "test-args": opts.test_args,
    })
}

/// The duration file; an empty one, with a warning, when it cannot be read.
pub(super) fn load_history(path: &Path, reporter: &mut dyn Reporter) -> history::History {
    history::load(path).unwrap_or_else(|why| {
        reporter.warning(&format!(
            "ignoring the duration history at {} ({why}); it is rebuilt by this run",
            path.display()
        ));
        history::History::default()
    })
}
