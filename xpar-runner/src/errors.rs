//! The errors of each stage, and the one top-level error that maps them to exit codes.

use std::path::PathBuf;

use thiserror::Error;

use std::fmt;

use crate::exit_codes;

/// The command line asks for something that cannot be done.
#[derive(Debug, Error)]
pub enum UsageError {
    #[error(
        "invalid value `{value}` for -j/--jobs: expected a number of at least 1, `auto` or \
         `logical`"
    )]
    BadJobs { value: String },
    #[error(transparent)]
    MarkerExpr(#[from] MarkerExprError),
    #[error(transparent)]
    Suites(#[from] SuiteError),
    #[error("--fail-under-lines takes a percentage from 0 to 100, not `{0}`")]
    BadPercent(f64),
    #[error("invalid value `{value}` for {flag}: {why} (e.g. `30s`, `2m`, `1m 30s`)")]
    BadDuration {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("invalid value `{value}` for --retry-on: {why}")]
    BadRegex { value: String, why: String },
    #[error("invalid value `{0}` for --maxfail: expected N or N:immediate, N at least 1")]
    BadMaxFail(String),
    #[error(transparent)]
    BadPartition(#[from] BadPartition),
    #[error("{flag} must be at least 1")]
    NotPositive { flag: &'static str },
    #[error("{tests} tests x --count {count} is more than {max} runs; select fewer tests or lower --count")]
    TooManyStressRuns {
        tests: usize,
        count: usize,
        max: usize,
    },
    #[error(
        "stress plan `{plan}`: {tests} tests x count {count} is more than {max} runs; \
         select fewer tests or lower its count"
    )]
    TooManyPlanRuns {
        plan: String,
        tests: usize,
        count: usize,
        max: usize,
    },
    #[error("--maxprocesses must be at least 1")]
    BadMaxProcesses,
    #[error("`{flag}` needs a value")]
    MissingValue { flag: &'static str },
    #[error("`{a}` cannot be used with `{b}`")]
    Conflict { a: &'static str, b: &'static str },
    #[error("`{flag}` is only used together with {needs}")]
    OnlyWith {
        flag: &'static str,
        needs: &'static str,
    },
    #[error(
        "`{arg}` is set by cargo xpar on every test process and cannot be passed after `--` \
         (use -j for parallelism)"
    )]
    RunnerOwnedTestArg { arg: String },
    #[error("list takes no test arguments after `--` other than filters")]
    ListTestArgs,
    /// A config file (`.config/xpar.toml`) that cannot be used: where, and why.
    #[error("{}: {message}", config_place(path, *line))]
    ConfigFile {
        path: PathBuf,
        /// From 1; 0 when the whole file is at fault (it cannot be read).
        line: usize,
        message: String,
    },
    /// A stress plan (`--plan`) that cannot be used: where in it, and why.
    #[error("stress plan {origin}: {}{message}", json_place(path))]
    StressPlan {
        /// The file, or `(inline JSON)`.
        origin: String,
        /// `plans[0].thresholds.p95`; `.` for the whole document.
        path: String,
        message: String,
    },
    #[error("cannot read stress plan {}: {reason}", path.display())]
    StressPlanRead { path: PathBuf, reason: String },
    #[error(
        "--plan takes the tests of each plan from its `filter`: give no FILTERS, --exact, \
         --skip, --ignored, --include-ignored or -m with it"
    )]
    PlanWithFilters,
    #[error("unknown config profile `{name}` (from {how}): {} defines {defined}", path.display())]
    UnknownProfile {
        name: String,
        /// `--config-profile` or `XPAR_PROFILE`.
        how: &'static str,
        path: PathBuf,
        /// The profiles the file defines, or that there is no such file.
        defined: String,
    },
    #[error("cannot write {what} to {}: {reason}", path.display())]
    ReportPath {
        /// `--junit report`, `--coverage-output reports`, ...
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// `PATH: `, or nothing for the whole document (`.`).
fn json_place(path: &str) -> String {
    match path {
        "." | "" => String::new(),
        p => format!("{p}: "),
    }
}

/// `FILE:LINE`, or `FILE` for line 0.
fn config_place(path: &std::path::Path, line: usize) -> String {
    match line {
        0 => path.display().to_string(),
        n => format!("{}:{n}", path.display()),
    }
}

/// Building the tests failed, or cargo could not be run.
#[derive(Debug, Error)]
pub enum BuildError {
    #[error("could not run {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed with {status}")]
    Failed { command: String, status: String },
    /// Cargo refused the command line before building anything (no Cargo.toml, `-p`
    /// naming no package, an unknown feature): a usage error, in cargo's words.
    #[error("{message}")]
    Refused {
        message: String,
        /// Whether cargo's own `error:` line is on stderr already.
        shown: bool,
    },
    #[error("could not read cargo's output")]
    Read(#[source] std::io::Error),
    /// The build was stopped through [`CargoOptions::cancel`](crate::cargo::CargoOptions).
    #[error("the build was cancelled")]
    Cancelled,
    #[error("cargo metadata failed: {0}")]
    Metadata(String),
    #[error(
        "{binary} was built without coverage instrumentation: `target.<triple>.rustflags` in \
         cargo's config override the flags --coverage adds; set RUSTFLAGS to your flags instead"
    )]
    NotInstrumented { binary: String },
}

