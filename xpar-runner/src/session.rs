//! The runner's entry points: a whole run ([`run`]), a stress run ([`stress`]), stress
//! plans held to thresholds ([`stress_plans`]) and a listing ([`list`]), each from
//! validated options to its result, telling a [`Reporter`] what happens as it happens.
//! Whatever asks (the command line, later an agent's tool call) builds the options and
//! shows what it is told.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::archive::{self, ArchiveSource};
use crate::cargo::CargoOptions;
use crate::coverage::{CoverageConfig, CoverageResult, CoverageSession};
use crate::discover::{self, BinaryKind, TestList};
use crate::errors::{Error, ListError, QueueError, ReportError, UsageError};
use crate::execute::{self, execute, CancelHandle, ExecuteOptions, MaxFail, RetryPolicy, Timeouts};
use crate::history::{Rerun, RunHistory};
use crate::ids::TestKey;
use crate::plan::{self, DistMode, PlanOptions, TestFilter, WorkQueue};
use crate::report::log::{self, RunLog};
use crate::report::results_dir::{self, ResultsInput};
use crate::report::{self, ReportMeta, RunEvent, RunRecord};
use crate::{exit_codes, history, queue, suite};
use xpar_metadata::{RunHeader, RunReport};

mod past;
use past::{load_history, record_run, rerun_failed, save_history};

mod stress;

pub use stress::{
    stress, stress_plans, NoTests, StressEnd, StressOptions, StressPlan, StressPlansEnd,
    StressPlansOptions, MAX_STRESS_RUNS,
};

/// What is told of a run beside its events.
pub trait Reporter {
    /// The run is planned. `show` is false when it has no test to run (nothing of it is
    /// worth showing then but the error); `expected` is the sum of the tests' expected
    /// times, when the history knows every one.
    fn planned(&mut self, show: bool, expected: Option<Duration>);
    fn event(&mut self, event: &RunEvent);
    /// Something went wrong that does not stop the run (the history or the run's record
    /// could not be read or written).
    fn warning(&mut self, message: &str);
    /// Something worth saying about the run's setup (which shared queue it joined, and
    /// how).
    fn note(&mut self, _label: &str, _message: &str) {}
    /// One plan of [`stress_plans`] is over, and this is its record (a single run's
    /// caller shows the end of the run itself, from the result).
    fn plan_finished(&mut self, _record: &RunRecord) {}
}

/// A run, validated.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub cargo: CargoOptions,
    pub filter: TestFilter,
    pub jobs: usize,
    pub dist: DistMode,
    pub reorder_scopes: bool,
    pub require_parallel_safe: bool,
    /// A test that kept k cores busy last time holds min(k, jobs) slots
    /// (`plan::apply_cpu_slots`).
    pub cpu_slots: bool,
    pub keep_tmp: bool,
    /// What stops scheduling (`--maxfail`, or 1 under fail-fast).
    pub max_fail: Option<MaxFail>,
    pub timeouts: Timeouts,
    pub run_timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub flaky_is_failure: bool,
    /// `--max-worker-restart`, resolved against the worker count.
    pub max_worker_restart: Option<usize>,
    /// Passing tests' output is wanted (shown, or written to the JSON report); without
    /// it libtest's own capture spares the pipe (see `BatchContext::capture` in
    /// `execute/context.rs`).
    pub keep_passing_output: bool,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// `--html`: written after the coverage report, whose table it shows.
    pub html: Option<PathBuf>,
    pub coverage: Option<CoverageConfig>,
    /// Extra arguments for every test process.
    pub test_args: Vec<String>,
    /// `--partition`: only this shard's share of the selected tests runs.
    pub partition: Option<plan::Partition>,
    /// `--durations FILE`: the planner's estimates are read from and written to this
    /// file instead of the run history, so CI can carry them between runs.
    pub durations_file: Option<PathBuf>,
    /// How many runs the run history keeps (the config file's `history-runs`).
    pub history_runs: usize,
    /// `--last-failed` or `--failed-first`.
    pub rerun: Option<Rerun>,
    /// `--results-dir DIR`: what `cargo xpar merge` needs of this run goes there
    /// (`report::results_dir`).
    pub results_dir: Option<PathBuf>,
    /// `--log-dir`: each test's output in a file of its own there.
    pub log_dir: Option<PathBuf>,
    /// The config file's command suites, and which of them run.
    pub suites: crate::suite::SuiteOptions,
    /// `--archive-file`: the tests come from this archive instead of a build.
    pub archive: Option<ArchiveSource>,
    /// `--queue URL --run-id ID`: the work comes from a queue machines share.
    pub queue: Option<queue::QueueOptions>,
    /// A config file's per-test overrides, applied to the listed tests before selection.
    pub overrides: Vec<plan::TestOverride>,
    /// Only these tests of those the filter selects, by binary id and name (an opaque
    /// binary by its binary id): what a caller that knows exactly which tests it wants
    /// asks for (an MCP client rerunning a run's failures; names alone are ambiguous
    /// across binaries).
    pub only: Option<BTreeMap<String, BTreeSet<String>>>,
    /// A handle to stop the run from outside (an MCP client cancelling its call); the
    /// command line passes `None` and is stopped by signals. A cancel made during the
    /// build stops the run before any test starts; the build itself is ended when
    /// `cargo.cancel` is the same handle.
    pub cancel: Option<CancelHandle>,
}

