//! A tool call's arguments as the command line it means: `cargo xpar run ...`,
//! `list ...` or `stress ...`, parsed and validated by the CLI's own parser, so that a
//! tool call gets the config file, defaults and checks a command line gets, and a bad
//! argument is the same clear usage error. Then what only a server needs: cargo's stderr
//! kept (for a failed build's diagnostics) rather than shown, and no colours.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use clap::Parser;

use super::schema::{Backoff, RerunFailedParams, RunTestsParams, Selection};
use crate::cargo::{self, BuildOutput};
use crate::cli::{CargoCli, Invocation, ListConfig, McpConfig, RunConfig, StressConfig};
use crate::execute::CancelHandle;

/// The most of cargo's stderr a server keeps for a failed build's error.
const KEPT_BUILD_OUTPUT: usize = 256 * 1024;

/// Cargo's stderr during one build, kept for a failed build's error.
#[derive(Clone, Default)]
pub struct BuildLog(Arc<Mutex<Vec<u8>>>);

impl BuildLog {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for BuildLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.extend_from_slice(buf);
        // Diagnostics that matter are the last ones cargo printed.
        if kept.len() > 2 * KEPT_BUILD_OUTPUT {
            let cut = kept.len() - KEPT_BUILD_OUTPUT;
            kept.drain(..cut);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What every tool call's command line starts with: the workspace and profile the
/// server was started for.
fn base(cfg: &McpConfig, subcommand: &str) -> Vec<String> {
    let mut argv = vec!["cargo".to_owned(), "xpar".to_owned(), subcommand.to_owned()];
    if let Some(path) = &cfg.manifest_path {
        argv.push(format!("--manifest-path={}", path.display()));
    }
    if let Some(profile) = &cfg.config_profile {
        argv.push(format!("--config-profile={profile}"));
    }
    argv.push("--color=never".to_owned());
    argv
}

/// A number of seconds as a duration flag's value: positive and finite, in whole
/// milliseconds (the CLI refuses zero with its own message).
fn seconds(name: &str, secs: f64) -> Result<String, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "invalid value {secs} for {name}: a number of seconds, at least 0.001"
        ));
    }
    Ok(format!("{}ms", (secs * 1000.0).round() as u64))
}

/// The selection's flags; the filters go last, as positional arguments.
fn push_selection(argv: &mut Vec<String>, s: &Selection) -> Result<(), String> {
    for p in &s.packages {
        argv.push(format!("--package={p}"));
    }
    if let Some(m) = &s.markers {
        argv.push(format!("-m={m}"));
    }
    if s.exact {
        argv.push("--exact".to_owned());
    }
    if s.include_ignored {
        argv.push("--include-ignored".to_owned());
    }
    for f in &s.filters {
        // A filter is a test name's part; one starting with `-` would be read as a flag.
        if f.starts_with('-') {
            return Err(format!(
                "invalid filter `{f}`: a filter is part of a test name and cannot start with `-`"
            ));
        }
    }
    Ok(())
}

fn push_filters(argv: &mut Vec<String>, s: &Selection) {
    argv.extend(s.filters.iter().cloned());
}

/// Parses `argv` as the command line would, into its invocation; a usage error in the
/// CLI's words.
fn parse(argv: &[String]) -> Result<Invocation, String> {
    let cli = CargoCli::try_parse_from(argv).map_err(|e| crate::cli::clap_error_line(&e))?;
    let CargoCli::Xpar(app) = cli;
    app.into_invocation().map_err(|e| e.to_string())
}

/// Cargo's options as a server needs them: its stderr into `log`, no colours, no
/// progress bar.
fn quiet_cargo(cargo: &mut cargo::CargoOptions, log: &BuildLog) {
    cargo.build_output = BuildOutput::to(log.clone());
    cargo.color = cargo::ColorChoice::Never;
    cargo.progress_width = None;
}

/// `cancel` stops the build too, not only the run after it.
pub fn stop_build_with(cargo: &mut cargo::CargoOptions, cancel: &CancelHandle) {
    cargo.cancel = Some(cancel.clone());
}

/// The timeouts a call applies: its own, else the MCP session's (set_test_timeout).
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTimeouts {
    pub timeout_secs: Option<f64>,
    pub slow_timeout_secs: Option<f64>,
}

