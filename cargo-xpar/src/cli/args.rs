//! The command line as the user typed it: clap derive types, spelled as `cargo test`
//! and nextest spell them. `config.rs` validates them into what a run does.
//!
//! Numeric flags set `allow_negative_numbers` so that `-j -3` is refused as a bad value
//! of `-j`, not as an unknown flag `-3` with a tip to write `-- -3`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use xpar_runner::cargo;

pub use super::enums::{Backoff, CoverageFormat, DistMode, HistoryFormat, StressOutput};

/// `cargo` invokes a subcommand as `cargo-xpar xpar ARGS`; the outer enum eats the `xpar`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo",
    bin_name = "cargo",
    version,
    disable_help_subcommand = true,
    // Help wraps to the terminal, and to 100 columns at most (or when not on one).
    max_term_width = 100
)]
pub enum CargoCli {
    /// Run a workspace's tests in parallel worker processes.
    Xpar(XparApp),
}

#[derive(Debug, Args)]
#[command(
    version,
    about = "Run a workspace's tests in parallel worker processes, batching tests per process.",
    args_conflicts_with_subcommands = true,
    after_help = xpar_runner::exit_codes::HELP
)]
pub struct XparApp {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, list and run the tests (the default).
    Run(RunArgs),
    /// Build and list the tests that a run would consider, with their binary ids.
    List(ListArgs),
    /// Run each selected test many times and report how often, and how, it fails.
    Stress(StressArgs),
    /// Show a recorded run again and write its reports, from the record alone.
    Replay(ReplayArgs),
    /// What the recorded runs say: the runs, the flaky tests, the slowest ones, one test's
    /// results.
    History(HistoryArgs),
    /// Merge the results of a run's shards (`--results-dir`) into one set of reports.
    Merge(MergeArgs),
    /// A run's queue shared by many machines (`run --queue`): its report, its status.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Build the tests and pack them into an archive that `run --archive-file` runs on a
    /// machine that builds nothing.
    Archive(ArchiveArgs),
    /// Serve the runner to AI coding agents: the Model Context Protocol over stdio, with
    /// tools to list, run and rerun tests, find flaky ones and read results.
    Mcp(McpArgs),
}

#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// Path to the Cargo.toml of the workspace the tools work on [default: the one the
    /// server is started in].
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    #[command(flatten)]
    pub profile: ProfileArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' results directories (`cargo xpar run --partition K/N --results-dir
    /// DIR`), one per shard; every shard must be given once.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Write the merged JUnit XML report to this file.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Write the merged JSON report to this file (see docs/report-format.md).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report of the merged run to this file, its timeline
    /// with lanes per shard.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub html: Option<PathBuf>,
    /// Write the merged duration history to this file, for the next run's
    /// `--durations FILE`.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub durations: Option<PathBuf>,
    /// Make one coverage report from the shards' profiles (their runs had `--coverage`),
    /// in these formats, exported against this workspace's instrumented test binaries,
    /// which must be the build the shards ran [default: lcov].
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "FORMAT",
        help_heading = "Coverage"
    )]
    pub coverage_format: Vec<CoverageFormat>,
    /// Where to write the merged coverage reports [default: <target-dir>/xpar/coverage].
    #[arg(long, value_name = "DIR", help_heading = "Coverage")]
    pub coverage_output: Option<PathBuf>,
    /// Exit with 111 when the merged line coverage is below this percentage.
    #[arg(
        long,
        value_name = "PERCENT",
        allow_negative_numbers = true,
        help_heading = "Coverage"
    )]
    pub fail_under_lines: Option<f64>,
    #[command(flatten)]
    pub cargo: CargoOptions,
    /// The archive the shards ran (`cargo xpar archive --coverage`): the coverage report
    /// is exported against its binaries instead of a build here.
    #[arg(long, value_name = "FILE", help_heading = "Coverage")]
    pub archive_file: Option<PathBuf>,
    /// The checkout of the archived commit [default: the workspace the archive was built
    /// in, if it exists here].
    #[arg(
        long,
        value_name = "DIR",
        requires = "archive_file",
        help_heading = "Coverage"
    )]
    pub workspace_remap: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub cargo: CargoOptions,
    /// The archive to write (`.tar.zst`).
    #[arg(long, value_name = "FILE", help_heading = "Archive")]
    pub archive_file: PathBuf,
    /// Build the tests instrumented for `run --archive-file FILE --coverage`.
    #[arg(long, help_heading = "Archive")]
    pub coverage: bool,
}

