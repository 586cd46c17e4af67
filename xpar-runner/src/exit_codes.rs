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
/// with tests left unrun; `stress --plan`: a threshold was missed (failed runs within the
/// thresholds are not a failure there).
pub const TEST_RUN_FAILED: i32 = 100;
/// `cargo test --no-run` failed: a compile error, a bad manifest, a dependency that could
/// not be fetched. (Cargo refusing the command line itself, as for `-p` naming no
/// package or an unknown feature, is [`USAGE`].)
pub const BUILD_FAILED: i32 = 101;
/// `cargo xpar archive`: the archive could not be made (nextest's value; the tests
/// built). An archive that cannot be run is [`SETUP_ERROR`], as in nextest.
pub const ARCHIVE_CREATION_FAILED: i32 = 103;
/// Writing a report (JUnit, JSON, HTML) failed.
pub const WRITE_OUTPUT_ERROR: i32 = 110;
/// `--coverage --fail-under-lines P`: every test passed but line coverage is below P.
pub const COVERAGE_BELOW_THRESHOLD: i32 = 111;
/// `--coverage`: the report could not be made (tools missing, merge or export failed).
pub const COVERAGE_ERROR: i32 = 112;
/// `cargo xpar merge`: the results given do not make one run (a shard missing or given
/// twice, a test in no shard or in two, shards of different builds or selections, a
/// directory that holds no results).
pub const MERGE_MISMATCH: i32 = 113;
/// The run was stopped by a signal: 128 + its number (130 for SIGINT, 143 for SIGTERM,
/// 129 for SIGHUP), as shells report it. The reports are written with what finished.
pub fn interrupted(signal: i32) -> i32 {
    128 + signal
}

/// The table `--help` ends with: every code above, in the words of the README's table.
pub const HELP: &str = "\
Exit codes:
  0      every test that ran passed
  2      bad usage (one line on stderr)
  4      the filters matched no test
  96     setting up the run failed (a bad --archive-file too)
  100    a test failed or the run stopped with tests left unrun; stress --plan: a threshold missed
  101    the build failed
  103    the archive could not be made (cargo xpar archive)
  110    a report (--junit, --json, --html) could not be written
  111    line coverage below --fail-under-lines
  112    no coverage report could be made
  113    merge: the shards do not make one run (one missing, a test in two...)
  128+N  stopped by signal N (130 Ctrl-C, 143 SIGTERM)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code() {
        let codes = [
            OK,
            USAGE,
            NO_TESTS_RUN,
            SETUP_ERROR,
            TEST_RUN_FAILED,
            BUILD_FAILED,
            ARCHIVE_CREATION_FAILED,
            WRITE_OUTPUT_ERROR,
            COVERAGE_BELOW_THRESHOLD,
            COVERAGE_ERROR,
            MERGE_MISMATCH,
        ];
        let listed: Vec<&str> = HELP
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for code in codes {
            assert!(
                listed.contains(&code.to_string().as_str()),
                "{code}: {HELP}"
            );
        }
        assert!(listed.contains(&"128+N"), "{HELP}");
        assert_eq!(listed.len(), codes.len() + 1, "{HELP}");
    }
}