/// How a run ended.
pub struct RunEnd {
    pub record: RunRecord,
    /// The signal that stopped the run, if one did.
    pub signal: Option<i32>,
    /// The coverage of the run, under `--coverage` (not for an interrupted run, nor one
    /// with no test).
    pub coverage: Option<CoverageResult>,
    /// `--fail-under-lines`, for the caller to say why the exit code is what it is.
    pub fail_under_lines: Option<f64>,
    /// The exit code the run asks for (`exit_codes`).
    pub exit_code: i32,
}

/// The built and listed tests, and where the workspace and its target dir are.
pub struct Discovered {
    pub list: TestList,
    pub target_dir: PathBuf,
    pub workspace_root: PathBuf,
}

/// Builds the test binaries and lists their tests, `jobs` listings at a time; with
/// `doctests`, the libraries' doctests too when cargo test would run them.
pub fn discover(
    cargo: &CargoOptions,
    jobs: usize,
    coverage: bool,
    doctests: bool,
) -> Result<Discovered, Error> {
    let build = discover::build_test_binaries(cargo, coverage)?;
    let cache = discover::list_cache::dir(&build.target_dir);
    let mut list = discover::list_all(build.binaries, jobs, Some(&cache))?;
    if doctests && crate::doctest::discover::wanted(cargo) {
        let scratch = build.target_dir.join("xpar");
        let recorder = std::env::current_exe().map_err(doctest_error)?;
        let inputs = build.doctest_inputs.as_ref();
        let found = crate::doctest::discover::binaries(cargo, &recorder, &scratch, inputs)
            .map_err(doctest_error)?;
        list.binaries.extend(found);
    }
    // Build order depends on which crate finished compiling first; ids do not.
    list.binaries.sort_by(|a, b| a.binary.id.cmp(&b.binary.id));
    Ok(Discovered {
        list,
        target_dir: build.target_dir,
        workspace_root: build.workspace_root,
    })
}

fn doctest_error(e: impl Into<crate::doctest::discover::DoctestError>) -> Error {
    use crate::doctest::discover::DoctestError;
    match e.into() {
        DoctestError::Build(b) => Error::Build(b),
        DoctestError::Io(io) => Error::List(ListError::Doctests(io)),
    }
}

/// The tests a run with `cargo` would consider, listed as many at a time as there are
/// CPUs; with `archive`, the archive's.
pub fn list(
    cargo: &CargoOptions,
    jobs: usize,
    archive: Option<&ArchiveSource>,
) -> Result<TestList, Error> {
    match archive {
        Some(source) => Ok(archive::open(source)?.discovered.list),
        None => Ok(discover(cargo, jobs, false, true)?.list),
    }
}

