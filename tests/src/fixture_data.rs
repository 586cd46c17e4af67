//! The expected outcome of every test in the fixture workspaces, in one place: the
//! integration tests compare runs against this model rather than spot-checking.
//! Change it together with `fixtures/`.

/// One test the runner must report, and how it must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The binary id, as nextest spells it (`alpha`, `alpha::bin/alpha`, `alpha::env`).
    pub binary_id: &'static str,
    /// The test name as libtest lists it; an opaque binary's one test is named by its id.
    pub name: &'static str,
    pub outcome: Outcome,
}

/// How a test must end, and what its JUnit entry must then hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Marked `#[ignore]`: reported as skipped unless ignored tests were asked for.
    Ignored,
    Fail {
        /// Part of the failure's `message` attribute.
        message_contains: &'static str,
        /// Part of the failure's text, which holds the test's captured output.
        output_contains: &'static str,
    },
}

/// A test binary of a fixture, as `cargo xpar list` must describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary {
    pub id: &'static str,
    pub package: &'static str,
    /// The cargo target kind: `lib`, `bin` or `test`.
    pub kind: &'static str,
    /// A `harness = false` binary that cannot list its tests, run whole as one test.
    pub opaque: bool,
}

/// How many tests of a model end each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

/// Counts the outcomes in `expected`.
pub fn counts(expected: &[Expected]) -> Counts {
    let mut counts = Counts::default();
    for e in expected {
        match e.outcome {
            Outcome::Pass => counts.passed += 1,
            Outcome::Ignored => counts.ignored += 1,
            Outcome::Fail { .. } => counts.failed += 1,
        }
    }
    counts
}

/// The tests of `expected` that `keep` selects, for runs that select a subset.
pub fn select(expected: &[Expected], keep: impl Fn(&Expected) -> bool) -> Vec<Expected> {
    expected.iter().copied().filter(|e| keep(e)).collect()
}

const fn pass(binary_id: &'static str, name: &'static str) -> Expected {
    Expected {
        binary_id,
        name,
        outcome: Outcome::Pass,
    }
}

const fn ignored(binary_id: &'static str, name: &'static str) -> Expected {
    Expected {
        binary_id,
        name,
        outcome: Outcome::Ignored,
    }
}

const fn fail(
    binary_id: &'static str,
    name: &'static str,
    message_contains: &'static str,
    output_contains: &'static str,
) -> Expected {
    Expected {
        binary_id,
        name,
        outcome: Outcome::Fail {
            message_contains,
            output_contains,
        },
    }
}

/// The failure message of a test that panicked, failed an assert or returned `Err`.
const TEST_FAILED: &str = "test failed";

/// The binaries of `fixtures/basic`.
pub const BASIC_BINARIES: &[Binary] = &[
    Binary {
        id: "alpha",
        package: "alpha",
        kind: "lib",
        opaque: false,
    },
    Binary {
        id: "alpha::bin/alpha",
        package: "alpha",
        kind: "bin",
        opaque: false,
    },
    Binary {
        id: "alpha::env",
        package: "alpha",
        kind: "test",
        opaque: false,
    },
    Binary {
        id: "alpha::opaque",
        package: "alpha",
        kind: "test",
        opaque: true,
    },
    Binary {
        id: "beta",
        package: "beta",
        kind: "lib",
        opaque: false,
    },
];

/// Every test of `fixtures/basic` and how a full run must report it.
pub const BASIC: &[Expected] = &[
    // alpha's unit tests: every way a test can end.
    pass("alpha", "tests::a_prints_libtest_events"),
    pass("alpha", "tests::passes"),
    fail("alpha", "tests::fails", TEST_FAILED, "about to fail"),
    fail("alpha", "tests::panics", TEST_FAILED, "boom from panics"),
    pass("alpha", "tests::should_panic_ok"),
    pass("alpha", "tests::result_ok"),
    fail(
        "alpha",
        "tests::result_err",
        TEST_FAILED,
        "result error text",
    ),
    ignored("alpha", "tests::ignored_test"),
    pass("alpha", "tests::prints"),
    fail(
        "alpha",
        "tests::aborts",
        "signal 6 (SIGABRT)",
        "output before abort",
    ),
    fail(
        "alpha",
        "tests::segfaults",
        "signal 11 (SIGSEGV)",
        "output before segfault",
    ),
    fail(
        "alpha",
        "tests::exits_zero",
        "exited with status 0",
        "output before exit",
    ),
    // Sorting after the crashing tests: a batch that died must not lose them.
    pass("alpha", "tests::after_crash_a"),
    pass("alpha", "tests::after_crash_b"),
    pass("alpha", "tests::zz_last"),
    // Names that are prefixes of other names.
    pass("alpha", "tests::pre"),
    pass("alpha", "tests::pre_fix"),
    pass("alpha", "tests::pre_fix_longer"),
    pass("alpha", "tests::modp::t"),
    pass("alpha", "tests::modp_extra::t"),
    pass("alpha", "tests::reads_worker_env"),
    // alpha's binary target.
    pass("alpha::bin/alpha", "tests::bin_unit_test"),
    // alpha's integration tests: the environment cargo gives a test binary.
    pass("alpha::env", "manifest_dir_is_package_root"),
    pass("alpha::env", "cwd_is_package_root"),
    pass("alpha::env", "bin_exe_runs"),
    pass("alpha::env", "pkg_name_env"),
    pass("alpha::env", "passes"),
    // A `harness = false` binary, run whole.
    pass("alpha::opaque", "alpha::opaque"),
    // beta: a test name shared with alpha, and an ignored test.
    pass("beta", "tests::passes"),
    pass("beta", "tests::also_passes"),
    ignored("beta", "tests::ignored_in_beta"),
];

/// Every test of `fixtures/passing`; all pass.
pub const PASSING: &[Expected] = &[
    pass("passing", "tests::one"),
    pass("passing", "tests::two"),
    pass("passing", "tests::three"),
    pass("passing::it", "it_one"),
    pass("passing::it", "it_two"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn each_test_is_modelled_once() {
        for model in [BASIC, PASSING] {
            let mut seen = HashSet::new();
            for e in model {
                assert!(seen.insert((e.binary_id, e.name)), "twice: {e:?}");
            }
        }
    }

    #[test]
    fn basic_tests_belong_to_listed_binaries() {
        for e in BASIC {
            let binary = BASIC_BINARIES.iter().find(|b| b.id == e.binary_id);
            let binary = binary.unwrap_or_else(|| panic!("unknown binary: {e:?}"));
            if binary.opaque {
                assert_eq!(e.name, binary.id, "an opaque test is named by its binary");
            }
        }
    }

    #[test]
    fn counts_add_up() {
        let c = counts(BASIC);
        assert_eq!(
            c,
            Counts {
                passed: 23,
                failed: 6,
                ignored: 2
            }
        );
        assert_eq!(c.passed + c.failed + c.ignored, BASIC.len());
    }
}
