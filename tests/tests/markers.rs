//! The xpar-harness markers, kept by the real runner on `fixtures/markers`: marked tests
//! log when they start and end, and the log must show no `#[serial]` test beside any
//! other marked test and no two tests of one key at once, while `#[parallel_safe]` tests
//! did run side by side. The same fixture under plain `cargo test` (threads) and
//! `cargo nextest run` (a process per test) shows the harness's fallback locks holding
//! (the nextest part skipped, with a note, where cargo-nextest is not installed, except
//! on CI).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use xpar_tests::{
    nextest_or_skip, path_with_ci_tools, run, run_json, workspace_root, xpar, FixtureCopy, Run,
};

#[path = "../../fixtures/markers/log_check.rs"]
mod log_check;
use log_check::Rule;

/// One target dir for every build of the fixture, so xpar-harness and its dependencies
/// are compiled once (inside this workspace's own target dir, which is ignored).
fn fixture_target() -> PathBuf {
    workspace_root()
        .join("target")
        .join("fixture-target")
        .join("markers")
}

/// Held by a test while it builds and runs in [`fixture_target`]. Copies of the fixture
/// at different paths build test binaries of the same file name there, so a second build
/// would replace the binaries a running test is about to start; the lock (a file lock, as
/// the tests may run in several processes) lets one test at a time use it.
fn lock_fixture_target() -> std::fs::File {
    let dir = fixture_target();
    std::fs::create_dir_all(&dir).expect("create the fixture target dir");
    let file = std::fs::File::create(dir.join("xpar-tests.lock")).expect("create the lock file");
    file.lock().expect("lock the fixture target dir");
    file
}

struct Logs {
    log: PathBuf,
    once: PathBuf,
}

impl Logs {
    fn new(dir: &Path, name: &str) -> Logs {
        Logs {
            log: dir.join(format!("{name}.log")),
            once: dir.join(format!("{name}.once")),
        }
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.env("XPAR_FIXTURE_LOG", &self.log)
            .env("XPAR_FIXTURE_ONCE", &self.once);
    }

    fn check(&self, what: &str, rule: Rule) -> log_check::Summary {
        let text = std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| panic!("{what}: no log at {}: {e}", self.log.display()));
        log_check::check(&text, rule).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"))
    }

    fn setups(&self) -> usize {
        std::fs::read_to_string(&self.once).map_or(0, |t| t.lines().count())
    }
}

/// `cargo xpar ARGS` on the fixture with the logs set, sharing the fixture target dir.
fn xpar_run(fixture: &FixtureCopy, logs: &Logs, args: &[&str]) -> Run {
    let mut cmd = xpar(fixture.path());
    // A subcommand comes first.
    let (sub, args) = match args.split_first() {
        Some((&s, rest)) if matches!(s, "stress" | "list") => (Some(s), rest),
        _ => (None, args),
    };
    cmd.args(sub)
        .arg("--target-dir")
        .arg(fixture_target())
        .args(args);
    logs.apply(&mut cmd);
    Run::of(&mut cmd)
}

#[test]
fn cargo_xpar_keeps_markers_in_every_mode() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let cases: &[&[&str]] = &[
        &["-j", "2"],
        &["-j", "3", "--dist", "worksteal"],
        &["-j", "2", "--dist", "loadscope"],
        &["-j", "2", "--dist", "loadgroup"],
        &["-j", "2", "--dist", "each"],
    ];
    for (i, args) in cases.iter().enumerate() {
        let logs = Logs::new(fixture.path(), &format!("xpar{i}"));
        let run = xpar_run(&fixture, &logs, args);
        assert_eq!(run.code(), Some(0), "{args:?}\n{run}");
        let summary = logs.check(&format!("cargo xpar {args:?}"), Rule::Xpar);
        assert!(
            summary.parallel_overlapped,
            "{args:?}: parallel tests never overlapped: {summary:?}"
        );
        // `once_per_run` runs once for the whole run, across workers and binaries.
        assert_eq!(logs.setups(), 1, "{args:?}\n{run}");
        if args[1] == "2" {
            assert_resource_test_ran_alone(&logs.log, args);
        }
    }
}

