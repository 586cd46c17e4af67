//! Contention-aware slots, through the real binary, on `fixtures/resources`: a test
//! that kept two cores busy holds two worker slots in the next run, so nothing runs
//! beside it on two workers. Alone in its test binary, and `#[serial]` under cargo xpar:
//! the measurement needs the two cores it measures.

use xpar_harness::serial;
use xpar_tests::{run_json, FixtureCopy, JsonRun, JsonTest};

fn test<'a>(r: &'a JsonRun, name: &str) -> &'a JsonTest {
    let t = r.tests.iter().find(|t| t.name == name);
    t.unwrap_or_else(|| panic!("no result for {name}\n{}", r.run))
}

/// When `t` ran: (start, end) in seconds from the test phase's start.
fn span(t: &JsonTest) -> (f64, f64) {
    let start = t.start_secs.expect("it ran");
    (start, start + t.duration_secs)
}

// Under cargo xpar, nothing else runs while it measures.
#[serial]
#[test]
fn a_test_that_kept_two_cores_busy_holds_two_slots_next_time() {
    let f = FixtureCopy::new("resources");
    // Measured alone: two threads of fixed work keep both cores busy.
    let first = run_json(f.path(), &["-j", "2", "c_two_threads"]);
    let t = test(&first, "tests::c_two_threads");
    let cores = t.cpu_secs.expect("its CPU time") / t.duration_secs;
    assert!(
        cores >= 1.5,
        "two busy threads used {cores:.2} cores: the machine is too busy to measure\n{}",
        first.run
    );
    // Next time it holds both slots: no other test runs while it does.
    let next = run_json(f.path(), &["-j", "2"]);
    assert_eq!(next.run.code(), Some(0), "{}", next.run);
    let held = span(test(&next, "tests::c_two_threads"));
    for other in next
        .tests
        .iter()
        .filter(|o| o.name != "tests::c_two_threads")
    {
        let (start, end) = span(other);
        assert!(
            end <= held.0 + 1e-3 || start + 1e-3 >= held.1,
            "{} ran beside the two-core test\n{}",
            other.name,
            next.run
        );
    }
}
