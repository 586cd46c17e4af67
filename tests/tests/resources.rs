//! Per-test CPU time and peak memory, through the real binary, on `fixtures/resources`:
//! a fixed amount of work on one thread and on two, a 200 MB allocation, and two
//! binaries of their own (`harness = false`), one holding 150 MB. The figures follow
//! the work, not the clock, so a busy machine does not change them much; the checks
//! are proportions with wide margins.

use std::collections::BTreeMap;

use xpar_harness::serial;
use xpar_tests::{run_json, run_junit, FixtureCopy, JsonRun};

const MB: u64 = 1 << 20;

/// (CPU seconds, peak bytes) of each test by name.
fn figures(r: &JsonRun) -> BTreeMap<String, (Option<f64>, Option<u64>)> {
    (r.tests.iter())
        .map(|t| (t.name.clone(), (t.cpu_secs, t.peak_rss_bytes)))
        .collect()
}

// CPU time per unit of work grows when the other core is busy too (shared caches): the
// proportions below are measured with nothing else of this suite beside.
#[serial]
#[test]
fn each_test_has_its_cpu_time_and_peak_memory_in_batches_and_alone() {
    let f = FixtureCopy::new("resources");
    for jobs in ["1", "2"] {
        let r = run_json(f.path(), &["-j", jobs]);
        assert_eq!(r.run.code(), Some(0), "{}", r.run);
        let all = figures(&r);
        let cpu = |name: &str| {
            all[name]
                .0
                .unwrap_or_else(|| panic!("{name}: no CPU\n{all:?}"))
        };
        let one = cpu("tests::b_one_thread");
        assert!(one > 0.02, "-j {jobs}: {all:?}");
        // Two threads doing the work of one each: about twice the CPU (1.45 times was
        // seen on a loaded machine).
        let two = cpu("tests::c_two_threads");
        assert!(two > 1.25 * one && two < 3.0 * one, "-j {jobs}: {all:?}");
        assert!(cpu("tests::a_trivial") < one / 2.0, "-j {jobs}: {all:?}");
        // The binary of its own does the same work: `wait4`'s figure.
        let alone = cpu("resources::alone_small");
        assert!(alone > one / 2.0 && alone < one * 2.0, "-j {jobs}: {all:?}");
        // Peaks: the 200 MB test's own; the binaries of their own are not given the
        // runner's memory, which a child's peak starts from.
        let peak = |name: &str| all[name].1;
        let big = peak("tests::z_allocates_200mb").expect("the allocation's peak");
        assert!((200 * MB..300 * MB).contains(&big), "-j {jobs}: {all:?}");
        let big_alone = peak("resources::alone_big").expect("its peak");
        assert!(
            (150 * MB..250 * MB).contains(&big_alone),
            "-j {jobs}: {all:?}"
        );
        let small_alone = peak("resources::alone_small").expect("its sampled peak");
        assert!(small_alone < 20 * MB, "-j {jobs}: {all:?}");
        if let Some(trivial) = peak("tests::a_trivial") {
            assert!(trivial < 100 * MB, "-j {jobs}: {all:?}");
        }
    }
}

#[serial]
#[test]
fn junit_carries_the_figures_as_properties() {
    let f = FixtureCopy::new("resources");
    let j = run_junit(f.path(), &["-j", "1", "b_one_thread", "z_allocates"]);
    let xml = j.xml();
    assert_eq!(
        xml.matches(r#"<property name="xpar.cpu-secs""#).count(),
        2,
        "{xml}"
    );
    assert!(
        xml.contains(r#"<property name="xpar.peak-rss-bytes""#),
        "{xml}"
    );
}
