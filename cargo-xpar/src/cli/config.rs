//! The command line validated into what an invocation does ([`RunConfig`],
//! [`ListConfig`], `stress`'s in `stress.rs`), before any work starts (ripgrep's lowargs ->
//! hiargs): every bad value is one clear usage error here.

use std::path::PathBuf;
use std::time::Duration;

use super::archive::{archive_source, ArchiveConfig};
use super::args::*;
use super::config_file::{self, Profile};
use super::partition;
use super::queue;
use super::stress::{StressConfig, StressPlansConfig};
use super::with_profile::choose;
use super::writable;
use crate::cargo::CargoOptions;
use crate::coverage::CoverageConfig;
use crate::errors::UsageError;
use crate::execute::{MaxFail, RetryPolicy};
use crate::plan::{RunIgnored, TestFilter};
use xpar_runner::archive::ArchiveSource;
use xpar_runner::history::{Rerun, DEFAULT_KEEP_RUNS};
use xpar_runner::session::RunOptions;
use xpar_runner::suite::SuiteOptions;

/// What a run will do, validated: the runner's options, and what only the terminal
/// needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub run: RunOptions,
    /// Where `--partition auto` found its shard, to say so.
    pub partition_source: Option<String>,
    /// Stop at the first failure (cargo test's and nextest's default).
    pub fail_fast: bool,
    pub success_output: OutputWhen,
    pub failure_output: OutputWhen,
}

/// What `list` will do, validated.
#[derive(Debug, Clone)]
pub struct ListConfig {
    pub cargo: CargoOptions,
    pub filter: TestFilter,
    pub format: ListFormat,
    /// `--archive-file`: list the archive's tests instead of building.
    pub archive: Option<ArchiveSource>,
    /// The config file's command suites, listed after the tests.
    pub suites: Vec<xpar_runner::suite::SuiteSpec>,
    /// The workspace root (the suites' `cwd` are under it).
    pub root: PathBuf,
}

/// What `replay` will do, validated.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// A run id, or `latest`.
    pub run: String,
    /// Where to find the target dir (only `--manifest-path`, `--target-dir`, colour and
    /// verbosity are set).
    pub cargo: CargoOptions,
    pub success_output: OutputWhen,
    pub failure_output: OutputWhen,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
}

/// What `history` will do, validated.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    pub query: HistoryQuery,
    /// How many of the last runs to look at.
    pub runs: usize,
    pub format: HistoryFormat,
    /// Where to find the target dir (only `--manifest-path` and `--target-dir` are set).
    pub cargo: CargoOptions,
}

/// What `history` is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryQuery {
    Runs,
    Flaky,
    Slowest(usize),
    Test(String),
}

/// What `merge` will do, validated.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    pub merge: xpar_runner::merge::MergeOptions,
    /// The display's options (colour, verbosity), and the coverage build's.
    pub cargo: CargoOptions,
}

/// The validated command.
#[allow(clippy::large_enum_variant)] // one per process
#[derive(Debug, Clone)]
pub enum Invocation {
    Run(RunConfig),
    List(ListConfig),
    Stress(StressConfig),
    StressPlans(StressPlansConfig),
    Replay(ReplayConfig),
    History(HistoryConfig),
    Merge(MergeConfig),
    Archive(ArchiveConfig),
    Queue(queue::QueueConfig),
    Mcp(McpConfig),
}

/// What `mcp` will serve: the workspace, and the config file's profile every tool call
/// starts from.
#[derive(Debug, Clone)]
pub struct McpConfig {
    pub manifest_path: Option<PathBuf>,
    pub config_profile: Option<String>,
}

