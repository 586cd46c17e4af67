//! Per-run and per-worker identity and scratch space (pytest-xdist's `worker_id`,
//! `testrun_uid` and `tmp_path`), from the environment `cargo xpar` gives each worker,
//! with stand-ins that work outside it.

use std::path::PathBuf;
use std::sync::OnceLock;

use xpar_protocol::env;

/// The id of the worker running this test (`gw0`, `gw1`, ...), or `None` outside
/// `cargo xpar`.
pub fn worker_id() -> Option<String> {
    non_empty(env::WORKER_ID)
}

/// The number of workers in this run, or `None` outside `cargo xpar`.
pub fn worker_count() -> Option<usize> {
    std::env::var(env::WORKER_COUNT).ok()?.parse().ok()
}

/// An id shared by every worker of one `cargo xpar` run (and different for the next
/// run), or `None` outside `cargo xpar`. Use it to name resources the run creates.
pub fn testrun_uid() -> Option<String> {
    non_empty(env::TESTRUN_UID)
}

fn non_empty(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|s| !s.is_empty())
}

/// The per-process directory handed out outside `cargo xpar`, removed at exit.
static PROCESS_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A directory private to this worker, existing when this returns.
///
/// Under `cargo xpar` it is the worker's own directory (`XPAR_TMPDIR`), which the runner
/// removes after the run; tests running one after another on the worker share it.
/// Outside `cargo xpar` it is a directory of this process in the system temp directory,
/// removed when the process exits normally.
///
/// # Panics
///
/// When the directory cannot be created; the message names it.
pub fn worker_temp_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(env::TMPDIR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!(
                "xpar-harness: cannot create the worker directory {}: {e}",
                dir.display()
            );
        }
        return dir;
    }
    PROCESS_DIR
        .get_or_init(|| {
            let parent = std::env::temp_dir();
            match tempfile::Builder::new()
                .prefix("xpar-worker-")
                .tempdir_in(&parent)
            {
                Ok(dir) => dir.keep(),
                Err(e) => panic!(
                    "xpar-harness: cannot create a worker directory in {}: {e}",
                    parent.display()
                ),
            }
        })
        .clone()
}

// SAFETY (the `unsafe` that `dtor` asks for): runs at exit, after libtest has joined its
// test threads, and only removes a directory no other code still owns.
#[dtor::dtor(unsafe)]
fn remove_process_dir() {
    if let Some(dir) = PROCESS_DIR.get() {
        // Best effort: a test may have left a file open on a platform that forbids
        // removing it, and there is nobody left to tell.
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A fresh, empty directory for one test, inside [`worker_temp_dir`], removed when the
/// returned value is dropped. Its name starts with the test's name where libtest gives
/// it (the thread name), to make a left-behind directory easy to trace.
///
/// # Panics
///
/// When the directory cannot be created; the message names where.
pub fn test_temp_dir() -> tempfile::TempDir {
    let parent = worker_temp_dir();
    let prefix = format!("{}-", test_label());
    match tempfile::Builder::new().prefix(&prefix).tempdir_in(&parent) {
        Ok(dir) => dir,
        Err(e) => panic!(
            "xpar-harness: cannot create a test directory in {}: {e}",
            parent.display()
        ),
    }
}

/// The current test's name, made safe as part of a file name and kept short.
fn test_label() -> String {
    let name = match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "test".to_owned(),
    };
    let mut label: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Keep the end, which holds the test function's name.
    if label.len() > 48 {
        label = label[label.len() - 48..].to_owned();
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_matches_the_environment() {
        // Holds both inside `cargo xpar` (gwN) and outside it (None).
        match std::env::var(env::WORKER_ID) {
            Ok(id) if !id.is_empty() => {
                assert_eq!(worker_id().as_deref(), Some(id.as_str()));
                assert!(id.starts_with("gw"), "unexpected worker id {id}");
                let n: usize = id[2..].parse().expect("numeric worker index");
                assert!(n < worker_count().expect("worker count set beside worker id"));
                assert!(testrun_uid().is_some(), "run id missing beside worker id");
            }
            _ => {
                assert_eq!(worker_id(), None);
                assert_eq!(worker_count(), None);
            }
        }
    }

    #[test]
    fn test_dirs_are_fresh_empty_and_removed() {
        let a = test_temp_dir();
        let b = test_temp_dir();
        assert_ne!(a.path(), b.path());
        for dir in [&a, &b] {
            assert!(
                dir.path().starts_with(worker_temp_dir()),
                "{:?}",
                dir.path()
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.contains("test_dirs_are_fresh"), "{name}");
        std::fs::write(a.path().join("f"), "x").unwrap();
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists(), "{path:?} outlived its TempDir");
    }

    #[test]
    fn worker_dir_is_stable_within_a_process() {
        let dir = worker_temp_dir();
        assert!(dir.is_dir());
        assert_eq!(dir, worker_temp_dir());
    }

    #[test]
    fn labels_are_safe_and_short() {
        let t = std::thread::Builder::new()
            .name(format!("{}::a b/c", "m".repeat(100)))
            .spawn(test_label)
            .unwrap();
        let label = t.join().unwrap();
        assert!(label.len() <= 48 && label.ends_with("__a_b_c"), "{label}");
    }
}
