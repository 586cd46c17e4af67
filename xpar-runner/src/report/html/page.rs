//! The HTML report's page: what each section shows, computed from a [`RunReport`] (and,
//! under `--coverage`, the coverage summary), then written by the template
//! `templates/report.html`, which escapes every value it is given.

use std::collections::BTreeMap;

use askama::Template;
use xpar_metadata::{ReportTest, ReportTestStatus, RunReport};

use super::text::{self, count, plural, secs};
use super::timeline::{timeline, Timeline};
use crate::coverage::{Coverage, Summary};

/// How many of the slowest tests the page lists.
const SLOWEST: usize = 20;
/// Failures (and flaky tests) whose output is shown open; the rest are folded.
const OPEN_FAILURES: usize = 10;
/// Past this many bytes of output in all, failures are listed without it: the page must
/// open in a browser whatever the run.
const OUTPUT_BUDGET: usize = 16 * 1024 * 1024;

#[derive(Template)]
#[template(path = "report.html")]
pub(super) struct Page<'a> {
    title: String,
    about: Vec<String>,
    /// `passed`, `failed` or `stopped`: the banner's colour.
    verdict: &'static str,
    headline: String,
    cancel_reason: Option<&'a str>,
    cards: Vec<Card>,
    failures: Vec<Failed<'a>>,
    not_run: Vec<NotRun<'a>>,
    flaky: Vec<Flaky<'a>>,
    slowest: Vec<Slow<'a>>,
    has_cpu: bool,
    has_rss: bool,
    binaries: Vec<BinaryRow>,
    timeline: Option<Timeline>,
    coverage: Option<Vec<CoverageRow>>,
}

struct Card {
    label: &'static str,
    value: String,
    /// A stylesheet class (`bad` for failures, `faint` for a figure that means little)
    /// or empty.
    class: &'static str,
}

struct Failed<'a> {
    test: &'a ReportTest,
    message: &'a str,
    duration: String,
    /// `gw0`, and the shard or machine when there is one.
    place: String,
    open: bool,
    /// `None` when the page's output budget was spent.
    output: Option<String>,
}

struct NotRun<'a> {
    test: &'a ReportTest,
    why: &'a str,
}

struct Flaky<'a> {
    test: &'a ReportTest,
    open: bool,
    duration: String,
    attempts: Vec<Attempt<'a>>,
}

struct Attempt<'a> {
    number: usize,
    message: &'a str,
    duration: String,
    output: String,
}

struct Slow<'a> {
    rank: usize,
    test: &'a ReportTest,
    status: &'static str,
    duration: String,
    worker: &'a str,
    cpu: String,
    rss: String,
    rss_bytes: String,
}

struct BinaryRow {
    id: String,
    tests: usize,
    failed: usize,
    flaky: usize,
    time: String,
    /// Of the run's sum of test times, for the bar.
    share: String,
}

struct CoverageRow {
    name: String,
    /// `crate`, `file` or `total`.
    kind: &'static str,
    lines: String,
    lines_pct: String,
    regions: String,
    regions_pct: String,
    /// The lines' percentage, for the bar's width.
    bar: String,
    /// `good`, `fair` or `poor`.
    grade: &'static str,
}

/// The page of `report`, with the coverage table when `coverage` is given.
pub(super) fn page<'a>(report: &'a RunReport, coverage: Option<&Summary>) -> Page<'a> {
    let ran = |t: &&ReportTest| t.worker.is_some();
    let run_count = report.tests.iter().filter(ran).count();
    let c = &report.counts;
    let verdict = if c.failed > 0 {
        "failed"
    } else if c.not_run > 0 || report.cancelled {
        "stopped"
    } else {
        "passed"
    };
    let headline = match verdict {
        "failed" => format!("{} of {} failed", c.failed, plural(run_count, "test")),
        "stopped" => format!("stopped with {} not run", plural(c.not_run, "test")),
        _ => format!("{} passed", plural(run_count, "test")),
    };
    Page {
        title: format!("cargo xpar: {headline}"),
        about: about(report),
        verdict,
        headline,
        cancel_reason: report.cancel_reason.as_deref(),
        cards: cards(report, run_count),
        failures: failures(report),
        not_run: (report.tests.iter())
            .filter(|t| t.status == ReportTestStatus::NotRun)
            .map(|test| NotRun {
                test,
                why: test.message.as_deref().unwrap_or_default(),
            })
            .collect(),
        flaky: flaky(report),
        has_cpu: report.tests.iter().any(|t| t.cpu_secs.is_some()),
        has_rss: report.tests.iter().any(|t| t.peak_rss_bytes.is_some()),
        slowest: slowest(report),
        binaries: binaries(report),
        timeline: timeline(report),
        coverage: coverage.map(coverage_rows),
    }
}