/// Builds, lists, plans and runs the tests; writes the reports asked for, the history,
/// the run's record, the coverage report and the results directory.
pub fn run(opts: &RunOptions, reporter: &mut dyn Reporter) -> Result<RunEnd, Error> {
    // A queue that does not answer, or tools that are missing: said before building.
    if let Some(q) = &opts.queue {
        queue::check_reachable(q)?;
    }
    let coverage = opts
        .coverage
        .as_ref()
        .map(CoverageSession::start)
        .transpose()?;
    // git answers while cargo builds: asked after the build, the tests waited for it.
    // Asked where cargo starts from, which is in the workspace's repository.
    let probe_dir = (opts.cargo.manifest_path.as_deref())
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = history::CommitProbe::start(probe_dir);
    // An archive's extraction lives as long as the run.
    let (mut found, archive_info) = find_tests(opts, coverage.is_some(), reporter)?;
    plan::apply_overrides(&mut found.list, &opts.overrides);
    let suites = suites_of_run(opts, reporter)?;
    let suite_binaries = suite::listed(&suites, &found.workspace_root);
    found.list.binaries.extend(suite_binaries);
    let profile_dir = match &coverage {
        Some(c) => Some(c.profile_dir(&found.target_dir)?),
        None => None,
    };
    let mut warn = |m: String| reporter.warning(&m);
    let target = &found.target_dir;
    let mut past = RunHistory::open(target, probe, coverage.is_some(), &mut warn);
    let history = match &opts.durations_file {
        Some(file) => load_history(file, reporter),
        None => past.estimates(&mut |m| reporter.warning(&m)),
    };
    // Selected by the markers the tests declare; then tests that kept several cores
    // busy last time hold as many slots (which `-m resource_intensive` does not see).
    let mut whole = plan::select(&found.list, &opts.filter);
    if let Some(only) = &opts.only {
        let list = &found.list;
        whole.retain(list, |b, name| {
            let id = list.binaries[b].binary.id.as_str();
            only.get(id).is_some_and(|names| names.contains(name))
        });
    }
    let held = match opts.cpu_slots {
        true => plan::apply_cpu_slots(&mut found.list, &history.cores, opts.jobs),
        false => plan::GivenSlots::default(),
    };
    let list = &found.list;
    if opts.suites.suites_only() {
        // `--suites`, `--categories`: the suites, and no tests.
        let is_suite = |b: usize| list.binaries[b].binary.kind == BinaryKind::Suite;
        whole.units.retain(|u| is_suite(u.binary));
        whole.ignored.retain(|t| is_suite(t.binary));
    }
    let first = rerun_failed(opts, &past, list, &mut whole, reporter);
    let (selection, empty_shard) = cut(opts, list, &whole, &history.durations, reporter);
    let mut meta = report_meta(
        opts,
        &found,
        &whole,
        archive_info.as_ref().map(|a| a.build_id.clone()),
    )?;
    // With nothing to run the caller's error says it all. The run still goes through, so
    // that the reports asked for are written (empty) rather than an earlier run's left
    // in their place.
    let show = selection.run_count() > 0;
    let work = work_for(
        opts,
        (&found, archive_info.as_ref()),
        (&selection, &history, &suites, &first),
        meta.build_id.as_deref(),
        reporter,
    )?;
    reporter.planned(show, expected_time(list, &selection, &history.durations));
    let header = log::new_header(opts.dist.as_str(), opts.flaky_is_failure);
    let mut run_log = start_log(&found.target_dir, &header, reporter);
    past.find_commit();
    let mut exec = execute_options(opts, work.workers(), profile_dir.clone(), &history);
    exec.run_id = run_log.as_ref().map(|l| l.run_id().to_owned());
    meta.run_id.clone_from(&exec.run_id);
    let mut record = RunRecord {
        flaky_is_failure: opts.flaky_is_failure,
        ..RunRecord::default()
    };
    // A suite's JUnit report older than this is an earlier run's.
    let started = std::time::SystemTime::now();
    let (end, stopped) = work.execute(list, selection, &exec, &mut |event| {
        deliver(event, reporter, &mut run_log, &mut record);
    })?;
    // The test cases of the JUnit reports the suites wrote.
    for case in suite::imported(&suites, &record.outcomes, &found.workspace_root, started) {
        let event = RunEvent::TestFinished(case);
        deliver(event, reporter, &mut run_log, &mut record);
    }
    if let Err(e) = suite::write_logs(&record, &found.target_dir.join("xpar/logs")) {
        let cause = std::error::Error::source(&e).map(|c| format!(": {c}"));
        reporter.warning(&format!("{e}{}", cause.unwrap_or_default()));
    }
    let run_log_dir = finish_log(run_log, reporter);
    let history = history::updated(history, &record, end.process_costs.clone(), &held);
    save_history(opts, &history, reporter);
    if let Some(why) = &stopped {
        record.cancelled.get_or_insert_with(|| why.clone());
    }
    let run_report = report::run_report(&record, opts.dist.as_str(), &meta);
    record_run(past, &run_report, &header, opts, &history, reporter);
    write_reports(opts, &record, &run_report)?;
    let mut run_end = RunEnd {
        exit_code: exit_code(&record, empty_shard, stopped.is_some()),
        record,
        signal: end.signal,
        coverage: None,
        fail_under_lines: opts.coverage.as_ref().and_then(|c| c.fail_under_lines),
    };
    if let Some(sig) = end.signal {
        // Reports are written; coverage of an interrupted run is not made.
        run_end.exit_code = exit_codes::interrupted(sig);
    }
    let covered = match (&coverage, &profile_dir, end.signal) {
        (Some(session), Some(dir), None) => add_coverage(&mut run_end, session, dir, &found),
        _ => Ok(()),
    };
    // The page is written whether or not the coverage report could be made.
    write_html(opts, &run_end, &meta)?;
    covered?;
    if let Some(dir) = &opts.results_dir {
        write_results(dir, opts, &run_end, &meta, run_log_dir.as_deref(), &history)?;
    }
    Ok(run_end)
}

