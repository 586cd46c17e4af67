//! What the run history costs a run, against the duration file it replaced: a suite of
//! TESTS tests in 7 binaries (the `tiny` benchmark's 4,200 by default) whose history
//! already holds KEEP runs (100, the default bound, so every run also deletes one).
//! Per run, the history is opened and its estimates read (what a run does before
//! planning), then the run is appended with its estimates (what it does at the end);
//! the file is read, then written, as `--durations FILE` does. Then the queries of
//! `cargo xpar history` and `--last-failed` over the kept runs, three times each.
//!
//! `cargo bench -p xpar-runner --bench history_db -- [TESTS] [KEEP] [ROUNDS]` (defaults
//! 4200, 100, 30). Prints the median and minimum of each step in milliseconds.

use std::time::Instant;

use xpar_metadata::{
    BinaryId, DistMode, ReportCounts, ReportTest, ReportTestStatus, RunReport,
    REPORT_FORMAT_VERSION,
};
use xpar_runner::history::{self, HistoryDb, RunToRecord};

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let tests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4200);
    let keep: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir().expect("a temp dir");
    let db_path = history::path(dir.path());
    let file = dir.path().join("durations.json");
    let report = report(tests);
    let mut estimates = history::History::default();
    for t in &report.tests {
        estimates
            .durations
            .set(t.binary_id.as_str(), &t.name, t.duration_secs);
    }
    let mut run = 0;
    let append = |db: &mut HistoryDb, run: &mut usize| {
        *run += 1;
        let id = format!("run-{run}");
        db.record(&RunToRecord {
            report: &report,
            run_id: &id,
            started: "2026-12-01T00:00:00Z",
            commit: Some("0123456789abcdef0123456789abcdef01234567"),
            options: "{}",
            instrumented: false,
            estimates: Some(&estimates),
            keep_runs: keep,
        })
        .expect("recorded");
    };
    let mut db = HistoryDb::open(&db_path).expect("a history");
    for _ in 0..keep {
        append(&mut db, &mut run);
    }
    drop(db);
    let (mut load, mut record, mut file_read, mut file_write) = (vec![], vec![], vec![], vec![]);
    history::write(&file, &estimates).expect("written");
    for _ in 0..rounds {
        let t = Instant::now();
        let mut db = HistoryDb::open(&db_path).expect("opened");
        let known = db.estimates(false).expect("read");
        load.push(t.elapsed().as_secs_f64());
        assert_eq!(known.durations.len(), tests);
        let t = Instant::now();
        append(&mut db, &mut run);
        drop(db);
        record.push(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let h = history::load(&file).expect("read");
        file_read.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        history::write(&file, &h).expect("written");
        file_write.push(t.elapsed().as_secs_f64());
    }
    // What `cargo xpar history` and `--last-failed` read: every kept run's results.
    let (mut flaky, mut slowest, mut last, mut one) = (vec![], vec![], vec![], vec![]);
    let db = HistoryDb::open_existing(&db_path).expect("opened");
    for _ in 0..3 {
        let t = Instant::now();
        db.flaky(keep).expect("flaky");
        flaky.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        db.slowest(keep, 10).expect("slowest");
        slowest.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        db.last_run().expect("last run");
        last.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        db.test_results("m3::t3", keep).expect("a test");
        one.push(t.elapsed().as_secs_f64());
    }
    drop(db);
    let size = std::fs::metadata(&db_path).map_or(0, |m| m.len());
    println!(
        "{tests} tests, {keep} runs kept, {rounds} rounds; history.db {:.1} MB",
        size as f64 / 1e6
    );
    println!("{:<34} {:>9} {:>9}", "step", "median ms", "min ms");
    for (what, v) in [
        ("history: open + read estimates", &mut load),
        ("history: append the run", &mut record),
        ("file: read", &mut file_read),
        ("file: write", &mut file_write),
        ("query: --flaky", &mut flaky),
        ("query: --slowest", &mut slowest),
        ("query: --last-failed", &mut last),
        ("query: --test NAME", &mut one),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "{what:<34} {:>9.2} {:>9.2}",
            1e3 * v[v.len() / 2],
            1e3 * v[0]
        );
    }
}

/// A run of `n` passing tests in 7 binaries, as its JSON report has them.
fn report(n: usize) -> RunReport {
    let tests: Vec<ReportTest> = (0..n)
        .map(|i| ReportTest {
            binary_id: BinaryId::new(format!("tiny{}", i % 7)),
            name: format!("m{}::t{i}", i % 60),
            status: ReportTestStatus::Passed,
            message: None,
            worker: Some(format!("gw{}", i % 2)),
            start_secs: Some(i as f64 * 1e-5),
            duration_secs: 1e-5 * (i % 13) as f64,
            output: String::new(),
            flaky: false,
            previous: Vec::new(),
            shard: None,
            machine: None,
            cpu_secs: Some(1e-5 * (i % 11) as f64),
            peak_rss_bytes: Some(3 << 20),
        })
        .collect();
    RunReport {
        format_version: REPORT_FORMAT_VERSION,
        dist: DistMode::Load,
        workers: 2,
        wall_secs: 0.1,
        cancelled: false,
        cancel_reason: None,
        counts: ReportCounts {
            passed: n,
            ..ReportCounts::default()
        },
        tests,
        run_id: None,
        partition: None,
        build_id: None,
        selection: Vec::new(),
        shards: Vec::new(),
        machines: Vec::new(),
    }
}
