//! Contention-aware slots, through the real binary, on `fixtures/resources`: a test
//! that kept two cores busy holds two worker slots in the next run, so nothing runs
//! beside it on two workers. Alone in its test binary, and `#[serial]` under cargo xpar:
//! the measurement needs the two cores it measures.

use xpar_harness::serial;
use xpar_tests::{history_estimates, run_json, FixtureCopy, JsonRun, JsonTest};

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
    // Beside the tests that ran (the ignored one did not).
    for other in
        (next.tests.iter()).filter(|o| o.name != "tests::c_two_threads" && o.start_secs.is_some())
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

/// Two threads spinning for a fixed 1.2 s: two cores busy, yet no faster with two slots
/// than with one. It holds two slots once, is measured no faster, and runs on one slot
/// from then on, with other tests beside it (crossbeam's `select::loop_try`).
#[serial]
#[test]
fn slots_that_did_not_make_a_long_test_faster_are_given_up() {
    let f = FixtureCopy::new("resources");
    let spin = "tests::d_spins_two_threads_for_a_while";
    let args = ["-j", "2", "--include-ignored"];
    // Measured alone, on one slot (nothing is known of it yet).
    let first = run_json(f.path(), &[&args[..], &["d_spins"]].concat());
    assert_eq!(first.run.code(), Some(0), "{}", first.run);
    let t = test(&first, spin);
    let cores = t.cpu_secs.expect("its CPU time") / t.duration_secs;
    assert!(
        cores >= 1.5,
        "two spinning threads used {cores:.2} cores: the machine is too busy to measure\n{}",
        first.run
    );
    // Then with its two slots, and as slow.
    let second = run_json(f.path(), &args);
    assert_eq!(second.run.code(), Some(0), "{}", second.run);
    let estimates = history_estimates(f.path());
    let measured = &estimates["resources"].cores[spin];
    let secs = |field: &str| {
        measured[field]
            .as_f64()
            .unwrap_or_else(|| panic!("no {field} in {measured}"))
    };
    let (with, one) = (secs("with_slots"), secs("one_slot"));
    assert!(
        with >= 1.0 && one >= 1.0 && with > 0.9 * one,
        "two slots did not make it faster: {measured}"
    );
    // So it runs on one slot: another test runs beside it.
    let third = run_json(f.path(), &args);
    assert_eq!(third.run.code(), Some(0), "{}", third.run);
    let held = span(test(&third, spin));
    let beside = (third.tests.iter())
        .filter(|o| o.name != spin && o.start_secs.is_some())
        .any(|o| {
            let (start, end) = span(o);
            start < held.1 - 1e-3 && end > held.0 + 1e-3
        });
    assert!(
        beside,
        "nothing ran beside it on the other slot\n{}",
        third.run
    );
}
