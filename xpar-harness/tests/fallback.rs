//! The fallback exclusion outside `cargo xpar`: marked tests on threads of one process
//! (`cargo test`) and in separate processes (`cargo nextest run`) keep apart as their
//! markers ask, checked with the fixture's log checker; under `XPAR_SCHEDULED=1` the
//! cross-process locks are left to the runner.

#[path = "support/child.rs"]
mod child;
#[path = "../../fixtures/markers/log_check.rs"]
mod log_check;

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use xpar_harness::{group, parallel_safe, resource_intensive, serial};

/// Where the children write their START/END lines.
const LOG_ENV: &str = "XPAR_HARNESS_TEST_LOG";
/// How long a logged run stays inside: long enough for runs not held apart to overlap.
const HOLD: Duration = Duration::from_millis(120);

fn event(log: &Path, what: &str, name: &str, kind: &str) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let line = format!("{what} {name} {kind} {} {nanos}\n", std::process::id());
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    file.write_all(line.as_bytes()).unwrap();
}

fn span(log: &Path, name: &str, kind: &str) {
    event(log, "START", name, kind);
    std::thread::sleep(HOLD);
    event(log, "END", name, kind);
}

fn env_log() -> std::path::PathBuf {
    std::env::var_os(LOG_ENV)
        .expect("run by the parent test")
        .into()
}

// The children: each is run in its own process by `separate_processes_keep_apart`.

#[serial]
#[test]
#[ignore = "a child of separate_processes_keep_apart"]
fn child_serial() {
    span(&env_log(), "child_serial", "serial");
}

#[serial(a)]
#[test]
#[ignore = "a child of separate_processes_keep_apart"]
fn child_key_a() {
    span(&env_log(), "child_key_a", "key:a");
}

#[serial(b, a)]
#[test]
#[ignore = "a child of separate_processes_keep_apart"]
fn child_key_ab() {
    span(&env_log(), "child_key_ab", "key:a,b");
}

#[serial(b)]
#[test]
#[ignore = "a child of separate_processes_keep_apart"]
fn child_key_b() {
    span(&env_log(), "child_key_b", "key:b");
}

#[parallel_safe]
#[test]
#[ignore = "a child of separate_processes_keep_apart"]
fn child_parallel() {
    span(&env_log(), "child_parallel", "parallel_safe");
}

#[test]
fn separate_processes_keep_apart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let locks = dir.path().join("locks");
    let env = [
        (LOG_ENV, Some(log.as_os_str())),
        (xpar_harness::LOCK_DIR_ENV, Some(locks.as_os_str())),
        (xpar_protocol::env::SCHEDULED, None),
        (xpar_protocol::env::RUN_DIR, None),
    ];
    let tests = [
        "child_serial",
        "child_serial",
        "child_key_a",
        "child_key_a",
        "child_key_ab",
        "child_key_b",
        "child_parallel",
        "child_parallel",
        "child_parallel",
    ];
    let children: Vec<_> = tests.iter().map(|t| child::spawn(t, &env)).collect();
    for c in children {
        child::success(c);
    }
    let summary = log_check::check(
        &std::fs::read_to_string(&log).unwrap(),
        log_check::Rule::Fallback,
    )
    .unwrap();
    assert_eq!(
        (summary.runs, summary.processes),
        (tests.len(), tests.len())
    );
}

#[test]
fn an_unscheduled_xpar_run_locks_in_its_shared_directory() {
    // Workers of one run have separate TMPDIRs; only the run directory is shared.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let env = [
        (LOG_ENV, Some(log.as_os_str())),
        (xpar_harness::LOCK_DIR_ENV, None),
        (xpar_protocol::env::SCHEDULED, None),
        (xpar_protocol::env::RUN_DIR, Some(dir.path().as_os_str())),
    ];
    child::success(child::spawn("child_key_ab", &env));
    let locks = dir.path().join("xpar-locks");
    for file in ["all.lock", "key-a.lock", "key-b.lock"] {
        assert!(locks.join(file).exists(), "{file} not in {locks:?}");
    }
}

/// Meets the other child: announces itself in the rendezvous directory, then waits for
/// the other's announcement. Two such tests can only both pass if they run at once.
#[serial]
#[test]
#[ignore = "a child of scheduled_runs_skip_the_file_locks"]
fn child_rendezvous() {
    let dir = std::path::PathBuf::from(std::env::var_os("XPAR_HARNESS_TEST_MEET").unwrap());
    let me = std::process::id().to_string();
    std::fs::write(dir.join(&me), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let others = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != me.as_str())
            .count();
        if others > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the other #[serial] process never came in"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn scheduled_runs_skip_the_file_locks() {
    let dir = tempfile::tempdir().unwrap();
    let meet = dir.path().join("meet");
    std::fs::create_dir(&meet).unwrap();
    let locks = dir.path().join("locks");
    let env = [
        ("XPAR_HARNESS_TEST_MEET", Some(meet.as_os_str())),
        (xpar_harness::LOCK_DIR_ENV, Some(locks.as_os_str())),
        (xpar_protocol::env::SCHEDULED, Some(OsStr::new("1"))),
    ];
    let a = child::spawn("child_rendezvous", &env);
    let b = child::spawn("child_rendezvous", &env);
    child::success(a);
    child::success(b);
    // The runner keeps them apart; the harness did not even create its lock files.
    assert!(!locks.join("all.lock").exists());
}

// Marked functions called from threads: the in-process lock through the macros' guard.

#[serial]
fn thread_serial(log: &Path, i: usize) {
    span(log, &format!("thread_serial_{i}"), "serial");
}

#[serial(k)]
fn thread_key(log: &Path, i: usize) {
    span(log, &format!("thread_key_{i}"), "key:k");
}

#[resource_intensive(slots = 2)]
#[group("g")]
fn thread_other(log: &Path, i: usize) {
    span(log, &format!("thread_other_{i}"), "group:g");
}

#[test]
fn threads_keep_apart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::thread::scope(|s| {
        for i in 0..3 {
            let log = &log;
            s.spawn(move || thread_serial(log, i));
            s.spawn(move || thread_key(log, i));
            s.spawn(move || thread_other(log, i));
        }
    });
    let summary = log_check::check(
        &std::fs::read_to_string(&log).unwrap(),
        log_check::Rule::Fallback,
    )
    .unwrap();
    assert_eq!((summary.runs, summary.processes), (9, 1));
}

#[test]
fn a_panicking_marked_test_does_not_block_the_next() {
    #[serial(poison)]
    fn fails() {
        panic!("a failing #[serial] test");
    }
    #[serial(poison)]
    fn passes() -> u32 {
        7
    }
    assert!(std::panic::catch_unwind(fails).is_err());
    assert_eq!(passes(), 7);
}
