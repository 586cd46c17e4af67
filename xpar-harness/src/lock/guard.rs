//! What a marked test's body holds while it runs: its claim on the in-process lock and,
//! unless the runner schedules marked tests itself, on the cross-process file locks.

use super::files::{self, FileGuard};
use super::process::{Claim, ProcessGuard, ProcessLock};
use crate::registry::{MarkedTest, SerialMarker};

/// The exclusion domain of every marked test in this process.
static MARKED: ProcessLock = ProcessLock::new();

/// Held by a marked test's body; dropping it (at the end of the body, or while unwinding
/// from a panic) lets the tests it held back start.
#[must_use = "the test's locks are released when the guard is dropped"]
pub struct MarkerGuard {
    // Declared first so it is dropped first: the process-wide hold outlives the
    // cross-process one, never the reverse.
    _files: Option<FileGuard>,
    _process: ProcessGuard,
}

impl std::fmt::Debug for MarkerGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarkerGuard")
    }
}

pub fn claim_of(test: &MarkedTest) -> Claim {
    match test.serial {
        SerialMarker::All => Claim::All,
        SerialMarker::Keys(keys) => Claim::Shared { keys },
        SerialMarker::No => Claim::Shared { keys: &[] },
    }
}

/// Whether `cargo xpar` keeps marked tests apart itself (see `XPAR_SCHEDULED`).
fn scheduled() -> bool {
    std::env::var_os(xpar_protocol::env::SCHEDULED).is_some_and(|v| v == "1")
}

/// Takes the locks `test`'s markers call for; called first thing in a marked test's body.
///
/// The in-process lock is taken before the file locks and released after them, so a
/// thread that holds a file lock never waits for the in-process one.
pub fn enter(test: &'static MarkedTest) -> MarkerGuard {
    let claim = claim_of(test);
    let process = MARKED.acquire(claim);
    // Under `cargo xpar` the runner's plan already keeps these tests apart, and each
    // worker has its own TMPDIR, so file locks there would be both useless and unshared.
    let files = (!scheduled()).then(|| files::acquire(&files::lock_dir(), claim));
    MarkerGuard {
        _files: files,
        _process: process,
    }
}