/// Listing the tests of a binary failed in a way that cannot be worked around.
#[derive(Debug, Error)]
pub enum ListError {
    #[error("could not read the markers of {binary}")]
    Markers {
        binary: String,
        #[source]
        source: xpar_protocol::ReadError,
    },
    #[error("could not create a temporary file for the marker query")]
    TempDir(#[source] std::io::Error),
    #[error("could not find the libraries' doctests")]
    Doctests(#[source] std::io::Error),
    #[error("could not run {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// Writing a report failed.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("could not write the JUnit report to {}", path.display())]
    Junit {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not write the JSON report to {}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the HTML report to {}", path.display())]
    Html {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write to stdout")]
    Stdout(#[source] std::io::Error),
    #[error("could not write the test log {}", path.display())]
    LogDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {} to the results directory", path.display())]
    ResultsDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Making the coverage report failed.
#[derive(Debug, Error)]
pub enum CoverageError {
    #[error(
        "llvm-profdata and llvm-cov for rustc's LLVM {llvm} were not found; install them with \
         `rustup component add llvm-tools-preview` (or put llvm-profdata-{llvm} and \
         llvm-cov-{llvm} on PATH)"
    )]
    ToolsMissing { llvm: u32 },
    #[error(
        "llvm-profdata and llvm-cov were not found (`{rustc} -vV` did not tell which LLVM \
         they must match); install them with `rustup component add llvm-tools-preview`"
    )]
    ToolsMissingUnknownLlvm { rustc: String },
    #[error("no coverage profile was written to {} (did any test run?)", dir.display())]
    NoProfiles { dir: PathBuf },
    #[error("could not run {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} failed with {status}:\n{output}")]
    Tool {
        command: String,
        status: String,
        output: String,
    },
    #[error("could not read {0}")]
    Parse(String),
    #[error("could not write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Making an archive failed (`cargo xpar archive`).
#[derive(Debug, Error)]
pub enum ArchiveCreateError {
    #[error("could not write the archive {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("could not read {}, which the archive needs: {reason}", file.display())]
    Read { file: PathBuf, reason: String },
    #[error("could not compute the build identity of the binaries: {0}")]
    Identity(String),
    #[error(
        "{} is outside the target dir {}, so it cannot be placed on another machine",
        file.display(),
        target_dir.display()
    )]
    OutsideTarget { file: PathBuf, target_dir: PathBuf },
}

/// An archive cannot be run (`--archive-file`): each is one line naming the archive.
#[derive(Debug, Error)]
pub enum ArchiveOpenError {
    #[error("archive {}: not a file", path.display())]
    NotAFile { path: PathBuf },
    #[error(
        "archive {}: not a cargo xpar archive (not zstd-compressed; make one with `cargo xpar \
         archive`)",
        path.display()
    )]
    NotZstd { path: PathBuf },
    #[error("archive {}: truncated ({reason}); copy it again", path.display())]
    Truncated { path: PathBuf, reason: String },
    #[error("archive {}: corrupt ({reason})", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("archive {}: no {manifest} in it: not a cargo xpar archive", path.display())]
    NoManifest {
        path: PathBuf,
        manifest: &'static str,
    },
    #[error("archive {}: its manifest cannot be read ({reason})", path.display())]
    BadManifest { path: PathBuf, reason: String },
    #[error(
        "archive {}: format version {found}, but this cargo xpar reads version {expected}; \
         run it with the cargo xpar that made it",
        path.display()
    )]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error(
        "archive {}: its binaries do not match its manifest (build identity {found}, \
         expected {expected}): the archive is corrupt",
        path.display()
    )]
    IdentityMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("archive {}: could not extract it to {}: {reason}", path.display(), dir.display())]
    Extract {
        path: PathBuf,
        dir: PathBuf,
        reason: String,
    },
    #[error(
        "archive {}: the workspace it was built in ({}) is not here; pass --workspace-remap \
         DIR, a checkout of the same commit",
        path.display(),
        original.display()
    )]
    NoWorkspace { path: PathBuf, original: PathBuf },
    #[error("--workspace-remap {}: not a directory", dir.display())]
    RemapMissing { dir: PathBuf },
    #[error(
        "archive {}: its binaries were built without coverage instrumentation; make it with \
         `cargo xpar archive --coverage` to run it with --coverage",
        path.display()
    )]
    NotInstrumented { path: PathBuf },
}

