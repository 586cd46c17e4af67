//! Test-side companion of `cargo xpar`: scheduling markers for tests, and per-worker
//! isolation helpers.
//!
//! # Markers
//!
//! ```
//! use xpar_harness::{group, parallel_safe, resource_intensive, serial};
//!
//! #[serial] // runs alone: no other marked test at the same time
//! #[test]
//! fn migrates_the_schema() {}
//!
//! #[serial(db, cache)] // no other test holding `db` or `cache` at the same time
//! #[test]
//! fn rebuilds_the_cache() {}
//!
//! #[parallel_safe] // may run beside anything
//! #[test]
//! fn pure_function() {}
//!
//! #[resource_intensive(slots = 2)] // occupies two worker slots under `cargo xpar`
//! #[group("browser")] // every test of the group runs on one worker
//! #[test]
//! fn renders_pages() {}
//! ```
//!
//! Markers go above or below the test attribute (`#[test]`, `#[tokio::test]`, ...), in unit
//! and integration tests, and several may be stacked on one test. On an `async fn`,
//! either order works: placed above `#[tokio::test]` the marker holds its lock across the
//! whole `async` body (the lock guard is `Send`); placed below, it wraps the synchronous
//! function the test attribute produced.
//!
//! Under `cargo xpar` the runner reads the markers (see `XPAR_MARKER_QUERY` in
//! `xpar-protocol`) and schedules accordingly. Elsewhere the markers still exclude each
//! other, as a fallback:
//!
//! - `#[serial]` excludes every other *marked* test, `#[serial(key)]` excludes marked
//!   tests sharing a key and `#[serial]` ones; `#[parallel_safe]`, `#[resource_intensive]`
//!   and `#[group]` only wait out `#[serial]` tests.
//! - Under `cargo test` (threads of one process) an in-process lock does this; under
//!   `cargo nextest run` (one process per test) file locks in
//!   `$TMPDIR/xpar-harness-locks-<uid>` (or the directory in `XPAR_HARNESS_LOCK_DIR`)
//!   do. Under `cargo xpar` the runner keeps marked tests apart (`XPAR_SCHEDULED=1`) and
//!   the file locks are skipped.
//! - **Unmarked tests are not held back outside `cargo xpar`**: nothing runs in them to
//!   take a lock, so a `#[serial]` test can overlap with an unmarked one under
//!   `cargo test` or nextest. Mark a test (`#[parallel_safe]` will do) if it must not run
//!   beside a `#[serial]` one.
//!
//! # Isolation
//!
//! [`worker_id`], [`worker_count`], [`testrun_uid`], [`worker_temp_dir`],
//! [`test_temp_dir`] and [`once_per_run`] give a test what it needs to keep out of the
//! way of tests on other workers.

// The crate docs show markers on `#[test]` functions as users write them; the doctest
// still compiles them, which is what it is there for.
#![allow(clippy::test_attr_in_doctest)]

mod isolation;
mod lock;
mod names;
mod once;
mod query;
mod registry;

pub use isolation::{test_temp_dir, testrun_uid, worker_count, worker_id, worker_temp_dir};
pub use once::once_per_run;
pub use xpar_macros::{group, parallel_safe, resource_intensive, serial};

/// Environment variable holding the worker id (`gw0`, `gw1`, ...).
pub const WORKER_ID_ENV: &str = xpar_protocol::env::WORKER_ID;
/// Environment variable holding the number of workers in the run.
pub const WORKER_COUNT_ENV: &str = xpar_protocol::env::WORKER_COUNT;
/// Environment variable that moves the fallback file locks (see the crate docs).
pub const LOCK_DIR_ENV: &str = lock::LOCK_DIR_ENV;

/// What the macros' expansion names. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::lock::{enter, MarkerGuard};
    pub use crate::registry::{MarkedTest, SerialMarker, MARKED_TESTS};
    pub use linkme;
    pub use xpar_protocol::DEFAULT_RESOURCE_SLOTS;
}
