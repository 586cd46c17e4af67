//! The MCP tools' inputs and outputs: serde types whose JSON schemas (schemars) are the
//! tools' `inputSchema` and `outputSchema`. Unknown input fields are refused, so a
//! misspelt argument is an error rather than silently ignored.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How tests are shared among workers (`cargo xpar --dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dist {
    Load,
    Loadscope,
    Loadfile,
    Loadgroup,
    Worksteal,
    Each,
    No,
}

impl Dist {
    pub fn as_flag(self) -> &'static str {
        match self {
            Dist::Load => "load",
            Dist::Loadscope => "loadscope",
            Dist::Loadfile => "loadfile",
            Dist::Loadgroup => "loadgroup",
            Dist::Worksteal => "worksteal",
            Dist::Each => "each",
            Dist::No => "no",
        }
    }
}

/// How the delay between attempts grows (`--retry-backoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    Fixed,
    Exponential,
}

/// Which tests: the filters of `cargo xpar`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub filters: Vec<String>,
    pub exact: bool,
    pub packages: Vec<String>,
    pub markers: Option<String>,
    pub include_ignored: bool,
}

/// A tool's parameters: the selection's fields, then its own. (serde's `flatten` would
/// share them, but cannot be combined with `deny_unknown_fields`.)
macro_rules! with_selection {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Only tests whose name contains one of these strings (all tests when
            /// empty).
            #[serde(default)]
            pub filters: Vec<String>,
            /// The filters must match test names exactly.
            #[serde(default)]
            pub exact: bool,
            /// Packages of the workspace (`-p`) [default: the workspace's default
            /// members].
            #[serde(default)]
            pub packages: Vec<String>,
            /// A marker expression over xpar-harness markers (`serial`,
            /// `parallel_safe`, `resource_intensive`, `group`, with `not`, `and`, `or`),
            /// as `cargo xpar -m`.
            #[serde(default)]
            pub markers: Option<String>,
            /// `#[ignore]`d tests too.
            #[serde(default)]
            pub include_ignored: bool,
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            pub fn selection(&self) -> Selection {
                Selection {
                    filters: self.filters.clone(),
                    exact: self.exact,
                    packages: self.packages.clone(),
                    markers: self.markers.clone(),
                    include_ignored: self.include_ignored,
                }
            }
        }
    };
}

with_selection! {
    pub struct ListTestsParams {}
}