impl XparApp {
    pub fn into_invocation(self) -> Result<Invocation, UsageError> {
        match self.command {
            None => RunConfig::from_args(self.run).map(Invocation::Run),
            Some(Command::Run(args)) => RunConfig::from_args(args).map(Invocation::Run),
            Some(Command::Stress(args)) => super::stress::stress_invocation(args),
            Some(Command::Replay(args)) => Ok(Invocation::Replay(ReplayConfig {
                run: args.run,
                cargo: CargoOptions {
                    target_dir: args.target_dir,
                    manifest_path: args.manifest_path,
                    quiet: args.quiet,
                    verbose: args.verbose,
                    color: args.color.into(),
                    ..CargoOptions::default()
                },
                success_output: args.success_output.unwrap_or(OutputWhen::Never),
                failure_output: args.failure_output.unwrap_or(OutputWhen::Final),
                junit: checked_file("--junit report", args.junit)?,
                json: checked_file("--json report", args.json)?,
                html: checked_file("--html report", args.html)?,
            })),
            Some(Command::History(args)) => HistoryConfig::from_args(args).map(Invocation::History),
            Some(Command::Merge(args)) => MergeConfig::from_args(args).map(Invocation::Merge),
            Some(Command::Queue(cmd)) => queue::queue_config(cmd).map(Invocation::Queue),
            Some(Command::Archive(args)) => ArchiveConfig::from_args(args).map(Invocation::Archive),
            Some(Command::Mcp(args)) => {
                // A bad config file is said at start, not at the first tool call.
                config_file::load(
                    args.manifest_path.as_deref(),
                    None,
                    args.profile.config_profile.as_deref(),
                )?;
                Ok(Invocation::Mcp(McpConfig {
                    manifest_path: args.manifest_path,
                    config_profile: args.profile.config_profile,
                }))
            }
            Some(Command::List(args)) => {
                // No option of a profile applies to a listing; a bad file or profile is
                // still said, as a run would say it.
                let profile = config_file::load(
                    args.cargo.manifest_path.as_deref(),
                    Some(&args.archive),
                    args.profile.config_profile.as_deref(),
                )?;
                let (filter, no_capture, extra) = build_filter(args.filter)?;
                if no_capture || !extra.is_empty() {
                    return Err(UsageError::ListTestArgs);
                }
                Ok(Invocation::List(ListConfig {
                    suites: profile.suites,
                    root: profile.root,
                    archive: archive_source(args.archive, &args.cargo)?,
                    cargo: args.cargo.into_options(),
                    filter,
                    format: args.format,
                }))
            }
        }
    }
}

impl HistoryConfig {
    fn from_args(args: HistoryArgs) -> Result<Self, UsageError> {
        let positive = |flag: &'static str, n: usize| {
            if n == 0 {
                Err(UsageError::NotPositive { flag })
            } else {
                Ok(n)
            }
        };
        let query = match (args.flaky, args.slowest, args.test) {
            (true, _, _) => HistoryQuery::Flaky,
            (_, Some(n), _) => HistoryQuery::Slowest(positive("--slowest", n)?),
            (_, _, Some(name)) => HistoryQuery::Test(name),
            _ => HistoryQuery::Runs,
        };
        Ok(HistoryConfig {
            query,
            runs: positive("--runs", args.runs)?,
            format: args.format,
            cargo: CargoOptions {
                target_dir: args.target_dir,
                manifest_path: args.manifest_path,
                ..CargoOptions::default()
            },
        })
    }
}

impl RunConfig {
    fn from_args(args: RunArgs) -> Result<Self, UsageError> {
        let profile = config_file::load(
            args.cargo.manifest_path.as_deref(),
            Some(&args.archive),
            args.profile.config_profile.as_deref(),
        )?;
        Self::from_args_and_profile(args, profile)
    }

