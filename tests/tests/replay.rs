//! Recorded runs: every run records its events, and `cargo xpar replay` shows the run
//! again and writes JUnit and JSON reports equal to those the run wrote, from the record
//! alone, with the run's exit code.

use xpar_tests::{xpar, FixtureCopy, Run};

/// The lines of a run's display that do not depend on the terminal or the clock.
fn summary_lines(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.contains("FAIL [") || l.contains("PASS [") || l.contains("tests run:"))
        .map(|l| l.to_owned())
        .collect()
}

#[test]
fn a_replay_writes_the_reports_the_run_wrote() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    let run = Run::of(xpar(dir).args([
        "-j",
        "2",
        "--no-fail-fast",
        "--junit",
        "run.xml",
        "--json",
        "run.json",
    ]));
    assert_eq!(run.code(), Some(100), "{run}");

    let replay =
        Run::of(xpar(dir).args(["replay", "--junit", "replay.xml", "--json", "replay.json"]));
    assert_eq!(replay.code(), run.code(), "{replay}");
    for (a, b) in [("run.xml", "replay.xml"), ("run.json", "replay.json")] {
        let a_text = std::fs::read_to_string(dir.join(a)).unwrap();
        let b_text = std::fs::read_to_string(dir.join(b)).unwrap();
        assert!(!a_text.is_empty());
        assert_eq!(a_text, b_text, "{b} differs from {a}\n{replay}");
    }
    let mut shown = summary_lines(&replay);
    let mut ran = summary_lines(&run);
    shown.sort();
    ran.sort();
    assert!(!ran.is_empty(), "{run}");
    assert_eq!(shown, ran, "{replay}");

    // By run id too: the one directory under target/xpar/runs.
    let runs: Vec<_> = std::fs::read_dir(dir.join("target/xpar/runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    // The record names its run in its start, and each result's attempt: what keys a
    // result across runs and machines.
    let record = std::fs::read_to_string(
        dir.join("target/xpar/runs")
            .join(&runs[0])
            .join("events.jsonl"),
    )
    .unwrap();
    let started = record
        .lines()
        .find(|l| l.contains(r#""event":"run-started""#))
        .expect("a run-started event");
    assert!(
        started.contains(&format!(r#""run_id":"{}""#, runs[0])),
        "{started}"
    );
    assert!(
        record
            .lines()
            .filter(|l| l.contains(r#""event":"test-finished""#))
            .all(|l| l.contains(r#""attempt":1"#)),
        "{record}"
    );
    let by_id = Run::of(xpar(dir).args(["replay", &runs[0], "-q"]));
    assert_eq!(by_id.code(), run.code(), "{by_id}");
}

#[test]
fn an_unknown_run_is_one_clear_usage_error() {
    let fixture = FixtureCopy::new("basic");
    let none = Run::of(xpar(fixture.path()).args(["replay"]));
    assert_eq!(none.code(), Some(2), "{none}");
    assert_eq!(none.stderr.lines().count(), 1, "{none}");
    assert!(none.stderr.contains("no recorded runs in"), "{none}");
    let unknown = Run::of(xpar(fixture.path()).args(["replay", "nope"]));
    assert_eq!(unknown.code(), Some(2), "{unknown}");
    assert!(
        unknown.stderr.contains("no recorded run `nope`"),
        "{unknown}"
    );
}