/// What kind of run it was, under the title.
fn about(report: &RunReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = &report.run_id {
        out.push(format!("run {id}"));
    }
    if !report.shards.is_empty() {
        out.push(format!(
            "merged from {}",
            plural(report.shards.len(), "shard")
        ));
    }
    if !report.machines.is_empty() {
        out.push(format!(
            "shared queue, {}",
            plural(report.machines.len(), "machine")
        ));
    }
    if let Some(p) = &report.partition {
        out.push(format!("shard {}/{} ({})", p.index, p.total, p.kind));
    }
    let dist = serde_json::to_value(&report.dist)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    out.push(format!("--dist {dist}"));
    if let Some(build) = &report.build_id {
        out.push(format!("build {}", &build[..build.len().min(12)]));
    }
    out
}

fn cards(report: &RunReport, run_count: usize) -> Vec<Card> {
    let c = &report.counts;
    let sum: f64 = report.tests.iter().map(|t| t.duration_secs).sum();
    let card = |label, value: String, class| Card {
        label,
        value,
        class,
    };
    let mark = |n: usize, class| if n > 0 { class } else { "" };
    vec![
        card("tests run", count(run_count), ""),
        card("passed", count(c.passed), mark(c.passed, "good")),
        card("failed", count(c.failed), mark(c.failed, "bad")),
        card("flaky", count(c.flaky), mark(c.flaky, "warn")),
        card("ignored", count(c.ignored), ""),
        card("not run", count(c.not_run), mark(c.not_run, "warn")),
        card("filtered out", count(c.filtered_out), ""),
        card("wall time", secs(report.wall_secs), ""),
        card("workers", report.workers.to_string(), ""),
        card("sum of test times", secs(sum), ""),
        card(
            "speedup",
            if report.wall_secs > 0.0 {
                format!("{:.2}x", sum / report.wall_secs)
            } else {
                "-".to_owned()
            },
            // As the terminal's summary says: with a sum under a second (and under the
            // wall time) the time went into starting processes, and the ratio means
            // little.
            if sum >= 1.0 || (sum >= report.wall_secs && sum > 0.0) {
                ""
            } else {
                "faint"
            },
        ),
    ]
}

/// Where a test ran: its worker, and its shard or machine.
fn place(t: &ReportTest) -> String {
    let mut s = t.worker.clone().unwrap_or_else(|| "-".into());
    if let Some(shard) = t.shard {
        s += &format!(", shard {shard}");
    }
    if let Some(m) = &t.machine {
        s += &format!(", {m}");
    }
    s
}

fn failures(report: &RunReport) -> Vec<Failed<'_>> {
    let mut budget = OUTPUT_BUDGET;
    (report.tests.iter())
        .filter(|t| t.status == ReportTestStatus::Failed)
        .enumerate()
        .map(|(i, test)| {
            let output = (budget > 0).then(|| text::output(&test.output));
            if let Some(o) = &output {
                budget = budget.saturating_sub(o.len());
            }
            Failed {
                test,
                message: test.message.as_deref().unwrap_or("failed"),
                duration: secs(test.duration_secs),
                place: place(test),
                open: i < OPEN_FAILURES,
                output,
            }
        })
        .collect()
}

