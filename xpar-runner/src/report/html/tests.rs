//! The page rendered from reports made here: every section, and every value a test or
//! its output controls escaped.

use xpar_metadata::{
    BinaryId, DistMode, ReportAttempt, ReportCounts, ReportMachine, ReportShard, ReportTest,
    ReportTestStatus, RunReport,
};

use super::html_report;
use crate::coverage::{Count, Coverage, SourceFile, Summary};

/// A passed test of `alpha` on worker `gwN`.
pub(super) fn test(name: &str, worker: usize, start: f64, secs: f64) -> ReportTest {
    ReportTest {
        binary_id: BinaryId::new("alpha"),
        name: name.into(),
        status: ReportTestStatus::Passed,
        message: None,
        worker: Some(format!("gw{worker}")),
        start_secs: Some(start),
        duration_secs: secs,
        output: String::new(),
        flaky: false,
        previous: Vec::new(),
        shard: None,
        machine: None,
        cpu_secs: None,
        peak_rss_bytes: None,
    }
}

/// A run of `tests` on `workers` workers that took a second.
pub(super) fn report(workers: usize, tests: Vec<ReportTest>) -> RunReport {
    RunReport {
        format_version: xpar_metadata::REPORT_FORMAT_VERSION,
        dist: DistMode::Load,
        workers,
        wall_secs: 1.0,
        cancelled: false,
        cancel_reason: None,
        counts: ReportCounts::default(),
        tests,
        run_id: None,
        partition: None,
        build_id: None,
        selection: Vec::new(),
        shards: Vec::new(),
        machines: Vec::new(),
    }
}

const SCRIPT: &str = "<script>alert(1)</script>";

/// A report in which every string a test or the machines control is markup.
fn hostile() -> RunReport {
    let mut failed = test(SCRIPT, 0, 0.0, 0.25);
    failed.binary_id = BinaryId::new("a&b<i>");
    failed.status = ReportTestStatus::Failed;
    failed.message = Some("panicked at \"<b>bold</b>\"".into());
    failed.output = "</pre><img src=x onerror=alert(2)>\n".into();
    failed.machine = Some("<m>".into());
    let mut flaky = test("tests::<u>flaky</u>", 1, 0.0, 0.5);
    flaky.flaky = true;
    flaky.previous = vec![ReportAttempt {
        message: "<em>first</em>".into(),
        duration_secs: 0.1,
        output: "<iframe>".into(),
    }];
    let mut not_run = test("tests::later", 0, 0.0, 0.0);
    (not_run.worker, not_run.start_secs) = (None, None);
    not_run.status = ReportTestStatus::NotRun;
    not_run.message = Some("<s>stopped</s>".into());
    let mut r = report(2, vec![failed, flaky, not_run]);
    r.counts = ReportCounts {
        passed: 1,
        flaky: 1,
        failed: 1,
        not_run: 1,
        ..ReportCounts::default()
    };
    r.run_id = Some("<run>".into());
    r.cancelled = true;
    r.cancel_reason = Some("<q>fail-fast</q>".into());
    r.machines = vec![ReportMachine {
        name: "<machine>".into(),
        first_worker: 0,
        workers: 2,
    }];
    r
}

#[test]
fn everything_a_test_controls_is_escaped() {
    let page = html_report(&hostile(), None);
    for raw in [
        SCRIPT,
        "<i>",
        "<b>",
        "<img",
        "<m>",
        "<u>",
        "<em>",
        "<iframe>",
        "<s>",
        "<run>",
        "<q>",
        "<machine>",
    ] {
        assert!(!page.contains(raw), "{raw} is not escaped");
    }
    for escaped in [
        "&#60;script&#62;alert(1)&#60;/script&#62;",
        "a&#38;b&#60;i&#62;",
        "&#60;/pre&#62;&#60;img src=x onerror=alert(2)&#62;",
        "&#60;machine&#62;: 2 workers",
    ] {
        assert!(page.contains(escaped), "{escaped} missing");
    }
}

#[test]
fn the_page_fetches_nothing() {
    let page = html_report(&hostile(), None);
    // Its only links are to its own sections.
    for needle in [
        "http:", "https:", "src=\"", "url(", "@import", "<link", "<script",
    ] {
        assert!(!page.contains(needle), "{needle}");
    }
    assert!(
        page.contains("default-src 'none'"),
        "a policy that loads nothing"
    );
    let hrefs: Vec<&str> = page.split("href=\"").skip(1).collect();
    assert!(!hrefs.is_empty() && hrefs.iter().all(|h| h.starts_with('#')));
}

#[test]
fn sections_of_a_stopped_run_with_a_failure_and_a_flaky_test() {
    let page = html_report(&hostile(), None);
    for id in [
        "summary", "failures", "not-run", "flaky", "slowest", "binaries", "timeline",
    ] {
        assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(!page.contains("<section id=\"coverage\">"));
    assert!(page.contains("The run stopped early"));
    assert!(page.contains("passed on attempt 2"));
    assert!(page.contains("<details class=\"failure\" open>"));
    assert_eq!(page.matches("<g class=\"lane\"").count(), 2);
    assert!(!page.contains("cpu-secs") && !page.contains("peak-rss-bytes"));
}

#[test]
fn resource_columns_when_a_test_has_them() {
    let mut t = test("tests::heavy", 0, 0.0, 2.0);
    t.cpu_secs = Some(1.5);
    t.peak_rss_bytes = Some(64 * 1024 * 1024);
    let page = html_report(&report(1, vec![t, test("tests::light", 0, 2.0, 0.1)]), None);
    assert!(page.contains("<th class=\"num\">cpu-secs</th>"));
    assert!(page.contains("<th class=\"num\">peak-rss-bytes</th>"));
    assert!(page.contains("64.0 MiB") && page.contains("1.500s"));
}

#[test]
fn lanes_per_shard_after_a_merge() {
    let mut r = report(3, vec![test("a", 0, 0.0, 0.1), test("b", 2, 0.0, 0.1)]);
    r.shards = vec![
        ReportShard {
            index: 1,
            run_id: None,
            first_worker: 0,
            workers: 1,
            wall_secs: 0.2,
        },
        ReportShard {
            index: 2,
            run_id: None,
            first_worker: 1,
            workers: 2,
            wall_secs: 0.3,
        },
    ];
    let page = html_report(&r, None);
    assert_eq!(page.matches("<g class=\"group\">").count(), 2);
    assert!(page.contains(">shard 2: 2 workers, 0.300s</text>"));
    assert!(page.contains("merged from 2 shards"));
}

#[test]
fn the_coverage_table_lists_crates_their_files_and_the_total() {
    let count = |covered, count| Count { covered, count };
    let c = Coverage {
        lines: count(3, 4),
        regions: count(1, 2),
    };
    let summary = Summary {
        crates: [("alpha".to_owned(), c)].into(),
        total: c,
        files: vec![SourceFile {
            path: "alpha/src/<lib>.rs".into(),
            krate: "alpha".into(),
            coverage: c,
        }],
    };
    let page = html_report(&report(1, vec![test("a", 0, 0.0, 0.1)]), Some(&summary));
    assert!(page.contains("<section id=\"coverage\">"));
    assert!(page.contains(
        "<tr class=\"crate\"><td>alpha</td><td class=\"num\">3/4</td><td class=\"num\">75.00%</td>"
    ));
    assert!(page.contains("<tr class=\"file\"><td>alpha/src/&#60;lib&#62;.rs</td>"));
    assert!(page.contains("<tr class=\"total\"><td>TOTAL</td>"));
}
