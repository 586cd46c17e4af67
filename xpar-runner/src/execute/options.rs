//! How to carry out a run: the options the dispatcher and the workers read.

use std::time::Duration;

use super::cancel::CancelHandle;
use super::retry::RetryPolicy;
use super::watchdog::Timeouts;
use crate::plan::{ProcessCosts, RunIgnored};

/// How to carry out a run.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    /// The run's id, when it is recorded: told in [`RunEvent::RunStarted`].
    ///
    /// [`RunEvent::RunStarted`]: crate::report::RunEvent::RunStarted
    pub run_id: Option<String>,
    /// Stop scheduling after this many failures (`--fail-fast` is 1); with `immediate`,
    /// kill the tests still running too.
    pub max_fail: Option<MaxFail>,
    pub run_ignored: RunIgnored,
    /// libtest captures the tests' output (no `--no-capture`, no `--success-output`):
    /// passing tests' output is not read.
    pub capture: bool,
    pub test_args: Vec<String>,
    /// Keep the run's temporary directories (`--keep-tmp`).
    pub keep_tmp: bool,
    /// Under `--coverage`: where every worker's test processes write their profiles.
    pub profile_dir: Option<std::path::PathBuf>,
    pub timeouts: Timeouts,
    /// `--run-timeout`: the most the test phase may take.
    pub run_timeout: Option<Duration>,
    pub retry: RetryPolicy,
    /// Retry a test on the worker that ran it (`--dist each`, where results are per
    /// worker).
    pub pin_retries: bool,
    /// `stress --stop-stable K`: drop the remaining runs of a test once it passed K times
    /// and never failed.
    pub stop_stable: Option<usize>,
    /// `--max-worker-restart`: how many test processes may crash before the run stops.
    pub max_crashes: usize,
    /// What each binary's processes cost in earlier runs (from the history).
    pub process_costs: ProcessCosts,
    /// The handle that stops the run, for a caller that may stop it from outside (or
    /// wants to know why it stopped); `None`: the run makes its own.
    pub cancel: Option<CancelHandle>,
}

/// `--maxfail N[:immediate]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxFail {
    pub count: usize,
    pub immediate: bool,
}
