//! The run options that both a flag and `.config/xpar.toml` can set: the flag when it
//! was given (whatever its value), else the profile's value, else the flag's default.

use std::path::PathBuf;
use std::time::Duration;

use super::args::{DistMode, RunnerArgs};
use super::config::{parse_duration, parse_jobs, parse_limit};
use super::config_file::Profile;
use crate::errors::UsageError;
use crate::execute::Timeouts;

/// The run options a flag sets, or else the config file's profile: the flag when it was
/// given, the profile's value when it has one, the flag's default otherwise.
pub(super) struct Chosen {
    pub jobs: usize,
    pub dist: DistMode,
    pub retries: usize,
    pub timeouts: Timeouts,
    pub run_timeout: Option<Duration>,
    pub no_fail_fast: bool,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub coverage: bool,
}

pub(super) fn choose(r: &RunnerArgs, p: Profile) -> Result<Chosen, UsageError> {
    let limit = |flag, given: &Option<String>, file: Option<Duration>| match given {
        Some(v) => parse_limit(flag, Some(v)),
        None => Ok(file),
    };
    Ok(Chosen {
        jobs: match (&r.jobs, p.jobs) {
            (Some(given), _) => parse_jobs(given)?,
            (None, Some(jobs)) => jobs,
            (None, None) => parse_jobs("auto")?,
        },
        dist: r.dist.or(p.dist).unwrap_or_default(),
        retries: r.retries.or(p.retries).unwrap_or(0),
        timeouts: Timeouts {
            slow: limit("--slow-timeout", &r.slow_timeout, p.slow_timeout)?,
            test: limit("--timeout", &r.timeout, p.timeout)?,
            grace: parse_duration("--timeout-grace", Some(&r.timeout_grace))?.unwrap_or_default(),
        },
        run_timeout: limit("--run-timeout", &r.run_timeout, p.run_timeout)?,
        // `--fail-fast` and `--no-fail-fast` override each other (the last given wins),
        // and either overrides the file's `fail-fast`.
        no_fail_fast: r.no_fail_fast || (!r.fail_fast && p.fail_fast == Some(false)),
        // Bazel asks for the JUnit at XML_OUTPUT_FILE.
        junit: r
            .junit
            .clone()
            .or_else(|| std::env::var_os("XML_OUTPUT_FILE").map(PathBuf::from))
            .or(p.junit),
        json: r.json.clone().or(p.json),
        html: r.html.clone().or(p.html),
        coverage: r.coverage || p.coverage == Some(true),
    })
}