    /// The run `args` ask for, where a flag that was not given takes the value `profile`
    /// has for it.
    fn from_args_and_profile(args: RunArgs, profile: Profile) -> Result<Self, UsageError> {
        let (filter, libtest_no_capture, test_args) = build_filter(args.filter)?;
        let r = args.runner;
        let overrides = profile.overrides.clone();
        let suite_specs = profile.suites.clone();
        let history_runs = profile.history_runs.unwrap_or(DEFAULT_KEEP_RUNS);
        let chosen = choose(&r, profile)?;
        if chosen.coverage && args.cargo.doc {
            // Rustdoc instruments doctests on a nightly toolchain only: nothing would
            // be measured.
            return Err(UsageError::Conflict {
                a: "--coverage",
                b: "--doc",
            });
        }
        let retry = retry_policy(&r, chosen.retries)?;
        let no_capture = r.no_capture || libtest_no_capture;
        let success_output = r.success_output.unwrap_or(if no_capture {
            OutputWhen::Immediate
        } else {
            OutputWhen::Never
        });
        let failure_output = r.failure_output.unwrap_or(OutputWhen::Final);
        let partition = partition::from_flag_or_bazel(r.partition.as_deref())?;
        let rerun = rerun(&r, &args.queue, partition.is_some())?;
        let json = checked_file("--json report", chosen.json)?;
        let results_dir = r.results_dir;
        if let Some(dir) = &results_dir {
            writable::check_report_dir("--results-dir", dir)?;
        }
        let log_dir = r.log_dir;
        if let Some(dir) = &log_dir {
            writable::check_report_dir("--log-dir", dir)?;
        }
        let archive = archive_source(args.archive, &args.cargo)?;
        let queue = queue::queue_options(args.queue, partition.is_some(), chosen.dist.into())?;
        let run = RunOptions {
            cargo: args.cargo.into_options(),
            filter,
            jobs: cap_jobs(chosen.jobs, r.maxprocesses)?,
            dist: chosen.dist.into(),
            reorder_scopes: !r.no_loadscope_reorder,
            require_parallel_safe: r.require_parallel_safe,
            cpu_slots: !r.no_cpu_slots,
            keep_tmp: r.keep_tmp,
            max_fail: match r.maxfail.as_deref() {
                Some(v) => Some(parse_maxfail(v)?),
                None => (!chosen.no_fail_fast).then_some(MaxFail {
                    count: 1,
                    immediate: false,
                }),
            },
            timeouts: chosen.timeouts,
            run_timeout: chosen.run_timeout,
            retry,
            flaky_is_failure: r.flaky_result == FlakyResult::Fail,
            max_worker_restart: r.max_worker_restart,
            // Shown, or written to the JSON report.
            keep_passing_output: success_output != OutputWhen::Never
                || json.is_some()
                || results_dir.is_some()
                || log_dir.is_some(),
            junit: checked_file("--junit report", chosen.junit)?,
            json,
            html: checked_file("--html report", chosen.html)?,
            coverage: coverage_config(
                chosen.coverage,
                r.coverage_format,
                r.coverage_output,
                r.fail_under_lines,
            )?,
            test_args,
            partition: partition.as_ref().map(|(p, _)| *p),
            durations_file: checked_file("--durations history", r.durations)?,
            history_runs,
            rerun,
            results_dir,
            log_dir,
            suites: SuiteOptions {
                specs: suite_specs,
                only: r.suites,
                categories: r.categories,
            },
            archive,
            queue,
            overrides,
            only: None,
            cancel: None,
        };
        // Names that are no suite's: said before anything is built.
        run.suites.chosen()?;
        Ok(RunConfig {
            run,
            partition_source: partition.and_then(|(_, said)| said),
            // cargo test and nextest both stop at the first failure unless told otherwise.
            fail_fast: !chosen.no_fail_fast,
            success_output,
            failure_output,
        })
    }
}

/// `--last-failed` or `--failed-first`. Machines sharing a queue must run one selection,
/// which a history of one of them does not give; nor do shards, which must be cut from
/// one selection (`--failed-first` only orders a shard's tests).
fn rerun(r: &RunnerArgs, q: &QueueArgs, partition: bool) -> Result<Option<Rerun>, UsageError> {
    let (flag, how) = match (r.last_failed, r.failed_first) {
        (true, _) => ("--last-failed", Rerun::LastFailed),
        (_, true) => ("--failed-first", Rerun::FailedFirst),
        _ => return Ok(None),
    };
    if q.queue.is_some() {
        return Err(UsageError::Conflict {
            a: flag,
            b: "--queue",
        });
    }
    if partition && how == Rerun::LastFailed {
        return Err(UsageError::Conflict {
            a: flag,
            b: "--partition",
        });
    }
    Ok(Some(how))
}