/// Running tests from an archive instead of building them.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Archive")]
pub struct FromArchiveArgs {
    /// Run the tests of this archive (made by `cargo xpar archive`) instead of building;
    /// the cargo build flags cannot be given with it.
    #[arg(long, value_name = "FILE")]
    pub archive_file: Option<PathBuf>,
    /// The checkout of the archived commit the tests run in [default: the workspace the
    /// archive was built in, if it exists here].
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub workspace_remap: Option<PathBuf>,
    /// Extract the archive here and keep it [default: a temporary dir, removed after the
    /// run].
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub extract_to: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The run to show: its run id (a directory under `<target-dir>/xpar/runs`), or
    /// `latest`.
    #[arg(value_name = "RUN-ID", default_value = "latest")]
    pub run: String,
    /// Directory the run was recorded in, under `xpar/runs` (default: the workspace's
    /// target dir).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Do not print passing tests.
    #[arg(short, long, help_heading = "Output", conflicts_with = "verbose")]
    pub quiet: bool,
    /// Use verbose output.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Coloring: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// When to show the output of passing tests (as far as the run kept it).
    #[arg(long, value_enum, value_name = "WHEN")]
    pub success_output: Option<OutputWhen>,
    /// When to show the output of failing tests.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub failure_output: Option<OutputWhen>,
    /// Write the run's JUnit XML report to this file.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Write the run's JSON report to this file (see docs/report-format.md).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report of the run to this file.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The tests that both passed and failed (a pass on a retry counts as a failure too),
    /// with their failure rates, highest first.
    #[arg(long, conflicts_with_all = ["slowest", "test"])]
    pub flaky: bool,
    /// The N slowest tests by median duration [N: 10], with their recent runs' median
    /// against their older runs', and which got slower.
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        default_missing_value = "10",
        allow_negative_numbers = true,
        conflicts_with = "test"
    )]
    pub slowest: Option<usize>,
    /// The results of the test named NAME (or `BINARY-ID NAME`; else of the tests whose
    /// name contains it), newest first.
    #[arg(long, value_name = "NAME")]
    pub test: Option<String>,
    /// How many of the last recorded runs to look at.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        allow_negative_numbers = true
    )]
    pub runs: usize,
    /// Output format, on stdout.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Table)]
    pub format: HistoryFormat,
    /// Directory the runs were recorded in, under `xpar/history.db` (default: the
    /// workspace's target dir).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
#[group(id = "runs", required = true, multiple = false, args = ["count", "plan"])]
pub struct StressArgs {
    #[command(flatten)]
    pub cargo: CargoOptions,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Runs of each selected test (each in a process of its own).
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        help_heading = "Stress"
    )]
    pub count: Option<usize>,
    /// Run the named plans of this JSON file (or this JSON, when it starts with `{`) one
    /// after another, each with its filter, count, concurrency, timeout and thresholds;
    /// exit 100 when a threshold is missed (see docs/stress-plan.md).
    #[arg(
        long,
        value_name = "FILE|JSON",
        help_heading = "Stress",
        conflicts_with = "stop_stable"
    )]
    pub plan: Option<String>,
    /// Runs at once [default: the cores this process may use]; with --plan, of the plans
    /// that set no `concurrency`.
    #[arg(
        long,
        short = 'j',
        value_name = "C",
        allow_negative_numbers = true,
        help_heading = "Stress"
    )]
    pub concurrency: Option<usize>,
    /// Stop running a test once it has passed its first K runs.
    #[arg(
        long,
        value_name = "K",
        allow_negative_numbers = true,
        help_heading = "Stress"
    )]
    pub stop_stable: Option<usize>,
    /// Report format, on stdout.
    #[arg(long, value_enum, default_value_t = StressOutput::Table, help_heading = "Stress")]
    pub output: StressOutput,
    /// End a run that takes longer than this (it counts as a timeout failure); with
    /// --plan, in the plans that set no `timeout`.
    #[arg(long, value_name = "DURATION", help_heading = "Stress")]
    pub timeout: Option<String>,
}