with_selection! {
/// How to run the selected tests.
pub struct RunTestsParams {
    /// Worker processes at once [default: the cores this process may use].
    #[serde(default)]
    pub jobs: Option<u32>,
    /// How tests are shared among workers [default: load].
    #[serde(default)]
    pub dist: Option<Dist>,
    /// End a test that runs longer than this many seconds [default: what
    /// set_test_timeout set, else the config file's, else none].
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Run a failed test again up to this many times; one that then passes is flaky.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Stop scheduling tests after the first failure [default: true, as cargo test].
    #[serde(default)]
    pub fail_fast: Option<bool>,
}
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RerunFailedParams {
    /// The run whose failed tests to run again [default: the last run of this server].
    #[serde(default)]
    pub run_id: Option<String>,
    /// Retries of each test that fails again.
    #[serde(default)]
    pub retries: Option<u32>,
    /// How the delay between retries grows [default: fixed].
    #[serde(default)]
    pub backoff: Option<Backoff>,
    /// The delay before the first retry, in seconds [default: 0].
    #[serde(default)]
    pub retry_delay_secs: Option<f64>,
}

with_selection! {
pub struct DetectFlakyParams {
    /// Runs of each selected test, each in a process of its own [default: 20].
    #[serde(default)]
    pub runs: Option<u32>,
    /// Runs at once [default: the cores this process may use].
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// A test that both passed and failed is reported flaky when it failed in more than
    /// this fraction of its runs (0 to 1) [default: 0, any failure].
    #[serde(default)]
    pub threshold: Option<f64>,
    /// End a run of a test after this many seconds [default: what set_test_timeout set].
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTimeoutParams {
    /// End a test that runs longer than this many seconds; null clears it.
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    /// Call a test slow once it has run this many seconds (said in progress
    /// notifications); null clears it.
    #[serde(default)]
    pub slow_timeout_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    /// The run [default: the last run of this server].
    #[serde(default)]
    pub run_id: Option<String>,
    /// One test's metrics instead of the run's: its name (as list_tests gives it).
    #[serde(default)]
    pub test: Option<String>,
    /// The test's binary id, when tests of several binaries share its name.
    #[serde(default)]
    pub binary_id: Option<String>,
    /// The worker that ran it (`gw0`, `gw1`, ...: run_tests' failures and
    /// get_execution_metrics give it), when the run gave every worker each test
    /// (`dist: "each"`).
    #[serde(default)]
    pub worker: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestOutputParams {
    /// The run [default: the last run of this server].
    #[serde(default)]
    pub run_id: Option<String>,
    /// The test's name (as list_tests and run_tests give it).
    pub test: String,
    /// The test's binary id, when tests of several binaries share its name.
    #[serde(default)]
    pub binary_id: Option<String>,
    /// The worker that ran it (`gw0`, `gw1`, ...: run_tests' failures and
    /// get_execution_metrics give it), when the run gave every worker each test
    /// (`dist: "each"`).
    #[serde(default)]
    pub worker: Option<String>,
}

/// One test as its binary lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListedTest {
    /// The test binary (`package::kind/target`).
    pub binary_id: String,
    pub name: String,
    /// `#[ignore]`d: it runs only with include_ignored.
    pub ignored: bool,
    /// Its xpar-harness markers (`serial`, `serial(key)`, `parallel_safe`,
    /// `resource_intensive(slots = N)`, `group(name)`).
    pub markers: Vec<String>,
    /// The binary does not list its tests (`harness = false`): it runs as one test.
    pub opaque: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ListTestsResult {
    /// The tests the selection matches, by binary, in list order.
    pub tests: Vec<ListedTest>,
    /// How many of them are not ignored.
    pub runnable: usize,
}

/// A test's result counts.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Counts {
    /// Tests the run was to run.
    pub selected: usize,
    pub passed: usize,
    pub failed: usize,
    /// Passed only on a retry (counted among the passed).
    pub flaky: usize,
    pub ignored: usize,
    /// Never started (fail-fast, cancelled).
    pub not_run: usize,
}

/// A failed test.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FailedTest {
    pub binary_id: String,
    pub name: String,
    /// The panic message, or how it ended (timeout, signal, exit status).
    pub message: String,
    /// Its captured output, trimmed to its last lines (get_test_output has all of it).
    pub output: String,
    /// Whether `output` is only the end of the output.
    pub output_trimmed: bool,
    /// Attempts it had (more than 1 with retries).
    pub attempts: usize,
    /// The worker that ran it (its last attempt).
    pub worker: Option<String>,
}

/// The result of run_tests and rerun_failed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunResult {
    /// Names the run in get_execution_metrics, get_test_output and rerun_failed.
    pub run_id: String,
    /// `passed`, `failed`, `cancelled` or `no_tests`.
    pub outcome: String,
    /// The exit code `cargo xpar` would have exited with.
    pub exit_code: i32,
    pub counts: Counts,
    /// Seconds from the first test started to the last finished.
    pub wall_secs: f64,
    /// The tests' durations added up: the time one worker would have needed.
    pub test_secs: f64,
    /// test_secs / wall_secs: what running in parallel gained.
    pub speedup: f64,
    pub workers: usize,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub failures: Vec<FailedTest>,
    /// Tests that failed and then passed on a retry.
    pub flaky_tests: Vec<String>,
    /// What the runner warned about (history, records).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What many runs of one test showed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FlakyTest {
    pub binary_id: String,
    pub name: String,
    pub runs: usize,
    pub failures: usize,
    /// failures / runs.
    pub flake_rate: f64,
    /// `stable` (never failed), `flaky` (passed and failed, above the threshold),
    /// `below_threshold`, or `failing` (failed every run).
    pub verdict: String,
    /// Failures by kind: the panic message with numbers blanked, `timeout`, `signal ...`.
    pub categories: BTreeMap<String, usize>,
    pub median_secs: f64,
    pub max_secs: f64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DetectFlakyResult {
    pub runs_per_test: usize,
    pub threshold: f64,
    /// Every selected test, flakiest first.
    pub tests: Vec<FlakyTest>,
    /// What to do about what was found.
    pub recommendation: String,
    /// Whether the runs were stopped before the end.
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TimeoutSettings {
    /// Applies to the later run_tests, rerun_failed and detect_flaky calls of this MCP
    /// session that set none themselves.
    pub timeout_secs: Option<f64>,
    pub slow_timeout_secs: Option<f64>,
}

/// A test's measurements.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TestMetrics {
    pub binary_id: String,
    pub name: String,
    /// `passed`, `failed`, `ignored`, `not_run`.
    pub status: String,
    pub duration_secs: f64,
    /// User + system CPU time, when measured.
    pub cpu_secs: Option<f64>,
    /// Peak resident memory in bytes, when measured.
    pub peak_rss_bytes: Option<u64>,
    pub attempts: usize,
    pub worker: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MetricsResult {
    pub run_id: String,
    pub wall_secs: f64,
    pub test_secs: f64,
    pub speedup: f64,
    pub workers: usize,
    /// CPU time of every measured test, added up.
    pub cpu_secs: f64,
    /// The largest peak resident memory of a test.
    pub max_peak_rss_bytes: Option<u64>,
    /// The slowest tests, slowest first (at most 10); empty when one test was asked for
    /// (it is `test`).
    pub slowest: Vec<TestMetrics>,
    /// The test asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<TestMetrics>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TestOutputResult {
    pub run_id: String,
    pub binary_id: String,
    pub name: String,
    pub status: String,
    /// The whole captured output of its last attempt (stdout and stderr interleaved).
    pub output: String,
    /// The outputs of earlier attempts that failed and were retried, oldest first.
    pub previous_attempts: Vec<String>,
}