/// `--require-parallel-safe` runs every test not marked `#[parallel_safe]` alone, and
/// `cargo xpar stress` keeps the markers between the repeated runs too.
#[test]
fn require_parallel_safe_and_stress_keep_markers() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let logs = Logs::new(fixture.path(), "require");
    let args = ["-j", "3", "--require-parallel-safe"];
    let run = xpar_run(&fixture, &logs, &args);
    assert_eq!(run.code(), Some(0), "{run}");
    let summary = logs.check("--require-parallel-safe", Rule::RequireParallelSafe);
    assert!(summary.parallel_overlapped, "{summary:?}");

    let logs = Logs::new(fixture.path(), "stress");
    let args = ["stress", "--count", "2", "--concurrency", "3"];
    let run = xpar_run(&fixture, &logs, &args);
    assert_eq!(run.code(), Some(0), "{run}");
    let summary = logs.check("stress", Rule::Xpar);
    assert!(summary.parallel_overlapped, "{summary:?}");
    // Every logged test ran twice, each run in a process of its own.
    assert_eq!(summary.runs, summary.processes, "{summary:?}");
    let once: usize = std::fs::read_to_string(&logs.log)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("START serial_all::first "))
        .count();
    assert_eq!(once, 2, "{run}");
}

/// `--dist loadgroup` runs a group on one worker, also when one of its tests holds
/// worker slots.
#[test]
fn loadgroup_keeps_a_group_on_one_worker() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let target = fixture_target();
    for jobs in ["2", "3"] {
        let args = [
            "--target-dir",
            target.to_str().unwrap(),
            "--dist",
            "loadgroup",
            "-j",
            jobs,
        ];
        let report = run_json(fixture.path(), &args);
        assert_eq!(report.run.code(), Some(0), "{}", report.run);
        let workers: BTreeSet<_> = report
            .tests
            .iter()
            .filter(|t| t.name.starts_with("grouped::g1_"))
            .map(|t| t.worker.clone())
            .collect();
        assert_eq!(workers.len(), 1, "-j {jobs}: {workers:?}\n{}", report.run);
    }
}

/// With two workers, a `#[resource_intensive(slots = 2)]` test holds both.
fn assert_resource_test_ran_alone(log: &Path, args: &[&str]) {
    let text = std::fs::read_to_string(log).unwrap();
    let spans = spans(&text);
    let heavy: Vec<_> = spans
        .iter()
        .filter(|s| s.1 == "resource_intensive")
        .collect();
    assert!(!heavy.is_empty(), "{args:?}: the heavy test did not log");
    for h in heavy {
        for s in spans.iter().filter(|s| s.0 != h.0 || s.4 != h.4) {
            assert!(
                s.3 <= h.2 || h.3 <= s.2,
                "{args:?}: {} overlapped the resource-intensive {}",
                s.0,
                h.0
            );
        }
    }
}

/// (name, kind, start, end, pid) of each START/END pair.
fn spans(log: &str) -> Vec<(String, String, u128, u128, String)> {
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let key = (f[1].to_owned(), f[3].to_owned());
        let t: u128 = f[4].parse().unwrap();
        match f[0] {
            "START" => {
                open.insert(key, (f[2].to_owned(), t));
            }
            _ => {
                let (kind, start) = open.remove(&key).expect("END after START");
                out.push((key.0, kind, start, t, key.1));
            }
        }
    }
    out
}