/// The exit code of a run that was not interrupted (coverage aside). A shard dealt no
/// test is not an error; a shared run stopped elsewhere (`--maxfail` on some machine)
/// has tests left unrun, on this machine or another: never a green exit.
fn exit_code(record: &RunRecord, empty_shard: bool, stopped_elsewhere: bool) -> i32 {
    match record.exit_code() {
        exit_codes::NO_TESTS_RUN if empty_shard => exit_codes::OK,
        exit_codes::OK if stopped_elsewhere => exit_codes::TEST_RUN_FAILED,
        code => code,
    }
}

/// `--results-dir`: everything a merge needs of the run.
fn write_results(
    dir: &Path,
    opts: &RunOptions,
    run_end: &RunEnd,
    meta: &ReportMeta,
    run_log_dir: Option<&Path>,
    history: &history::History,
) -> Result<(), Error> {
    let profile = run_end
        .coverage
        .as_ref()
        .map(|c| c.profile_dir.join("merged.profdata"));
    results_dir::write(
        dir,
        &ResultsInput {
            record: &run_end.record,
            dist: opts.dist.as_str(),
            meta,
            run_log_dir,
            history,
            coverage: profile.as_deref(),
        },
    )?;
    Ok(())
}

fn plan_options(opts: &RunOptions, selection: &plan::Selection) -> PlanOptions {
    PlanOptions {
        mode: opts.dist,
        workers: opts.dist.workers(opts.jobs, selection.run_count()),
        reorder_scopes: opts.reorder_scopes,
        require_parallel_safe: opts.require_parallel_safe,
    }
}

/// An event of the run to everything that hears it.
fn deliver(
    event: RunEvent,
    reporter: &mut dyn Reporter,
    run_log: &mut Option<RunLog>,
    record: &mut RunRecord,
) {
    reporter.event(&event);
    if let Some(run_log) = run_log {
        run_log.record(&event);
    }
    record.handle(&event);
}

