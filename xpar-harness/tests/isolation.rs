//! `once_per_run` and the worker directories across processes: once for the whole run
//! under a run directory, once per process without one, retried after a panic; the
//! worker directory taken from the runner or made (and removed) per process.

#[path = "support/child.rs"]
mod child;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use xpar_harness::{once_per_run, test_temp_dir, worker_temp_dir};

/// The file the children's set-up appends one line to each time it runs.
const COUNTER_ENV: &str = "XPAR_HARNESS_TEST_COUNTER";

fn setups(counter: &Path) -> usize {
    std::fs::read_to_string(counter).map_or(0, |t| t.lines().count())
}

fn count_setup() {
    let path = PathBuf::from(std::env::var_os(COUNTER_ENV).unwrap());
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{}\n", std::process::id()).as_bytes())
        .unwrap();
    // Give the other callers time to arrive while the set-up is still running.
    std::thread::sleep(std::time::Duration::from_millis(50));
}

#[test]
#[ignore = "a child of the once_per_run tests"]
fn child_once() {
    let counter = PathBuf::from(std::env::var_os(COUNTER_ENV).unwrap());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                once_per_run("setup", count_setup);
                assert!(setups(&counter) >= 1, "returned before the set-up ran");
            });
        }
    });
}

#[test]
#[ignore = "a child of the once_per_run tests"]
fn child_once_panics() {
    once_per_run("setup", || panic!("set-up failed"));
}

fn run_children(test: &str, n: usize, env: &[(&str, Option<&OsStr>)]) {
    let children: Vec<_> = (0..n).map(|_| child::spawn(test, env)).collect();
    for c in children {
        child::success(c);
    }
}

#[test]
fn once_for_the_whole_run_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("counter");
    let env = [
        (xpar_protocol::env::RUN_DIR, Some(dir.path().as_os_str())),
        (COUNTER_ENV, Some(counter.as_os_str())),
    ];
    run_children("child_once", 4, &env);
    assert_eq!(setups(&counter), 1);
}

#[test]
fn once_per_process_without_a_run_dir() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("counter");
    let env = [
        (xpar_protocol::env::RUN_DIR, None),
        (COUNTER_ENV, Some(counter.as_os_str())),
    ];
    run_children("child_once", 2, &env);
    assert_eq!(setups(&counter), 2);
}

#[test]
fn a_panicking_setup_is_retried_by_the_next_process() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("counter");
    let env = [
        (xpar_protocol::env::RUN_DIR, Some(dir.path().as_os_str())),
        (COUNTER_ENV, Some(counter.as_os_str())),
    ];
    let out = child::spawn("child_once_panics", &env)
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success(), "the panicking set-up passed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("set-up failed"));
    run_children("child_once", 1, &env);
    run_children("child_once", 1, &env);
    assert_eq!(setups(&counter), 1);
}

#[test]
fn a_panicking_setup_is_retried_in_process() {
    // Unique per process: under `cargo xpar` the run directory outlives this process.
    let key = format!("retry-{}", std::process::id());
    let runs = AtomicUsize::new(0);
    let first = std::panic::catch_unwind(|| once_per_run(&key, || panic!("set-up failed")));
    assert!(first.is_err(), "the panic was swallowed");
    once_per_run(&key, || {
        runs.fetch_add(1, Ordering::SeqCst);
    });
    once_per_run(&key, || {
        runs.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
#[ignore = "a child of the worker directory tests"]
fn child_worker_dir() {
    let worker = worker_temp_dir();
    assert!(worker.is_dir());
    if let Some(dir) = std::env::var_os(xpar_protocol::env::TMPDIR) {
        assert_eq!(worker, PathBuf::from(dir));
    }
    let test = test_temp_dir();
    assert!(test.path().starts_with(&worker));
    // Left for the process exit to clean up, with the worker directory around it.
    std::fs::write(worker.join("left-behind"), "").unwrap();
    println!("WORKER_DIR={}", worker.display());
}

fn worker_dir_of(out: &std::process::Output) -> PathBuf {
    let stdout = String::from_utf8_lossy(&out.stdout);
    // libtest prints the test's name on the same line, before the test's own output.
    let (_, rest) = stdout
        .split_once("WORKER_DIR=")
        .unwrap_or_else(|| panic!("no WORKER_DIR in {stdout}"));
    PathBuf::from(rest.lines().next().unwrap_or_default())
}

#[test]
fn the_runners_worker_dir_is_used_and_created() {
    let dir = tempfile::tempdir().unwrap();
    let wanted = dir.path().join("gw3").join("tmp");
    let env = [(xpar_protocol::env::TMPDIR, Some(wanted.as_os_str()))];
    let out = child::success(child::spawn("child_worker_dir", &env));
    assert_eq!(worker_dir_of(&out), wanted);
    // The runner's directory is the runner's to remove.
    assert!(wanted.join("left-behind").exists());
}

#[test]
fn a_process_worker_dir_is_removed_at_exit() {
    let env = [(xpar_protocol::env::TMPDIR, None)];
    let out = child::success(child::spawn("child_worker_dir", &env));
    let dir = worker_dir_of(&out);
    assert!(dir.starts_with(std::env::temp_dir()), "{dir:?}");
    assert!(!dir.exists(), "{dir:?} outlived its process");
}