fn flaky(report: &RunReport) -> Vec<Flaky<'_>> {
    (report.tests.iter())
        .filter(|t| t.flaky)
        .enumerate()
        .map(|(i, test)| Flaky {
            test,
            open: i < OPEN_FAILURES,
            duration: secs(test.duration_secs),
            attempts: (test.previous.iter().enumerate())
                .map(|(i, a)| Attempt {
                    number: i + 1,
                    message: &a.message,
                    duration: secs(a.duration_secs),
                    output: text::output(&a.output),
                })
                .collect(),
        })
        .collect()
}

fn slowest(report: &RunReport) -> Vec<Slow<'_>> {
    let mut ran: Vec<&ReportTest> = report.tests.iter().filter(|t| t.worker.is_some()).collect();
    ran.sort_by(|a, b| b.duration_secs.total_cmp(&a.duration_secs));
    (ran.into_iter().take(SLOWEST).enumerate())
        .map(|(i, test)| Slow {
            rank: i + 1,
            test,
            status: match (test.status, test.flaky) {
                (ReportTestStatus::Failed, _) => "failed",
                (_, true) => "flaky",
                _ => "passed",
            },
            duration: secs(test.duration_secs),
            worker: test.worker.as_deref().unwrap_or_default(),
            cpu: test.cpu_secs.map(secs).unwrap_or_default(),
            rss: test.peak_rss_bytes.map(text::bytes).unwrap_or_default(),
            rss_bytes: test
                .peak_rss_bytes
                .map(|b| format!("{b} bytes"))
                .unwrap_or_default(),
        })
        .collect()
}

/// Per binary: tests run, failures, flaky ones and the sum of their times, longest
/// first.
fn binaries(report: &RunReport) -> Vec<BinaryRow> {
    #[derive(Default)]
    struct Sum {
        tests: usize,
        failed: usize,
        flaky: usize,
        secs: f64,
    }
    let mut by_id: BTreeMap<&str, Sum> = BTreeMap::new();
    for t in report.tests.iter().filter(|t| t.worker.is_some()) {
        let s = by_id.entry(t.binary_id.as_str()).or_default();
        s.tests += 1;
        s.failed += usize::from(t.status == ReportTestStatus::Failed);
        s.flaky += usize::from(t.flaky);
        s.secs += t.duration_secs;
    }
    let total: f64 = by_id.values().map(|s| s.secs).sum();
    let mut rows: Vec<(&str, Sum)> = by_id.into_iter().collect();
    rows.sort_by(|a, b| b.1.secs.total_cmp(&a.1.secs).then(a.0.cmp(b.0)));
    rows.into_iter()
        .map(|(id, s)| BinaryRow {
            id: id.to_owned(),
            tests: s.tests,
            failed: s.failed,
            flaky: s.flaky,
            time: secs(s.secs),
            share: format!(
                "{:.1}",
                if total > 0.0 {
                    100.0 * s.secs / total
                } else {
                    0.0
                }
            ),
        })
        .collect()
}

/// Per crate, each crate's files under it, then the total.
fn coverage_rows(s: &Summary) -> Vec<CoverageRow> {
    let mut rows = Vec::new();
    for (name, c) in &s.crates {
        rows.push(coverage_row(name.clone(), "crate", c));
        for f in s.files.iter().filter(|f| &f.krate == name) {
            rows.push(coverage_row(f.path.clone(), "file", &f.coverage));
        }
    }
    rows.push(coverage_row("TOTAL".into(), "total", &s.total));
    rows
}

fn coverage_row(name: String, kind: &'static str, c: &Coverage) -> CoverageRow {
    let lines = c.lines.percent();
    CoverageRow {
        name,
        kind,
        lines: format!("{}/{}", c.lines.covered, c.lines.count),
        lines_pct: format!("{lines:.2}%"),
        regions: format!("{}/{}", c.regions.covered, c.regions.count),
        regions_pct: format!("{:.2}%", c.regions.percent()),
        bar: format!("{lines:.1}"),
        grade: if lines >= 80.0 {
            "good"
        } else if lines >= 50.0 {
            "fair"
        } else {
            "poor"
        },
    }
}