/// The work queue several machines share on Redis (`--queue redis://...`) failed. `url` is
/// shown without its password.
#[derive(Debug, Error)]
pub enum QueueError {
    #[error(
        "invalid queue URL `{url}`: {why} (expected redis://HOST:PORT[/DB] or redis+unix:///PATH)"
    )]
    BadUrl { url: String, why: String },
    #[error("invalid {what} `{value}` for the queue: it must not be empty nor hold any of `{forbidden}`")]
    BadName {
        what: &'static str,
        value: String,
        forbidden: String,
    },
    #[error("cannot reach the queue at {url}: {why}; is redis-server running there?")]
    Unreachable { url: String, why: String },
    #[error("lost the queue at {url} during the run: {why}")]
    Lost { url: String, why: String },
    #[error("the queue at {url} refused {op}: {why}")]
    Redis {
        url: String,
        op: &'static str,
        why: String,
    },
    #[error(
        "run `{run_id}` in the queue is of another build ({theirs}, ours {ours}): every          machine of a run must run the same build; give this build its own --run-id"
    )]
    BuildMismatch {
        run_id: String,
        ours: String,
        theirs: String,
    },
    #[error(
        "run `{run_id}` in the queue has finished (build {theirs}); give this run a new --run-id"
    )]
    RunIdReused { run_id: String, theirs: String },
    #[error(
        "run `{run_id}` is no longer in the queue: its keys expired (raise the queue's TTL) \
         or were deleted"
    )]
    RunGone { run_id: String },
    /// The run stopped because the queue failed under it (the first error, as said).
    #[error("{0}")]
    Failed(String),
    #[error(
        "gave up waiting for the run after {:.0}s: {done} of {total} tests have a result",
        waited.as_secs_f64()
    )]
    Timeout {
        waited: std::time::Duration,
        done: u64,
        total: u64,
    },
    #[error(
        "no machine joined run `{run_id}` in {}: start the run's machines (`cargo xpar \
         --queue URL --run-id {run_id}`), or wait longer with --timeout",
        humantime::format_duration(*waited)
    )]
    NeverJoined {
        run_id: String,
        waited: std::time::Duration,
    },
    #[error("the queue at {url} answered {op} with something this version cannot read: {why}")]
    Protocol {
        url: String,
        op: &'static str,
        why: String,
    },
}

