//! Every exit code `cargo xpar` can return, in one place (nextest's `exit_codes.rs` values
//! where the meaning is the same, so CI scripts written for either keep working).

/// The run finished and every test that ran passed (or the listing succeeded).
pub const OK: i32 = 0;
/// Bad usage: an unknown flag, a malformed value, conflicting options. One line on stderr.
pub const USAGE: i32 = 2;
/// The filters selected no test at all.
pub const NO_TESTS_RUN: i32 = 4;
/// Listing the tests of a binary, or running the runner itself, failed.
pub const SETUP_ERROR: i32 = 96;
/// At least one test failed (or crashed, or returned no result), or the run stopped early
/// with tests left unrun.
pub const TEST_RUN_FAILED: i32 = 100;
/// `cargo test --no-run` failed: a compile error, a bad manifest, a missing package.
pub const BUILD_FAILED: i32 = 101;
/// Writing a report (JUnit) failed.
pub const WRITE_OUTPUT_ERROR: i32 = 110;
/// `--coverage --fail-under-lines P`: every test passed but line coverage is below P.
pub const COVERAGE_BELOW_THRESHOLD: i32 = 111;
/// `--coverage`: the report could not be made (tools missing, merge or export failed).
pub const COVERAGE_ERROR: i32 = 112;
/// The run was stopped by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM,
/// 129 for SIGHUP), as shells report it. The reports are written with what finished.
pub fn interrupted(signal: i32) -> i32 {
    128 + signal
}