/// `list_tests`'s listing.
pub fn list_config(cfg: &McpConfig, s: &Selection, log: &BuildLog) -> Result<ListConfig, String> {
    let mut argv = base(cfg, "list");
    push_selection(&mut argv, s)?;
    push_filters(&mut argv, s);
    match parse(&argv)? {
        Invocation::List(mut list) => {
            quiet_cargo(&mut list.cargo, log);
            Ok(list)
        }
        other => Err(format!("internal error: `list` parsed as {other:?}")),
    }
}

/// `run_tests`'s run; with `only`, of those tests alone (`rerun_failed`).
pub fn run_config(
    cfg: &McpConfig,
    p: &RunTestsParams,
    rerun: Option<&RerunFailedParams>,
    timeouts: SessionTimeouts,
    log: &BuildLog,
) -> Result<RunConfig, String> {
    let mut argv = base(cfg, "run");
    push_selection(&mut argv, &p.selection())?;
    if let Some(j) = p.jobs {
        argv.push(format!("--jobs={j}"));
    }
    // Without one, the config file's (or the default) applies, as on the command line.
    if let Some(dist) = p.dist {
        argv.push(format!("--dist={}", dist.as_flag()));
    }
    if let Some(t) = p.timeout_secs.or(timeouts.timeout_secs) {
        argv.push(format!("--timeout={}", seconds("timeout_secs", t)?));
    }
    if let Some(t) = timeouts.slow_timeout_secs {
        argv.push(format!(
            "--slow-timeout={}",
            seconds("slow_timeout_secs", t)?
        ));
    }
    let retries = rerun.and_then(|r| r.retries).or(p.retries);
    if let Some(r) = retries {
        argv.push(format!("--retries={r}"));
    }
    if let Some(r) = rerun {
        let backoff = match r.backoff.unwrap_or(Backoff::Fixed) {
            Backoff::Fixed => "fixed",
            Backoff::Exponential => "exponential",
        };
        argv.push(format!("--retry-backoff={backoff}"));
        if let Some(d) = r.retry_delay_secs {
            argv.push(format!("--retry-delay={}", seconds("retry_delay_secs", d)?));
        }
    }
    match p.fail_fast {
        Some(true) => argv.push("--fail-fast".to_owned()),
        Some(false) => argv.push("--no-fail-fast".to_owned()),
        None => {}
    }
    // Passing tests' output is kept too: get_test_output returns any test's.
    argv.push("--success-output=final".to_owned());
    push_filters(&mut argv, &p.selection());
    match parse(&argv)? {
        Invocation::Run(mut run) => {
            quiet_cargo(&mut run.run.cargo, log);
            Ok(run)
        }
        other => Err(format!("internal error: `run` parsed as {other:?}")),
    }
}

/// The tests a rerun is limited to, by binary id.
pub fn only(tests: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (binary, name) in tests {
        out.entry(binary.clone()).or_default().insert(name.clone());
    }
    out
}