/// The config file's suites this run runs. On several machines (`--partition`,
/// `--queue`) they are left out, which a warning says: a suite's dependencies and group
/// hold on one machine only.
fn suites_of_run<'a>(
    opts: &'a RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<Vec<&'a suite::SuiteSpec>, Error> {
    let chosen = opts.suites.chosen().map_err(UsageError::from)?;
    let elsewhere = match (&opts.partition, &opts.queue) {
        (Some(_), _) => "--partition",
        (None, Some(_)) => "--queue",
        (None, None) => return Ok(chosen),
    };
    if !chosen.is_empty() {
        reporter.warning(&format!(
            "{} command suite{} of the config file not run: suites run on one machine, not with {elsewhere}",
            chosen.len(),
            if chosen.len() == 1 { "" } else { "s" },
        ));
    }
    Ok(Vec::new())
}

/// Where the run's work comes from: its own schedule, or a queue it shares with other
/// machines (`--queue`).
enum Work {
    Local(Box<plan::SuiteQueue>),
    Shared(Box<queue::Joined>),
}

impl Work {
    fn workers(&self) -> usize {
        match self {
            Work::Local(schedule) => plan::WorkQueue::workers(schedule.as_ref()),
            Work::Shared(joined) => joined.queue.workers(),
        }
    }

    fn execute(
        self,
        list: &TestList,
        selection: plan::Selection,
        exec: &ExecuteOptions,
        sink: &mut dyn FnMut(RunEvent),
    ) -> Result<(execute::ExecuteEnd, Option<String>), Error> {
        match self {
            Work::Local(schedule) => Ok((execute(list, selection, *schedule, exec, sink)?, None)),
            Work::Shared(joined) => {
                let joined = *joined;
                let state = joined.queue.state();
                let end = execute(list, selection, joined.queue, exec, sink);
                drop(joined.heartbeat);
                let lost = state.error.lock().unwrap_or_else(|e| e.into_inner()).take();
                let stopped = state
                    .stopped
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                match lost {
                    Some(why) => Err(QueueError::Failed(why).into()),
                    None => Ok((end?, stopped)),
                }
            }
        }
    }
}

/// What the run's tests and suites are planned from.
type PlanInput<'a> = (
    &'a plan::Selection,
    &'a history::History,
    &'a [&'a suite::SuiteSpec],
    // The tests that go first (`--failed-first`).
    &'a HashSet<TestKey>,
);

/// The run's schedule, or with `--queue` the shared queue it joined.
fn work_for(
    opts: &RunOptions,
    (found, archive): (&Discovered, Option<&archive::ArchiveInfo>),
    (selection, history, suites, first): PlanInput<'_>,
    build_id: Option<&str>,
    reporter: &mut dyn Reporter,
) -> Result<Work, Error> {
    let list = &found.list;
    let Some(q) = &opts.queue else {
        let tests = plan::plan_first(
            list,
            selection,
            &history.durations,
            &plan_options(opts, selection),
            first,
        );
        let suites = suite::planned(list, selection, suites);
        return Ok(Work::Local(Box::new(plan::SuiteQueue::new(tests, suites))));
    };
    let build_id = match build_id {
        Some(id) => id.to_owned(),
        None => build_id_of(found, archive)?,
    };
    let joined = queue::join(q, (list, selection, history), &build_id, opts.jobs)?;
    say_joined(q, &joined, reporter);
    Ok(Work::Shared(Box::new(joined)))
}

/// Says which run of which queue this machine joined, and as what.
fn say_joined(q: &queue::QueueOptions, joined: &queue::Joined, reporter: &mut dyn Reporter) {
    let how = match joined.role {
        queue::Role::Leader => format!("seeded it with {} tests", joined.total),
        queue::Role::Follower => format!("{} tests, seeded by another machine", joined.total),
    };
    reporter.note(
        "Queue",
        &format!(
            "run `{}` at {} as {}: {how}",
            q.run_id, joined.url, q.machine
        ),
    );
}