/// The run's command suites cannot be run as declared.
#[derive(Debug, Error)]
pub enum SuiteError {
    #[error("suite {index} has no name")]
    EmptyName { index: usize },
    #[error("suite `{suite}` has no command")]
    NoCommand { suite: String },
    #[error("two suites are named `{suite}`")]
    Duplicate { suite: String },
    #[error("suite `{suite}` holds 0 slots; a suite holds at least 1")]
    ZeroSlots { suite: String },
    #[error("suite `{suite}` depends on `{dependency}`, which is no suite")]
    UnknownDependency { suite: String, dependency: String },
    #[error("suite dependencies form a cycle: {}", cycle.join(" -> "))]
    Cycle { cycle: Vec<String> },
    #[error("suite `{suite}`: bad timeout: {why}")]
    BadTimeout { suite: String, why: String },
    #[error("--suites: no suite is named `{name}`")]
    UnknownSuite { name: String },
    #[error("--categories: no suite has the category `{category}`")]
    UnknownCategory { category: String },
}

/// The run history (`<target-dir>/xpar/history.db`) cannot be used. A run only warns
/// of these; `cargo xpar history` stops with them.
#[derive(Debug, Error)]
pub enum HistoryError {
    #[error("no run history at {}: every `cargo xpar` run is recorded there; run the tests first", path.display())]
    NoHistory { path: PathBuf },
    #[error("cannot create the directory of the run history {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the run history {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the run history {} has format version {found}, not {supported}: another version of cargo xpar wrote it", path.display())]
    Version {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("cannot read the run history {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot write the run history {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no test named `{name}` in the last {runs} recorded runs")]
    NoSuchTest { name: String, runs: usize },
}

/// Everything that ends a `cargo xpar` invocation early.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Coverage(#[from] CoverageError),
    #[error("could not start a worker thread")]
    Thread(#[source] std::io::Error),
    #[error("could not create the run's temporary directories")]
    TempDir(#[source] std::io::Error),
    #[error("could not listen for signals")]
    Signals(#[source] std::io::Error),
    #[error(transparent)]
    RunLog(#[from] RunLogError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    ArchiveCreate(#[from] ArchiveCreateError),
    #[error(transparent)]
    ArchiveOpen(#[from] ArchiveOpenError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Build(BuildError::Refused { .. }) => exit_codes::USAGE,
            Error::Build(_) => exit_codes::BUILD_FAILED,
            Error::List(_) | Error::Thread(_) | Error::TempDir(_) | Error::Signals(_) => {
                exit_codes::SETUP_ERROR
            }
            Error::Report(_) => exit_codes::WRITE_OUTPUT_ERROR,
            Error::RunLog(RunLogError::NoRuns(_) | RunLogError::NoSuchRun { .. }) => {
                exit_codes::USAGE
            }
            Error::RunLog(_) => exit_codes::SETUP_ERROR,
            Error::Coverage(_) => exit_codes::COVERAGE_ERROR,
            Error::Merge(MergeError::Write { .. }) => exit_codes::WRITE_OUTPUT_ERROR,
            Error::Merge(MergeError::CoverageBuild { .. } | MergeError::NoCoverage { .. }) => {
                exit_codes::COVERAGE_ERROR
            }
            Error::Merge(_) => exit_codes::MERGE_MISMATCH,
            Error::ArchiveCreate(_) => exit_codes::ARCHIVE_CREATION_FAILED,
            // nextest's code for an archive that cannot be extracted.
            Error::ArchiveOpen(_) => exit_codes::SETUP_ERROR,
            Error::Queue(QueueError::BadUrl { .. } | QueueError::BadName { .. }) => {
                exit_codes::USAGE
            }
            Error::Queue(_) => exit_codes::SETUP_ERROR,
            Error::History(HistoryError::NoHistory { .. }) => exit_codes::USAGE,
            Error::History(HistoryError::NoSuchTest { .. }) => exit_codes::NO_TESTS_RUN,
            Error::History(_) => exit_codes::SETUP_ERROR,
        }
    }

    /// Whether the message is on stderr already (cargo printed it), so that printing it
    /// again would show it twice.
    pub fn already_shown(&self) -> bool {
        matches!(self, Error::Build(BuildError::Refused { shown: true, .. }))
    }
}

/// A `-m` marker expression that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MarkerExprError {
    #[error(
        "unknown marker `{0}` in -m (known: serial, parallel_safe, resource_intensive, group)"
    )]
    Unknown(String),
    #[error("-m expression ends early: expected a marker, `not` or `(`")]
    UnexpectedEnd,
    #[error("unexpected `{0}` in -m expression")]
    Unexpected(String),
}