/// Options forwarded to cargo, spelled as `cargo test` spells them.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Package and target selection")]
pub struct CargoOptions {
    /// Package to test (may be given more than once).
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Exclude packages from the test (with --workspace).
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Test only this package's library.
    #[arg(long)]
    pub lib: bool,
    /// Test all binaries.
    #[arg(long)]
    pub bins: bool,
    /// Test only the named binary.
    #[arg(long, value_name = "NAME")]
    pub bin: Vec<String>,
    /// Test all integration tests.
    #[arg(long)]
    pub tests: bool,
    /// Test only the named integration test.
    #[arg(long, value_name = "NAME")]
    pub test: Vec<String>,
    /// Test all examples.
    #[arg(long)]
    pub examples: bool,
    /// Test only the named example.
    #[arg(long, value_name = "NAME")]
    pub example: Vec<String>,
    /// Test all targets (lib, bins, tests, examples, benches).
    #[arg(long)]
    pub all_targets: bool,
    /// Test only the libraries' documentation (doctests).
    #[arg(long, conflicts_with_all = [
        "lib", "bins", "bin", "tests", "test", "examples", "example", "all_targets",
    ])]
    pub doc: bool,
    /// Space or comma separated list of features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all available features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations.
    #[arg(short = 'r', long, help_heading = "Build options")]
    pub release: bool,
    /// Build artifacts with the specified profile.
    #[arg(long, value_name = "NAME", conflicts_with = "release")]
    pub profile: Option<String>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Build for the target triple, and run its tests through CARGO_TARGET_<TRIPLE>_RUNNER
    /// when set (doctests are left out).
    #[arg(long, value_name = "TRIPLE", conflicts_with = "doc")]
    pub target: Option<String>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Assert that `Cargo.lock` will remain unchanged.
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline.
    #[arg(long)]
    pub frozen: bool,
    /// Do not print cargo log messages, nor passing tests.
    #[arg(short, long, help_heading = "Output", conflicts_with = "verbose")]
    pub quiet: bool,
    /// Use verbose output (-vv very verbose).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Coloring: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

impl CargoOptions {
    /// What the runner forwards to cargo.
    pub fn into_options(self) -> cargo::CargoOptions {
        as_on_terminal(cargo::CargoOptions {
            packages: self.packages,
            workspace: self.workspace,
            exclude: self.exclude,
            lib: self.lib,
            bins: self.bins,
            bin: self.bin,
            tests: self.tests,
            test: self.test,
            examples: self.examples,
            example: self.example,
            all_targets: self.all_targets,
            doc: self.doc,
            features: self.features,
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            release: self.release,
            profile: self.profile,
            target_dir: self.target_dir,
            target: self.target,
            manifest_path: self.manifest_path,
            locked: self.locked,
            offline: self.offline,
            frozen: self.frozen,
            quiet: self.quiet,
            verbose: self.verbose,
            color: self.color.into(),
            build_output: cargo::BuildOutput::to(std::io::stderr()),
            progress_width: None,
            cancel: None,
        })
    }
}

/// Cargo's stderr is a pipe to us: on a terminal, it is asked for what it would have shown
/// there, colours (`--color auto` becomes `always`) and its progress bar at the terminal's
/// width. Nothing changes when our stderr is not a terminal, and a choice the user made
/// stays.
fn as_on_terminal(mut opts: cargo::CargoOptions) -> cargo::CargoOptions {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return opts;
    }
    if opts.color == cargo::ColorChoice::Auto && std::env::var_os("NO_COLOR").is_none() {
        opts.color = cargo::ColorChoice::Always;
    }
    opts.progress_width =
        terminal_size::terminal_size_of(std::io::stderr()).map(|(width, _)| width.0);
    opts
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for cargo::ColorChoice {
    fn from(c: ColorChoice) -> Self {
        match c {
            ColorChoice::Auto => cargo::ColorChoice::Auto,
            ColorChoice::Always => cargo::ColorChoice::Always,
            ColorChoice::Never => cargo::ColorChoice::Never,
        }
    }
}