#[test]
fn every_worker_shares_the_run_id_and_has_its_own_dir() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let target = fixture_target();
    let args = [
        "--target-dir",
        target.to_str().unwrap(),
        "--dist",
        "each",
        "-j",
        "2",
        "--keep-tmp",
        "isolation::",
    ];
    let report = run_json(fixture.path(), &args);
    assert_eq!(report.run.code(), Some(0), "{}", report.run);
    let identity: Vec<&str> = report
        .tests
        .iter()
        .filter(|t| t.name == "isolation::identity")
        .map(|t| t.output.trim())
        .collect();
    assert_eq!(identity.len(), 2, "{}", report.run);
    let uids: BTreeSet<&str> = identity
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(uids.len(), 1, "one run id for all workers: {identity:?}");
    assert!(
        uids.iter().all(|u| u.len() == "uid=".len() + 16),
        "{uids:?}"
    );
    for w in ["gw0", "gw1"] {
        assert!(
            identity.contains(&format!("{} worker={w} count=2", uids.first().unwrap()).as_str()),
            "{identity:?}"
        );
    }
    // --keep-tmp leaves the worker directories, and says where.
    let note = report
        .run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("note: kept the run's temporary directories at "))
        .unwrap_or_else(|| panic!("no note of the kept dir\n{}", report.run));
    let kept = Path::new(note);
    assert!(kept.join("gw0").is_dir() && kept.join("gw1").is_dir());
    std::fs::remove_dir_all(kept).unwrap();
}

#[test]
fn marker_expressions_select_tests() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let target = fixture_target();
    let list = |expr: &str| -> Vec<String> {
        let r = run(
            fixture.path(),
            &["list", "--target-dir", target.to_str().unwrap(), "-m", expr],
        );
        assert_eq!(r.code(), Some(0), "{r}");
        r.stdout
            .lines()
            .filter(|l| l.starts_with("    "))
            .map(|l| l.trim().to_owned())
            .collect()
    };
    let serial = list("serial and not parallel_safe");
    assert_eq!(
        serial
            .iter()
            .filter(|n| n.contains("serial_all::") || *n == "serial_fourth")
            .count(),
        4,
        "{serial:?}"
    );
    assert!(serial.iter().any(|n| n == "keyed::db_and_fs"), "{serial:?}");
    assert!(
        !serial.iter().any(|n| n.starts_with("parallel::")),
        "{serial:?}"
    );
    let rest = list("not (serial or parallel_safe or resource_intensive or group)");
    assert!(rest.iter().any(|n| n == "plain::unmarked_one"), "{rest:?}");
    assert!(!rest.iter().any(|n| n.starts_with("keyed::")), "{rest:?}");
    let bad = run(fixture.path(), &["list", "-m", "slow"]);
    assert_eq!(bad.code(), Some(2), "{bad}");
    assert!(bad.stderr.contains("unknown marker `slow`"), "{bad}");
}

/// A command for `cargo SUBCOMMAND` on the fixture, outside cargo xpar.
fn cargo(fixture: &FixtureCopy, logs: &Logs, args: &[&str]) -> Run {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(fixture.path()).args(args);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("XPAR_") || name == "RUSTFLAGS" || name == "RUST_TEST_THREADS" {
            cmd.env_remove(&key);
        }
    }
    cmd.env("CARGO_TARGET_DIR", fixture_target())
        .env("PATH", path_with_ci_tools());
    // Its own lock dir, so concurrent test runs on this machine do not wait on each other.
    cmd.env("XPAR_HARNESS_LOCK_DIR", fixture.path().join("locks"));
    logs.apply(&mut cmd);
    Run::of(&mut cmd)
}

#[test]
fn fallback_locks_hold_under_cargo_test_and_nextest() {
    let _target = lock_fixture_target();
    let fixture = FixtureCopy::new("markers");
    let logs = Logs::new(fixture.path(), "cargo-test");
    let r = cargo(&fixture, &logs, &["test", "--", "--test-threads=8"]);
    assert_eq!(r.code(), Some(0), "{r}");
    let s = logs.check("cargo test", Rule::Fallback);
    assert!(s.parallel_overlapped, "{s:?}");

    if !nextest_or_skip("fallback_locks_hold_under_cargo_test_and_nextest") {
        return;
    }
    let logs = Logs::new(fixture.path(), "nextest");
    let r = cargo(&fixture, &logs, &["nextest", "run", "-j", "8"]);
    assert_eq!(r.code(), Some(0), "{r}");
    let s = logs.check("cargo nextest", Rule::Fallback);
    assert!(s.parallel_overlapped && s.processes > 1, "{s:?}");
}