/// `--retries` (`retries` of them, from the flag or the file) and the flags that shape
/// them.
fn retry_policy(r: &RunnerArgs, retries: usize) -> Result<RetryPolicy, UsageError> {
    Ok(RetryPolicy {
        retries,
        backoff: r.retry_backoff.into(),
        delay: parse_duration("--retry-delay", Some(&r.retry_delay))?.unwrap_or_default(),
        jitter: r.retry_jitter,
        retry_on: r
            .retry_on
            .as_deref()
            .map(|re| {
                regex::Regex::new(re).map_err(|e| UsageError::BadRegex {
                    value: re.to_owned(),
                    why: e.to_string().lines().last().unwrap_or_default().to_owned(),
                })
            })
            .transpose()?,
    })
}

/// `N` (at least 1), `auto`: the cores this process may use (affinity and cgroup quota,
/// which `available_parallelism` honours), or `logical`: the logical CPUs online.
pub fn parse_jobs(value: &str) -> Result<usize, UsageError> {
    let usable = || std::thread::available_parallelism().map_or(1, |n| n.get());
    match value {
        "auto" => return Ok(usable()),
        "logical" => return Ok(crate::process::os::logical_cpus().unwrap_or_else(usable)),
        _ => {}
    }
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(UsageError::BadJobs {
            value: value.to_owned(),
        }),
    }
}

pub(crate) fn coverage_config(
    on: bool,
    mut formats: Vec<CoverageFormat>,
    output: Option<PathBuf>,
    fail_under_lines: Option<f64>,
) -> Result<Option<CoverageConfig>, UsageError> {
    if !on {
        return Ok(None);
    }
    if let Some(p) = fail_under_lines.filter(|p| !(0.0..=100.0).contains(p)) {
        return Err(UsageError::BadPercent(p));
    }
    if formats.is_empty() {
        formats.push(CoverageFormat::Lcov);
    }
    if let Some(dir) = &output {
        writable::check_report_dir("--coverage-output reports", dir)?;
    }
    Ok(Some(CoverageConfig {
        formats: unique(formats).into_iter().map(Into::into).collect(),
        output,
        fail_under_lines,
    }))
}

/// `path`, once a report can be written there ([`writable::check_report_file`]).
fn checked_file(what: &'static str, path: Option<PathBuf>) -> Result<Option<PathBuf>, UsageError> {
    if let Some(p) = &path {
        writable::check_report_file(what, p)?;
    }
    Ok(path)
}