/// Which tests of the listed binaries to run.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Test selection")]
pub struct FilterArgs {
    /// Run only tests whose name contains one of these strings.
    #[arg(value_name = "FILTERS")]
    pub filters: Vec<String>,
    /// Filters must match test names exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip tests whose name contains this string (exactly, with --exact).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Run only ignored tests.
    #[arg(long, conflicts_with = "include_ignored")]
    pub ignored: bool,
    /// Run ignored and not ignored tests.
    #[arg(long)]
    pub include_ignored: bool,
    /// Select tests by xpar-harness marker: `serial`, `parallel_safe`,
    /// `resource_intensive`, `group`, with `not`, `and`, `or` and parentheses.
    #[arg(short = 'm', value_name = "EXPR")]
    pub markers: Option<String>,
    /// Arguments for the test binaries, as after `cargo test --`. libtest's filter flags
    /// (names, --exact, --skip, --ignored, --include-ignored, --nocapture) are understood
    /// here; any other argument is passed to every test process.
    #[arg(last = true, value_name = "ARGS")]
    pub test_args: Vec<String>,
}

/// How to run.
#[derive(Debug, Default, Clone, Args)]
#[command(next_help_heading = "Runner options")]
pub struct RunnerArgs {
    /// Number of workers: a number, `auto` for the cores this process may use (affinity
    /// and cgroup quota respected), or `logical` for the machine's logical CPUs [default:
    /// auto].
    #[arg(
        short = 'j',
        long = "jobs",
        visible_alias = "test-threads",
        value_name = "N|auto|logical",
        allow_negative_numbers = true
    )]
    pub jobs: Option<String>,
    /// Cap the number of workers, whatever -j says.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub maxprocesses: Option<usize>,
    /// Run only shard K of N (from 1) of the selected tests: `slice:K/N` deals them
    /// round-robin, `hash:K/N` by name (a test stays in its shard as tests are added),
    /// `time:K/N` packs them longest first by the duration history. Tests sharing a
    /// serial key or a group stay in one shard.
    #[arg(long, value_name = "KIND:K/N")]
    pub partition: Option<String>,
    /// Read the durations the schedule is planned from in FILE and write them back
    /// there, instead of the run history's (for CI to carry between runs; a missing file
    /// is an empty history).
    #[arg(long, value_name = "FILE")]
    pub durations: Option<PathBuf>,
    /// Run only the tests that failed in the last recorded run (pytest's --lf); when
    /// none of them is selected, run every selected test.
    #[arg(
        long,
        visible_alias = "lf",
        conflicts_with = "failed_first",
        help_heading = "Test selection"
    )]
    pub last_failed: bool,
    /// Run the tests that failed in the last recorded run first, then the rest
    /// (pytest's --ff).
    #[arg(long, visible_alias = "ff", help_heading = "Test selection")]
    pub failed_first: bool,
    /// Write there everything `cargo xpar merge` needs of this run (its JSON and JUnit
    /// reports, its record, the duration history, its coverage profile), replacing what
    /// an earlier run left.
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Run only these command suites of the config file (`[[suite]]`), with the suites
    /// they depend on, and no tests.
    #[arg(
        long,
        value_name = "NAME,...",
        value_delimiter = ',',
        help_heading = "Suites"
    )]
    pub suites: Vec<String>,
    /// Run only the command suites of these categories, with the suites they depend
    /// on, and no tests.
    #[arg(
        long,
        value_name = "CATEGORY,...",
        value_delimiter = ',',
        help_heading = "Suites"
    )]
    pub categories: Vec<String>,
    /// Write each test's output, every attempt, to a file of its own under DIR:
    /// `DIR/<binary id>/<name>.log`, the name cut at `::` into directories.
    #[arg(long, value_name = "DIR", help_heading = "Reports")]
    pub log_dir: Option<PathBuf>,
    /// How tests are shared among workers [default: load].
    #[arg(long, value_enum, value_name = "MODE")]
    pub dist: Option<DistMode>,
    /// With loadscope, loadfile and loadgroup: hand scopes out in list order rather
    /// than largest first.
    #[arg(long)]
    pub no_loadscope_reorder: bool,
    /// Treat tests not marked `#[parallel_safe]` (or `#[serial(..)]`) as `#[serial]`.
    #[arg(long)]
    pub require_parallel_safe: bool,
    /// Do not give a test that kept several cores busy last time as many worker slots.
    #[arg(long)]
    pub no_cpu_slots: bool,
    /// Keep the run's temporary directories (XPAR_TMPDIR of each worker) after the run.
    #[arg(long)]
    pub keep_tmp: bool,
    /// Stop scheduling tests after the first failure (the default, as for cargo test).
    #[arg(long, overrides_with = "no_fail_fast")]
    pub fail_fast: bool,
    /// Run every test, whatever fails.
    #[arg(long, overrides_with = "fail_fast")]
    pub no_fail_fast: bool,
    /// Stop scheduling after N failures (running tests finish); `N:immediate` kills them.
    #[arg(long, value_name = "N[:immediate]", allow_negative_numbers = true)]
    pub maxfail: Option<String>,
    /// Print a SLOW line for a test still running after this long (and each multiple).
    #[arg(long, value_name = "DURATION")]
    pub slow_timeout: Option<String>,
    /// End a test that runs longer than this: SIGTERM to its process group, then SIGKILL
    /// after --timeout-grace. It is reported timed out; its batch goes on.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Between SIGTERM and SIGKILL, for --timeout, --run-timeout, --maxfail and signals.
    /// `0s` sends SIGKILL right after SIGTERM, leaving a test no time to clean up.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub timeout_grace: String,
    /// End the whole test phase after this long: running tests are killed and reported
    /// timed out, the rest not run.
    #[arg(long, value_name = "DURATION")]
    pub run_timeout: Option<String>,
    /// Stop the run once test processes have crashed (died under a test and been
    /// replaced) more than N times [default: 4 x workers].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_worker_restart: Option<usize>,
    /// Run a failed test again, up to N more times; one that then passes is FLAKY
    /// [default: 0].
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        help_heading = "Retries"
    )]
    pub retries: Option<usize>,
    /// How the delay between attempts grows.
    #[arg(long, value_enum, default_value_t = Backoff::Fixed, help_heading = "Retries")]
    pub retry_backoff: Backoff,
    /// The delay before the first retry.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "0s",
        help_heading = "Retries"
    )]
    pub retry_delay: String,
    /// Shorten each delay by a random part of up to half.
    #[arg(long, help_heading = "Retries")]
    pub retry_jitter: bool,
    /// Retry only failures whose output or message matches this regular expression.
    #[arg(long, value_name = "REGEX", help_heading = "Retries")]
    pub retry_on: Option<String>,
    /// Whether a test that passed only on a retry passes the run.
    #[arg(long, value_enum, default_value_t = FlakyResult::Pass, help_heading = "Retries")]
    pub flaky_result: FlakyResult,
    /// Show every test's output, passing ones included, as each test finishes.
    #[arg(long, visible_alias = "nocapture")]
    pub no_capture: bool,
    /// When to show the output of passing tests.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub success_output: Option<OutputWhen>,
    /// When to show the output of failing tests.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub failure_output: Option<OutputWhen>,
    /// Write a JUnit XML report of the whole run to this file (missing parent directories
    /// are created; checked before building).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report of the whole run to this file (see docs/report-format.md;
    /// missing parent directories are created; checked before building).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report of the whole run to this file: summary,
    /// failures with their output, flaky and slowest tests, per-binary times, a timeline
    /// per worker and, with --coverage, the coverage table (checked before building).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub html: Option<PathBuf>,
    /// Collect LLVM source-based coverage, merged over every worker and binary.
    #[arg(long, help_heading = "Coverage")]
    pub coverage: bool,
    /// Coverage report formats (several allowed, comma separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "FORMAT",
        requires = "coverage",
        help_heading = "Coverage"
    )]
    pub coverage_format: Vec<CoverageFormat>,
    /// Where to write the coverage reports, created if missing [default:
    /// <target-dir>/xpar/coverage].
    #[arg(
        long,
        value_name = "DIR",
        requires = "coverage",
        help_heading = "Coverage"
    )]
    pub coverage_output: Option<PathBuf>,
    /// Exit with 111 when line coverage is below this percentage.
    #[arg(
        long,
        value_name = "PERCENT",
        allow_negative_numbers = true,
        requires = "coverage",
        help_heading = "Coverage"
    )]
    pub fail_under_lines: Option<f64>,
}