/// `detect_flaky`'s stress run.
pub fn stress_config(
    cfg: &McpConfig,
    s: &Selection,
    runs: u32,
    concurrency: Option<u32>,
    timeout_secs: Option<f64>,
    log: &BuildLog,
) -> Result<StressConfig, String> {
    let mut argv = base(cfg, "stress");
    push_selection(&mut argv, s)?;
    argv.push(format!("--count={runs}"));
    if let Some(c) = concurrency {
        argv.push(format!("--concurrency={c}"));
    }
    if let Some(t) = timeout_secs {
        argv.push(format!("--timeout={}", seconds("timeout_secs", t)?));
    }
    push_filters(&mut argv, s);
    match parse(&argv)? {
        Invocation::Stress(mut stress) => {
            quiet_cargo(&mut stress.stress.cargo, log);
            Ok(stress)
        }
        other => Err(format!("internal error: `stress` parsed as {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::schema::Dist;

    fn cfg() -> McpConfig {
        McpConfig {
            manifest_path: None,
            config_profile: None,
        }
    }

    #[test]
    fn a_tool_call_is_the_command_line_it_means() {
        let p = RunTestsParams {
            filters: vec!["alpha".into()],
            packages: vec!["beta".into()],
            jobs: Some(3),
            dist: Some(Dist::Worksteal),
            retries: Some(2),
            fail_fast: Some(false),
            ..RunTestsParams::default()
        };
        let timeouts = SessionTimeouts {
            timeout_secs: Some(1.5),
            slow_timeout_secs: None,
        };
        let run = run_config(&cfg(), &p, None, timeouts, &BuildLog::default()).unwrap();
        assert_eq!(run.run.filter.patterns, ["alpha"]);
        assert_eq!(run.run.cargo.packages, ["beta"]);
        assert_eq!(run.run.jobs, 3);
        assert_eq!(run.run.dist.as_str(), "worksteal");
        assert_eq!(run.run.retry.retries, 2);
        assert_eq!(run.run.max_fail, None);
        assert!(run.run.keep_passing_output);
        assert_eq!(
            run.run.timeouts.test,
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(run.run.cargo.color, cargo::ColorChoice::Never);
    }

    /// What a call leaves out, the config file's profile gives, as on the command line.
    #[test]
    fn the_config_file_fills_in_what_a_call_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"w\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
        std::fs::create_dir_all(dir.path().join(".config")).unwrap();
        std::fs::write(
            dir.path().join(".config/xpar.toml"),
            "[profile.default]\njobs = 3\ndist = \"loadscope\"\nfail-fast = false\n",
        )
        .unwrap();
        let cfg = McpConfig {
            manifest_path: Some(manifest),
            config_profile: None,
        };
        let (timeouts, log) = (SessionTimeouts::default(), BuildLog::default());
        let run = run_config(&cfg, &RunTestsParams::default(), None, timeouts, &log).unwrap();
        assert_eq!((run.run.jobs, run.run.dist.as_str()), (3, "loadscope"));
        assert_eq!(run.run.max_fail, None);
        let p = RunTestsParams {
            jobs: Some(1),
            dist: Some(Dist::No),
            fail_fast: Some(true),
            ..RunTestsParams::default()
        };
        let run = run_config(&cfg, &p, None, timeouts, &log).unwrap();
        assert_eq!((run.run.jobs, run.run.dist.as_str()), (1, "no"));
        assert!(run.run.max_fail.is_some());
    }

    #[test]
    fn the_subcommand_takes_the_workspace_and_a_profile() {
        use crate::cli::parse_for_test as parse;
        let args = [
            "mcp",
            "--manifest-path",
            "w/Cargo.toml",
            "--config-profile",
            "default",
        ];
        match parse(&args) {
            Ok(Invocation::Mcp(cfg)) => {
                assert_eq!(cfg.manifest_path, Some("w/Cargo.toml".into()));
                assert_eq!(cfg.config_profile.as_deref(), Some("default"));
            }
            other => panic!("{other:?}"),
        }
        // A profile the config file does not define is said at start.
        let err = parse(&["mcp", "--config-profile", "nosuch"]).unwrap_err();
        assert!(err.contains("unknown config profile `nosuch`"), "{err}");
        let err = parse(&["mcp", "--jobs", "2"]).unwrap_err();
        assert_eq!(err, "UnknownArgument");
    }

    #[test]
    fn bad_arguments_are_the_command_lines_usage_errors() {
        let table: &[(RunTestsParams, &str)] = &[
            (
                RunTestsParams {
                    jobs: Some(0),
                    ..RunTestsParams::default()
                },
                "invalid value `0` for -j/--jobs",
            ),
            (
                RunTestsParams {
                    timeout_secs: Some(0.0),
                    ..RunTestsParams::default()
                },
                "must be longer than zero",
            ),
            (
                RunTestsParams {
                    timeout_secs: Some(-1.0),
                    ..RunTestsParams::default()
                },
                "invalid value -1 for timeout_secs",
            ),
            (
                RunTestsParams {
                    filters: vec!["--nocapture".into()],
                    ..RunTestsParams::default()
                },
                "cannot start with `-`",
            ),
            (
                RunTestsParams {
                    markers: Some("serial and".into()),
                    ..RunTestsParams::default()
                },
                "-m expression ends early",
            ),
        ];
        let log = BuildLog::default();
        for (p, want) in table {
            let err = run_config(&cfg(), p, None, SessionTimeouts::default(), &log)
                .expect_err(&format!("{p:?} should be refused"));
            assert!(err.contains(want), "{p:?}: {err}");
        }
    }
}