/// Why a record cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("no recorded runs in {0}")]
    NoRuns(std::path::PathBuf),
    #[error("no recorded run `{id}` in {dir}")]
    NoSuchRun { id: String, dir: std::path::PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a record of cargo xpar: {why}")]
    Malformed {
        path: std::path::PathBuf,
        line: usize,
        why: String,
    },
    #[error("{path}: record format version {found} is not {expected}")]
    Version {
        path: std::path::PathBuf,
        found: u32,
        expected: u32,
    },
}

/// `cargo xpar merge`: the results given do not make one run.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no results directory given")]
    NoShards,
    #[error("{} is not a results directory of `cargo xpar run --results-dir`: {why}", dir.display())]
    NotResults { dir: PathBuf, why: String },
    #[error(
        "{} and {} are results of different builds ({a_id} and {b_id}): every shard must run the same build or archive",
        a.display(),
        b.display()
    )]
    DifferentBuilds {
        a: PathBuf,
        a_id: String,
        b: PathBuf,
        b_id: String,
    },
    #[error(
        "{} ({a_part}) and {} ({b_part}) are not shards of one partition",
        a.display(),
        b.display()
    )]
    DifferentPartitions {
        a: PathBuf,
        a_part: String,
        b: PathBuf,
        b_part: String,
    },
    #[error(
        "{} and {} were cut from different selections ({a_count} and {b_count} tests): the shards' filters differ",
        a.display(),
        b.display()
    )]
    DifferentSelections {
        a: PathBuf,
        a_count: usize,
        b: PathBuf,
        b_count: usize,
    },
    #[error("shard {index} of {total} is given twice: {} and {}", a.display(), b.display())]
    ShardTwice {
        index: usize,
        total: usize,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("shard{} {} of {total} missing", if missing.len() == 1 { "" } else { "s" }, join_numbers(missing))]
    MissingShards { missing: Vec<usize>, total: usize },
    #[error("test `{test}` is reported by two shards: {} and {}", a.display(), b.display())]
    TestTwice {
        test: String,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("{} reports test `{test}`, which is not in the run's selection", dir.display())]
    TestNotSelected { dir: PathBuf, test: String },
    #[error("test `{first}` is in no shard's results{}", if *count > 1 { format!(" (and {} more)", count - 1) } else { String::new() })]
    TestsMissing { count: usize, first: String },
    #[error("{} has no coverage profile: its run had no --coverage", dir.display())]
    NoCoverage { dir: PathBuf },
    #[error(
        "the test binaries here are not the build the shards ran (build {here}, shards {shards}): merge coverage where that build is, or from the archive the shards ran"
    )]
    CoverageBuild { here: String, shards: String },
    #[error("could not write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn join_numbers(numbers: &[usize]) -> String {
    numbers
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `--partition` value that does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadPartition {
    /// Not `KIND:K/N` (or `KIND:auto`) with 1 <= K <= N.
    Syntax(String),
    /// `auto`, and the CI's variables give no shard: why.
    Ci(String),
}

impl fmt::Display for BadPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadPartition::Syntax(value) => write!(
                f,
                "invalid value `{value}` for --partition: expected slice:K/N, hash:K/N, \
                 time:K/N with 1 <= K <= N, or auto"
            ),
            BadPartition::Ci(why) => write!(f, "--partition auto: {why}"),
        }
    }
}

impl std::error::Error for BadPartition {}
