//! The cross-process lock, for runners that put tests in separate processes without
//! keeping marked tests apart themselves (`cargo nextest run`): OS file locks on files in
//! one directory shared by every process of the machine's test runs.
//!
//! `all.lock` is held shared by every marked test and exclusively by `#[serial]`; each
//! serial key has its own file, held exclusively. Files are taken in one order (`all`
//! first, then keys sorted), so two processes cannot wait on each other. The files are
//! never deleted: removing a lock file while another process waits on it would let a
//! third process lock a new file of the same name.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::process::Claim;
use crate::names::file_stem;

/// Overrides the lock directory, e.g. to keep one suite's locks apart from another's.
pub const LOCK_DIR_ENV: &str = "XPAR_HARNESS_LOCK_DIR";

/// The file locks of one claim, released when dropped (closing a file releases its lock,
/// also when the process dies).
pub struct FileGuard {
    _files: Vec<File>,
}

/// Where the lock files live: [`LOCK_DIR_ENV`] if set; else, in a `cargo xpar` run that
/// does not schedule marked tests itself, the run's shared directory (each worker's
/// `TMPDIR` is its own, so the temp directory would not be shared); else
/// `xpar-harness-locks-<uid>` in the system temp directory ([`default_dir_name`]).
pub fn lock_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(LOCK_DIR_ENV) {
        return PathBuf::from(dir);
    }
    if let Some(run_dir) = var(xpar_protocol::env::RUN_DIR) {
        return PathBuf::from(run_dir).join("xpar-locks");
    }
    std::env::temp_dir().join(default_dir_name())
}

/// The lock directory's name in the system temp directory: one per user on Unix, where
/// every user shares that directory, and one user's lock directory (made with the usual
/// umask) would refuse another's lock files.
#[cfg(unix)]
fn default_dir_name() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    format!("xpar-harness-locks-{uid}")
}

/// The lock directory's name in the system temp directory, which is the user's own here.
#[cfg(not(unix))]
fn default_dir_name() -> String {
    "xpar-harness-locks".to_owned()
}

/// Waits until `claim` can be taken across processes, then takes it.
///
/// # Panics
///
/// When the lock directory or a lock file cannot be created or locked; this runs inside
/// a test, where the panic is the test's failure report.
pub fn acquire(dir: &Path, claim: Claim) -> FileGuard {
    if let Err(e) = std::fs::create_dir_all(dir) {
        panic!(
            "xpar-harness: cannot create the lock directory {}: {e} (set {LOCK_DIR_ENV} to a \
             writable directory)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    let all = open(&dir.join("all.lock"));
    let taken = match claim {
        Claim::All => all.lock(),
        Claim::Shared { .. } => all.lock_shared(),
    };
    check(taken, &dir.join("all.lock"));
    files.push(all);
    if let Claim::Shared { keys } = claim {
        for key in keys {
            let path = dir.join(format!("key-{}.lock", file_stem(key)));
            let file = open(&path);
            check(file.lock(), &path);
            files.push(file);
        }
    }
    FileGuard { _files: files }
}

pub fn open(path: &Path) -> File {
    match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Ok(file) => file,
        Err(e) => panic!(
            "xpar-harness: cannot open the lock file {}: {e}",
            path.display()
        ),
    }
}

pub fn check(result: std::io::Result<()>, path: &Path) {
    if let Err(e) = result {
        panic!("xpar-harness: cannot lock {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Separate `open`s are separate lock holders even within one process, which is what
    // lets these tests observe the cross-process semantics from threads.

    #[cfg(unix)]
    #[test]
    fn the_default_directory_is_the_users_own() {
        use std::os::unix::fs::MetadataExt;
        let mine = tempfile::tempfile().unwrap().metadata().unwrap().uid();
        assert_eq!(default_dir_name(), format!("xpar-harness-locks-{mine}"));
    }

    #[test]
    fn keys_exclude_each_other_and_serial_excludes_all() {
        let dir = tempfile::tempdir().unwrap();
        let _db = acquire(dir.path(), Claim::Shared { keys: &["db"] });
        let key = open(&dir.path().join("key-db.lock"));
        assert!(key.try_lock().is_err(), "key db was not held");
        let fs = open(&dir.path().join("key-fs.lock"));
        assert!(fs.try_lock().is_ok(), "an unrelated key was held");
        let all = open(&dir.path().join("all.lock"));
        assert!(
            all.try_lock().is_err(),
            "#[serial] could start beside a marked test"
        );
        assert!(
            all.try_lock_shared().is_ok(),
            "shared claims excluded each other"
        );
    }

    #[test]
    fn serial_all_holds_the_set_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let guard = acquire(dir.path(), Claim::All);
        let all = open(&dir.path().join("all.lock"));
        assert!(
            all.try_lock_shared().is_err(),
            "a marked test could start beside #[serial]"
        );
        drop(guard);
        assert!(
            all.try_lock_shared().is_ok(),
            "dropping the guard did not release it"
        );
    }

    #[test]
    fn an_unusable_directory_panics_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let bad = blocker.join("locks");
        let err = std::panic::catch_unwind(|| acquire(&bad, Claim::All))
            .err()
            .unwrap();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains(&bad.display().to_string()), "{msg}");
    }
}