/// The identity of the build the tests come from: the archive's, or the binaries'.
fn build_id_of(
    found: &Discovered,
    archive: Option<&archive::ArchiveInfo>,
) -> Result<String, Error> {
    if let Some(a) = archive {
        return Ok(a.build_id.clone());
    }
    discover::build_identity(&found.list).map_err(|source| {
        Error::from(ReportError::ResultsDir {
            path: found.target_dir.clone(),
            source,
        })
    })
}

/// The tests to run: from the archive, or built and listed here.
///
/// Doctests are left out of a queue's run, which a warning says: rustdoc compiles them
/// when they run, so they are not one build that machines can share. They are left out
/// of a `--target` run too: rustdoc would build them for the host.
fn find_tests(
    opts: &RunOptions,
    coverage: bool,
    reporter: &mut dyn Reporter,
) -> Result<(Discovered, Option<archive::ArchiveInfo>), Error> {
    Ok(match &opts.archive {
        Some(source) => {
            let opened = archive::open_for_run(source, coverage)?;
            (opened.discovered, Some(opened.info))
        }
        None => {
            let queued = opts.queue.is_some();
            let cross = opts.cargo.target.is_some();
            if queued && crate::doctest::discover::wanted(&opts.cargo) {
                reporter.warning(
                    "doctests are not run with --queue: run them on one machine with `cargo xpar --doc`",
                );
            } else if cross && crate::doctest::discover::wanted(&opts.cargo) {
                reporter.warning(
                    "doctests are not run with --target: run them without it, with `cargo xpar --doc`",
                );
            }
            let doctests = !queued && !cross;
            (discover(&opts.cargo, opts.jobs, coverage, doctests)?, None)
        }
    })
}

/// This run's part of the selection (its shard under `--partition`), and whether it is
/// a shard dealt nothing: not an error, said as a warning, as long as the whole selection
/// has tests (more shards than tests; a merge of the shards says when none has any).
fn cut(
    opts: &RunOptions,
    list: &TestList,
    whole: &plan::Selection,
    durations: &plan::Durations,
    reporter: &mut dyn Reporter,
) -> (plan::Selection, bool) {
    let Some(p) = &opts.partition else {
        return (whole.clone(), false);
    };
    let selection = plan::partition(list, whole, durations, p);
    let empty_shard = selection.run_count() == 0 && whole.run_count() > 0;
    if empty_shard {
        reporter.warning(&format!(
            "shard {} of {} has none of the {} selected tests: nothing to run here",
            p.index,
            p.total,
            whole.run_count()
        ));
    }
    (selection, empty_shard)
}

/// Ends the run's record; where it is, or `None` (with a warning) when it failed.
fn finish_log(run_log: Option<RunLog>, reporter: &mut dyn Reporter) -> Option<PathBuf> {
    match run_log.map(RunLog::finish) {
        Some(Ok(dir)) => Some(dir),
        Some(Err(e)) => {
            reporter.warning(&format!(
                "could not record the run for `cargo xpar replay`: {e}"
            ));
            None
        }
        None => None,
    }
}

/// What the JSON report says beside the record: the partition, and under
/// `--results-dir` the build identity and the whole selection the partition was cut
/// from (the run id is known once the run is recorded).
fn report_meta(
    opts: &RunOptions,
    found: &Discovered,
    whole: &plan::Selection,
    archive_build_id: Option<String>,
) -> Result<ReportMeta, Error> {
    let mut meta = ReportMeta {
        partition: opts.partition.map(|p| xpar_metadata::ReportPartition {
            kind: p.kind.as_str().to_owned(),
            index: p.index,
            total: p.total,
        }),
        ..ReportMeta::default()
    };
    if let Some(dir) = &opts.results_dir {
        // An archive's identity was checked against its binaries when it was opened.
        let identity = match archive_build_id {
            Some(id) => id,
            None => {
                discover::build_identity(&found.list).map_err(|source| ReportError::ResultsDir {
                    path: dir.join(results_dir::REPORT_FILE),
                    source,
                })?
            }
        };
        meta.build_id = Some(identity);
        meta.selection = results_dir::selection_tests(&found.list, whole);
    }
    Ok(meta)
}

