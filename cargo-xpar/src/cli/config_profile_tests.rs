//! A run's options from the flags and the config file's profile together: the profile
//! fills in what no flag gave, and a flag given wins, even one equal to its default.

use std::time::Duration;

use clap::Parser;

use super::*;
use crate::plan::DistMode;

/// A run from `args` with `profile` as the config file's.
fn run_with(args: &[&str], profile: &Profile) -> RunConfig {
    let CargoCli::Xpar(app) =
        CargoCli::try_parse_from(["cargo", "xpar"].iter().chain(args)).unwrap();
    assert!(app.command.is_none(), "{args:?}");
    RunConfig::from_args_and_profile(app.run, profile.clone()).unwrap()
}

fn a_profile(dir: &std::path::Path) -> Profile {
    Profile {
        jobs: Some(3),
        dist: Some(crate::cli::DistMode::Loadscope),
        retries: Some(2),
        timeout: Some(Duration::from_secs(5)),
        slow_timeout: Some(Duration::from_secs(1)),
        run_timeout: Some(Duration::from_secs(60)),
        fail_fast: Some(false),
        junit: Some(dir.join("file.xml")),
        json: Some(dir.join("file.json")),
        html: Some(dir.join("file.html")),
        coverage: Some(true),
        history_runs: Some(7),
        overrides: vec![crate::plan::TestOverride {
            filter: "db".into(),
            retries: Some(4),
            ..Default::default()
        }],
        suites: Vec::new(),
        root: dir.to_owned(),
    }
}

#[test]
fn a_profile_sets_what_no_flag_does() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = run_with(&[], &a_profile(dir.path()));
    let r = &cfg.run;
    assert_eq!(
        (r.jobs, r.dist, r.retry.retries),
        (3, DistMode::Loadscope, 2)
    );
    assert_eq!(r.timeouts.test, Some(Duration::from_secs(5)));
    assert_eq!(r.timeouts.slow, Some(Duration::from_secs(1)));
    assert_eq!(r.run_timeout, Some(Duration::from_secs(60)));
    assert!(!cfg.fail_fast && r.max_fail.is_none());
    assert_eq!(
        r.junit.as_deref(),
        Some(dir.path().join("file.xml").as_path())
    );
    assert_eq!(
        r.json.as_deref(),
        Some(dir.path().join("file.json").as_path())
    );
    assert_eq!(
        r.html.as_deref(),
        Some(dir.path().join("file.html").as_path())
    );
    assert!(r.coverage.is_some());
    assert_eq!(r.overrides.len(), 1);
    assert_eq!(r.history_runs, 7);
    // Without a profile, the flags' defaults.
    let cfg = run_with(&[], &Profile::default());
    assert_eq!((cfg.run.dist, cfg.run.retry.retries), (DistMode::Load, 0));
    assert!(cfg.fail_fast && cfg.run.coverage.is_none() && cfg.run.junit.is_none());
}

/// A flag given wins over the file, even when it says what the flag's default says.
#[test]
fn flags_win_over_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("flag.xml");
    let html = dir.path().join("flag.html");
    let cfg = run_with(
        &[
            "-j",
            "auto",
            "--dist",
            "load",
            "--retries",
            "0",
            "--timeout",
            "9s",
            "--slow-timeout",
            "2s",
            "--run-timeout",
            "2m",
            "--fail-fast",
            "--junit",
            junit.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &a_profile(dir.path()),
    );
    let r = &cfg.run;
    assert_eq!(r.jobs, parse_jobs("auto").unwrap());
    assert_eq!((r.dist, r.retry.retries), (DistMode::Load, 0));
    assert_eq!(r.timeouts.test, Some(Duration::from_secs(9)));
    assert_eq!(r.timeouts.slow, Some(Duration::from_secs(2)));
    assert_eq!(r.run_timeout, Some(Duration::from_secs(120)));
    assert!(cfg.fail_fast && r.max_fail.is_some());
    assert_eq!(r.junit.as_deref(), Some(junit.as_path()));
    assert_eq!(r.html.as_deref(), Some(html.as_path()));
    let mut strict = a_profile(dir.path());
    strict.fail_fast = Some(true);
    assert!(!run_with(&["--no-fail-fast"], &strict).fail_fast);
}