/// `formats` without repeats, in the order first asked for: each report is written once.
fn unique(formats: Vec<CoverageFormat>) -> Vec<CoverageFormat> {
    let mut out = Vec::with_capacity(formats.len());
    for f in formats {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// The longest duration a flag takes: beyond any real run, and short enough that adding
/// it to `Instant::now()` (the grace period, a retry delay) cannot overflow, which panics.
const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// `30s`, `1m 30s`, `250ms` (humantime's forms), up to 100 years.
pub(super) fn parse_duration(
    flag: &'static str,
    value: Option<&str>,
) -> Result<Option<Duration>, UsageError> {
    value
        .map(|v| duration_value(v).map_err(|why| bad_duration(flag, v, why)))
        .transpose()
}

/// A time limit (`--timeout`, `--slow-timeout`, `--run-timeout`): a duration longer than
/// zero, since a zero limit would end (or report) every test the moment it starts.
pub(crate) fn parse_limit(
    flag: &'static str,
    value: Option<&str>,
) -> Result<Option<Duration>, UsageError> {
    value
        .map(|v| limit_value(v).map_err(|why| bad_duration(flag, v, why)))
        .transpose()
}

fn bad_duration(flag: &'static str, value: &str, why: String) -> UsageError {
    UsageError::BadDuration {
        flag,
        value: value.to_owned(),
        why,
    }
}

/// [`parse_duration`]'s value, or why it is not one.
fn duration_value(v: &str) -> Result<Duration, String> {
    match humantime::parse_duration(v) {
        Ok(d) if d > MAX_DURATION => Err("must be at most 100 years".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// [`parse_limit`]'s value, or why it is not one.
pub(super) fn limit_value(v: &str) -> Result<Duration, String> {
    match duration_value(v)? {
        d if d.is_zero() => Err("a time limit must be longer than zero".to_owned()),
        d => Ok(d),
    }
}

/// `N` or `N:immediate`, N at least 1.
fn parse_maxfail(value: &str) -> Result<MaxFail, UsageError> {
    let (n, immediate) = match value.split_once(':') {
        Some((n, "immediate")) => (n, true),
        Some(_) => return Err(UsageError::BadMaxFail(value.to_owned())),
        None => (value, false),
    };
    match n.parse::<usize>() {
        Ok(count) if count > 0 => Ok(MaxFail { count, immediate }),
        _ => Err(UsageError::BadMaxFail(value.to_owned())),
    }
}

/// Applies `--maxprocesses`.
fn cap_jobs(jobs: usize, max: Option<usize>) -> Result<usize, UsageError> {
    match max {
        None => Ok(jobs),
        Some(0) => Err(UsageError::BadMaxProcesses),
        Some(m) => Ok(jobs.min(m)),
    }
}

/// Merges the selection flags with libtest's own flags given after `--`, so that
/// `cargo xpar -- name --exact` means what `cargo test -- name --exact` means.
/// Returns the filter, whether `--nocapture` was among them, and the arguments left for
/// the test binaries.
pub(super) fn build_filter(
    args: FilterArgs,
) -> Result<(TestFilter, bool, Vec<String>), UsageError> {
    let mut filters = args.filters;
    let mut exact = args.exact;
    let mut skip = args.skip;
    let mut ignored = args.ignored;
    let mut include_ignored = args.include_ignored;
    let mut no_capture = false;
    let mut rest = Vec::new();
    let mut it = args.test_args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--exact" => exact = true,
            "--ignored" => ignored = true,
            "--include-ignored" => include_ignored = true,
            "--nocapture" | "--no-capture" => no_capture = true,
            "--skip" => match it.next() {
                Some(v) => skip.push(v),
                None => return Err(UsageError::MissingValue { flag: "--skip" }),
            },
            s if s.starts_with("--skip=") => skip.push(s["--skip=".len()..].to_owned()),
            s if is_runner_owned_libtest_flag(s) => {
                return Err(UsageError::RunnerOwnedTestArg { arg: arg.clone() })
            }
            s if !s.starts_with('-') => filters.push(arg),
            _ => rest.push(arg),
        }
    }
    if ignored && include_ignored {
        return Err(UsageError::Conflict {
            a: "--ignored",
            b: "--include-ignored",
        });
    }
    let run_ignored = if ignored {
        RunIgnored::Only
    } else if include_ignored {
        RunIgnored::Include
    } else {
        RunIgnored::Default
    };
    let markers = args
        .markers
        .as_deref()
        .map(crate::plan::MarkerExpr::parse)
        .transpose()?;
    let filter = TestFilter {
        patterns: filters,
        exact,
        skip,
        run_ignored,
        markers,
    };
    Ok((filter, no_capture, rest))
}

/// libtest flags that the runner sets itself on every batch; letting a user override them
/// would break the batch protocol, so they are refused with a pointer to the runner's flag.
fn is_runner_owned_libtest_flag(arg: &str) -> bool {
    let name = arg.split('=').next().unwrap_or(arg);
    matches!(
        name,
        "--test-threads"
            | "--format"
            | "--list"
            | "-Z"
            | "--report-time"
            | "--logfile"
            | "-q"
            | "--quiet"
            | "--show-output"
            | "--shuffle"
            | "--shuffle-seed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_for_test as parse;
    use crate::coverage::CoverageFormat;
    use crate::execute::Backoff;
    use crate::plan::DistMode;

    fn run(args: &[&str]) -> RunConfig {
        match parse(args) {
            Ok(Invocation::Run(cfg)) => cfg,
            other => panic!("expected a run for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn filters_and_flags() {
        let cfg = run(&["foo", "bar", "--exact", "--skip", "baz", "-j", "3"]);
        assert_eq!(cfg.run.filter.patterns, ["foo", "bar"]);
        assert!(cfg.run.filter.exact);
        assert_eq!(cfg.run.filter.skip, ["baz"]);
        assert_eq!(cfg.run.jobs, 3);
        assert!(cfg.fail_fast);
    }

    #[test]
    fn dist_modes_and_worker_counts() {
        let cfg = run(&["--dist", "worksteal", "-j", "8", "--maxprocesses", "3"]);
        assert_eq!(cfg.run.dist, DistMode::Worksteal);
        assert_eq!(cfg.run.jobs, 3);
        assert!(cfg.run.reorder_scopes);
        let cfg = run(&["--dist", "loadscope", "--no-loadscope-reorder"]);
        assert_eq!(cfg.run.dist, DistMode::Loadscope);
        assert!(!cfg.run.reorder_scopes);
        assert_eq!(run(&[]).run.dist, DistMode::Load);
        for mode in [
            "load",
            "loadscope",
            "loadfile",
            "loadgroup",
            "worksteal",
            "each",
            "no",
        ] {
            assert_eq!(run(&["--dist", mode]).run.dist.as_str(), mode);
        }
        let logical = run(&["-j", "logical"]).run.jobs;
        assert!(logical >= run(&["-j", "auto"]).run.jobs.min(logical) && logical >= 1);
    }

    #[test]
    fn stopping_and_timeouts() {
        let cfg = run(&[]);
        assert_eq!(
            cfg.run.max_fail,
            Some(MaxFail {
                count: 1,
                immediate: false
            })
        );
        assert_eq!(cfg.run.timeouts.grace, Duration::from_secs(5));
        assert_eq!(run(&["--no-fail-fast"]).run.max_fail, None);
        let cfg = run(&[
            "--maxfail",
            "3:immediate",
            "--timeout",
            "1m 30s",
            "--slow-timeout",
            "250ms",
            "--run-timeout",
            "10m",
        ]);
        assert_eq!(
            cfg.run.max_fail,
            Some(MaxFail {
                count: 3,
                immediate: true
            })
        );
        assert_eq!(cfg.run.timeouts.test, Some(Duration::from_secs(90)));
        assert_eq!(cfg.run.timeouts.slow, Some(Duration::from_millis(250)));
        assert_eq!(cfg.run.run_timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn retry_options() {
        let cfg = run(&[
            "--retries",
            "3",
            "--retry-backoff",
            "exponential",
            "--retry-delay",
            "100ms",
            "--retry-jitter",
            "--retry-on",
            "refused",
            "--flaky-result",
            "fail",
        ]);
        assert_eq!(cfg.run.retry.retries, 3);
        assert_eq!(cfg.run.retry.backoff, Backoff::Exponential);
        assert_eq!(cfg.run.retry.delay, Duration::from_millis(100));
        assert!(cfg.run.retry.jitter && cfg.run.flaky_is_failure);
        assert!(cfg
            .run
            .retry
            .retry_on
            .unwrap()
            .is_match("connection refused"));
        assert_eq!(run(&[]).run.retry.retries, 0);
    }

    #[test]
    fn coverage_options() {
        assert!(run(&[]).run.coverage.is_none());
        let c = run(&["--coverage"]).run.coverage.unwrap();
        assert_eq!(c.formats, [CoverageFormat::Lcov]);
        let c = run(&[
            "--coverage",
            "--coverage-format",
            "lcov,cobertura",
            "--coverage-format",
            "html",
            "--fail-under-lines",
            "80",
        ])
        .run
        .coverage
        .unwrap();
        assert_eq!(
            c.formats,
            [
                CoverageFormat::Lcov,
                CoverageFormat::Cobertura,
                CoverageFormat::Html
            ]
        );
        assert_eq!(c.fail_under_lines, Some(80.0));
    }

    #[test]
    fn explicit_run_subcommand_is_the_same_as_none() {
        let a = run(&["run", "foo", "--no-fail-fast"]);
        let b = run(&["foo", "--no-fail-fast"]);
        assert_eq!(a.run.filter.patterns, b.run.filter.patterns);
        assert!(!a.fail_fast && !b.fail_fast);
    }

    #[test]
    fn fail_fast_last_flag_wins() {
        assert!(run(&["--no-fail-fast", "--fail-fast"]).fail_fast);
        assert!(!run(&["--fail-fast", "--no-fail-fast"]).fail_fast);
    }

    #[test]
    fn libtest_flags_after_double_dash() {
        let cfg = run(&[
            "--",
            "name",
            "--exact",
            "--skip=slow",
            "--include-ignored",
            "--nocapture",
            "--custom",
        ]);
        assert_eq!(cfg.run.filter.patterns, ["name"]);
        assert!(cfg.run.filter.exact);
        assert_eq!(cfg.run.filter.skip, ["slow"]);
        assert_eq!(cfg.run.filter.run_ignored, RunIgnored::Include);
        assert_eq!(cfg.success_output, OutputWhen::Immediate);
        assert_eq!(cfg.run.test_args, ["--custom"]);
    }

    #[test]
    fn time_limits_must_be_longer_than_zero() {
        let zero = "a time limit must be longer than zero";
        let table: &[(&[&str], &str)] = &[
            (&["--timeout", "0s"], "invalid value `0s` for --timeout: "),
            (&["--timeout", "0ms"], zero),
            (&["--slow-timeout", "0s"], "for --slow-timeout: "),
            (&["--run-timeout", "0s"], "for --run-timeout: "),
            (
                &["stress", "--count", "5", "--timeout", "0s"],
                "for --timeout: ",
            ),
            (&["--timeout", "101y"], "must be at most 100 years"),
            (
                &["--timeout-grace", "500000000000y"],
                "must be at most 100 years",
            ),
            (&["--retry-delay", "200y"], "must be at most 100 years"),
        ];
        for (args, want) in table {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(err.contains(want), "{args:?}: {err}");
            if args.contains(&"0s") {
                assert!(err.contains(zero), "{args:?}: {err}");
            }
        }
        // A zero grace period is allowed: SIGKILL follows SIGTERM at once.
        assert_eq!(
            run(&["--timeout-grace", "0s"]).run.timeouts.grace,
            Duration::ZERO
        );
        assert_eq!(
            run(&["--retry-delay", "0s"]).run.retry.delay,
            Duration::ZERO
        );
        let cfg = run(&["--timeout", "1ms", "--run-timeout", "100y"]);
        assert_eq!(cfg.run.timeouts.test, Some(Duration::from_millis(1)));
        assert_eq!(cfg.run.run_timeout, Some(MAX_DURATION));
    }

    #[test]
    fn usage_errors() {
        let table: &[(&[&str], &str)] = &[
            (&["-j", "0"], "invalid value `0` for -j/--jobs"),
            (&["-j", "many"], "invalid value `many` for -j/--jobs"),
            (&["-j", "-3"], "invalid value `-3` for -j/--jobs"),
            (&["--maxfail", "-1"], "invalid value `-1` for --maxfail"),
            (&["--retries", "-1"], "ValueValidation"),
            (&["--retries", "x"], "ValueValidation"),
            (&["--max-worker-restart", "-1"], "ValueValidation"),
            (&["--coverage", "--fail-under-lines", "-1"], "not `-1`"),
            (&["stress", "--count", "0"], "--count must be at least 1"),
            (&["stress", "--count", "-1"], "ValueValidation"),
            (&["stress", "--count", "x"], "ValueValidation"),
            (
                &["stress", "--count", "1", "-j", "0"],
                "--concurrency must be at least 1",
            ),
            (
                &["stress", "--count", "1", "--stop-stable", "0"],
                "--stop-stable must be at least 1",
            ),
            (
                &["--maxprocesses", "0"],
                "--maxprocesses must be at least 1",
            ),
            (&["--dist", "random"], "InvalidValue"),
            (
                &["--", "--test-threads=4"],
                "`--test-threads=4` is set by cargo xpar",
            ),
            (&["--", "--skip"], "`--skip` needs a value"),
            (
                &["--", "--ignored", "--include-ignored"],
                "cannot be used with",
            ),
            (&["--ignored", "--include-ignored"], "ArgumentConflict"),
            (&["--bogus"], "UnknownArgument"),
            (
                &["list", "--", "--nocapture"],
                "list takes no test arguments",
            ),
        ];
        for (args, want) in table {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(
                err.contains(want) || format!("{err:?}").contains(want),
                "{args:?}: {err}"
            );
        }
    }

    #[test]
    fn cargo_args_round_trip() {
        let cfg = run(&[
            "-p",
            "a",
            "--lib",
            "--test",
            "it",
            "--features",
            "x",
            "--release",
            "--locked",
        ]);
        let args: Vec<String> = cfg
            .run
            .cargo
            .to_cli_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        for want in ["--lib", "--release", "--locked", "a", "it", "x"] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
    }

    #[test]
    fn rerunning_the_last_failures() {
        assert_eq!(run(&[]).run.rerun, None);
        for (args, want) in [
            (&["--last-failed"][..], Rerun::LastFailed),
            (&["--lf"], Rerun::LastFailed),
            (&["--failed-first"], Rerun::FailedFirst),
            (&["--ff", "--partition", "slice:1/2"], Rerun::FailedFirst),
        ] {
            assert_eq!(run(args).run.rerun, Some(want), "{args:?}");
        }
        let refused: &[(&[&str], &str)] = &[
            (&["--lf", "--ff"], "ArgumentConflict"),
            (
                &["--lf", "--partition", "hash:1/2"],
                "`--last-failed` cannot be used with `--partition`",
            ),
            (
                &["--ff", "--queue", "redis://127.0.0.1:1", "--run-id", "r"],
                "`--failed-first` cannot be used with `--queue`",
            ),
        ];
        for (args, want) in refused {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
        assert_eq!(run(&[]).run.history_runs, DEFAULT_KEEP_RUNS);
    }

    #[test]
    fn history_queries() {
        let history = |args: &[&str]| match parse(&[&["history"], args].concat()) {
            Ok(Invocation::History(cfg)) => cfg,
            other => panic!("{args:?}: {other:?}"),
        };
        let cfg = history(&[]);
        assert_eq!((cfg.query, cfg.runs), (HistoryQuery::Runs, 20));
        assert_eq!(cfg.format, HistoryFormat::Table);
        assert_eq!(
            history(&["--flaky", "--runs", "5"]).query,
            HistoryQuery::Flaky
        );
        assert_eq!(history(&["--flaky", "--runs", "5"]).runs, 5);
        assert_eq!(history(&["--slowest"]).query, HistoryQuery::Slowest(10));
        assert_eq!(history(&["--slowest", "3"]).query, HistoryQuery::Slowest(3));
        let cfg = history(&["--test", "tests::a", "--format", "csv"]);
        assert_eq!(cfg.query, HistoryQuery::Test("tests::a".into()));
        assert_eq!(cfg.format, HistoryFormat::Csv);
        let refused: &[(&[&str], &str)] = &[
            (&["history", "--flaky", "--slowest"], "ArgumentConflict"),
            (&["history", "--slowest", "--test", "x"], "ArgumentConflict"),
            (&["history", "--runs", "0"], "--runs must be at least 1"),
            (
                &["history", "--slowest", "0"],
                "--slowest must be at least 1",
            ),
            (&["history", "--format", "xml"], "InvalidValue"),
        ];
        for (args, want) in refused {
            let err = parse(args).expect_err(&format!("{args:?} should be refused"));
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn list_format() {
        match parse(&["list", "--format", "json", "-p", "x"]) {
            Ok(Invocation::List(cfg)) => {
                assert_eq!(cfg.format, ListFormat::Json);
                assert_eq!(cfg.cargo.packages, ["x"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_format_once_in_the_order_first_asked() {
        use crate::cli::CoverageFormat::*;
        assert_eq!(unique(vec![Lcov, Html, Lcov]), vec![Lcov, Html]);
        assert_eq!(
            unique(vec![Json, Lcov, Json, Html, Lcov, Json]),
            vec![Json, Lcov, Html]
        );
        assert_eq!(unique(vec![Cobertura]), vec![Cobertura]);
        assert_eq!(unique(vec![]), Vec::<crate::cli::CoverageFormat>::new());
    }
}

#[cfg(test)]
#[path = "config_profile_tests.rs"]
mod profile_tests;