/// What the executor needs of the run's options, for `workers` workers.
fn execute_options(
    opts: &RunOptions,
    workers: usize,
    profile_dir: Option<PathBuf>,
    history: &history::History,
) -> ExecuteOptions {
    ExecuteOptions {
        max_fail: opts.max_fail,
        timeouts: opts.timeouts,
        run_timeout: opts.run_timeout,
        retry: opts.retry.clone(),
        pin_retries: opts.dist == DistMode::Each,
        stop_stable: None,
        max_crashes: opts.max_worker_restart.unwrap_or(4 * workers),
        run_ignored: opts.filter.run_ignored,
        capture: !opts.keep_passing_output,
        test_args: opts.test_args.clone(),
        keep_tmp: opts.keep_tmp,
        profile_dir,
        process_costs: history.processes.clone(),
        cancel: opts.cancel.clone(),
        run_id: None,
    }
}

/// The JUnit and JSON reports asked for.
fn write_reports(opts: &RunOptions, record: &RunRecord, json: &RunReport) -> Result<(), Error> {
    if let Some(path) = &opts.junit {
        report::write_junit(record, path)?;
    }
    if let Some(path) = &opts.json {
        report::write_report(json, path)?;
    }
    if let Some(dir) = &opts.log_dir {
        report::write_logs(record, dir)?;
    }
    Ok(())
}

/// `--html`: the page of the run, with its coverage table when it has one.
fn write_html(opts: &RunOptions, run_end: &RunEnd, meta: &ReportMeta) -> Result<(), Error> {
    if let Some(path) = &opts.html {
        let report = report::run_report(&run_end.record, opts.dist.as_str(), meta);
        let coverage = run_end.coverage.as_ref().map(|c| &c.summary);
        report::write_html(&report, coverage, path)?;
    }
    Ok(())
}

/// The run's coverage report, and the exit code `--fail-under-lines` asks for when the
/// tests passed. A run in which no test ran has none.
fn add_coverage(
    run_end: &mut RunEnd,
    session: &CoverageSession,
    profile_dir: &Path,
    found: &Discovered,
) -> Result<(), Error> {
    if run_end.record.outcomes.iter().all(|o| o.worker.is_none()) {
        return Ok(());
    }
    let result = session.finish(
        &found.list,
        profile_dir,
        &found.target_dir,
        &found.workspace_root,
    )?;
    let lines = result.summary.total.lines.percent();
    if let (exit_codes::OK, Some(min)) = (run_end.exit_code, run_end.fail_under_lines) {
        if lines < min {
            run_end.exit_code = exit_codes::COVERAGE_BELOW_THRESHOLD;
        }
    }
    run_end.coverage = Some(result);
    Ok(())
}

/// Starts the record of this run's events under the target dir; a warning, not an error,
/// when it cannot.
fn start_log(target_dir: &Path, header: &RunHeader, reporter: &mut dyn Reporter) -> Option<RunLog> {
    match RunLog::create(&log::runs_dir(target_dir), header) {
        Ok(log) => Some(log),
        Err(e) => {
            reporter.warning(&format!(
                "could not record the run for `cargo xpar replay`: {e}"
            ));
            None
        }
    }
}

/// The sum of the expected times of the tests `selection` runs, if the history knows
/// every one of them (an opaque binary under its binary id).
fn expected_time(
    list: &TestList,
    selection: &plan::Selection,
    durations: &plan::Durations,
) -> Option<Duration> {
    let mut total = 0.0;
    for unit in &selection.units {
        let id = list.binaries[unit.binary].binary.id.as_str();
        match &unit.tests {
            plan::UnitTests::Named(names) => {
                for name in names {
                    total += durations.get(id, name)?;
                }
            }
            plan::UnitTests::Opaque => total += durations.get(id, id)?,
        }
    }
    Duration::try_from_secs_f64(total).ok()
}
