//! `once_per_run`: set-up that runs once for the whole run, however many workers and
//! processes ask for it (pytest-xdist users build this from a file lock by hand).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use xpar_protocol::env;

use crate::lock::files;
use crate::names::file_stem;

/// Keys done in this process, each behind its own mutex so that callers of one key wait
/// for each other while callers of other keys go on.
static DONE: Mutex<BTreeMap<String, Arc<Mutex<bool>>>> = Mutex::new(BTreeMap::new());

/// Runs `f` once for the whole test run: the first caller for `key` runs it and every
/// other caller, in any worker or process of the run, waits until it has finished and
/// then returns without running it.
///
/// Under `cargo xpar` "the run" is every worker of the run: a lock file and a marker file
/// in the run's shared directory (`XPAR_RUN_DIR`) record that `key` is done. Outside
/// `cargo xpar` there is no shared directory, and `f` runs once per process: once in all
/// under `cargo test` (one process per test binary), once per test under
/// `cargo nextest run` (one process per test).
///
/// If `f` panics, `key` is not done: the panic goes on to fail the calling test, and the
/// next caller runs `f` again.
///
/// # Panics
///
/// When `f` panics, and when the run directory cannot be used (the message names it).
pub fn once_per_run(key: &str, f: impl FnOnce()) {
    let slot = {
        let mut map = DONE.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(key.to_owned()).or_default().clone()
    };
    // A panic in `f` poisons this mutex with `false` inside; the next caller takes the
    // value as is and so retries.
    let mut done = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if *done {
        return;
    }
    match std::env::var_os(env::RUN_DIR).filter(|d| !d.is_empty()) {
        Some(run_dir) => once_across_processes(&PathBuf::from(run_dir), key, f),
        None => f(),
    }
    *done = true;
}

fn once_across_processes(run_dir: &Path, key: &str, f: impl FnOnce()) {
    let dir = run_dir.join("xpar-once");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!(
            "xpar-harness: cannot create the once_per_run directory {}: {e}",
            dir.display()
        );
    }
    let stem = file_stem(key);
    let lock_path = dir.join(format!("{stem}.lock"));
    let marker = dir.join(format!("{stem}.done"));
    let lock = files::open(&lock_path);
    // Held until the end of this function, also while unwinding from a panic in `f`.
    files::check(lock.lock(), &lock_path);
    match marker.try_exists() {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => panic!("xpar-harness: cannot check {}: {e}", marker.display()),
    }
    f();
    if let Err(e) = std::fs::write(&marker, key) {
        panic!(
            "xpar-harness: cannot record {key:?} as done in {}: {e}",
            marker.display()
        );
    }
}