/// What a flaky test means for the exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlakyResult {
    #[default]
    Pass,
    Fail,
}

/// When a test's captured output is shown (nextest's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputWhen {
    Never,
    Immediate,
    Final,
    ImmediateFinal,
}

impl OutputWhen {
    pub fn immediate(self) -> bool {
        matches!(self, OutputWhen::Immediate | OutputWhen::ImmediateFinal)
    }
    pub fn at_end(self) -> bool {
        matches!(self, OutputWhen::Final | OutputWhen::ImmediateFinal)
    }
}

/// Which profile of the workspace's `.config/xpar.toml` to use.
#[derive(Debug, Default, Clone, Args)]
pub struct ProfileArgs {
    /// Use this profile of `.config/xpar.toml` (it inherits what it leaves unset from
    /// `default`; flags win over both) [default: $XPAR_PROFILE, else `default`].
    #[arg(long, value_name = "NAME", help_heading = "Config")]
    pub config_profile: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoOptions,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub runner: RunnerArgs,
    #[command(flatten)]
    pub archive: FromArchiveArgs,
    #[command(flatten)]
    pub queue: QueueArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum QueueCommand {
    /// Wait until every test of the run has a result (or no machine is left to give
    /// one), then show the run and write its reports; exits as the run would.
    Report(QueueReportArgs),
    /// Show the run's machines, the chunks they hold, and how far it got.
    Status(QueueTarget),
}

/// Which shared run.
#[derive(Debug, Clone, Args)]
pub struct QueueTarget {
    /// The queue's Redis URL (`redis://HOST:PORT[/DB]`, `redis+unix:///PATH`).
    #[arg(long, value_name = "URL")]
    pub queue: String,
    /// The run, as the machines were given it.
    #[arg(long, value_name = "ID")]
    pub run_id: String,
}

#[derive(Debug, Clone, Args)]
pub struct QueueReportArgs {
    #[command(flatten)]
    pub target: QueueTarget,
    /// Write the run's JUnit XML report to this file.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub junit: Option<PathBuf>,
    /// Write the run's JSON report to this file (see docs/report-format.md).
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report of the run to this file.
    #[arg(long, value_name = "PATH", help_heading = "Reports")]
    pub html: Option<PathBuf>,
    /// Give up waiting after this long (exit 96) [default: wait while a machine is
    /// alive].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Do not print passing tests.
    #[arg(short, long)]
    pub quiet: bool,
}

/// One work queue that many machines share, on Redis.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shared queue")]
pub struct QueueArgs {
    /// Take the work from the queue at this Redis URL, shared with every machine that
    /// joins the same --run-id (`redis://HOST:PORT[/DB]`, `redis+unix:///PATH`).
    #[arg(long, value_name = "URL", requires = "run_id")]
    pub queue: Option<String>,
    /// The run the machines share (the same on every machine; a new one for every run,
    /// e.g. the CI pipeline's id).
    #[arg(long, value_name = "ID", requires = "queue")]
    pub run_id: Option<String>,
    /// How long a machine keeps a chunk without a heartbeat: a machine that stops
    /// answering loses its chunks to the others after this.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        requires = "queue"
    )]
    pub lease_timeout: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cargo: CargoOptions,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
    #[command(flatten)]
    pub archive: FromArchiveArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Binary ids, each followed by its tests, indented.
    Human,
    /// One JSON document (see docs/list-format.md).
    Json,
}
