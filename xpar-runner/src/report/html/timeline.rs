//! The report's timeline: one lane per worker (grouped per shard after a merge, per
//! machine in a queue's report), each test a bar placed by its start and duration,
//! coloured by how it ended. Pure geometry from the [`RunReport`]; the template draws it
//! as inline SVG.
//!
//! A run of 20,000 tests of a few microseconds each would be 20,000 bars, most narrower
//! than a pixel. Consecutive tests of one lane that end the same way and are narrower than
//! [`MIN_WIDTH`] share one bar, at most [`GROUP_WIDTH`] wide, whose tooltip says how many
//! tests it holds; a failed test always has a bar of its own.

use std::collections::BTreeMap;
use std::fmt;

use xpar_metadata::{ReportTest, ReportTestStatus, RunReport};

use super::text::{plural, secs};

/// The drawing's width in SVG units; the page scales it to the window.
const WIDTH: f64 = 1200.0;
/// Left of the bars: the lanes' names.
const LABELS: f64 = 64.0;
const RIGHT: f64 = 12.0;
const AXIS: f64 = 22.0;
const LANE: f64 = 20.0;
const GROUP_HEAD: f64 = 20.0;
/// Narrower tests share a bar.
const MIN_WIDTH: f64 = 1.0;
/// The widest a shared bar grows before the next one starts.
const GROUP_WIDTH: f64 = 3.0;
/// A failed test is never narrower than this, so it can be seen and pointed at.
const FAILED_WIDTH: f64 = 2.0;

/// A coordinate, written with one decimal.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub(super) struct Px(pub f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

pub(super) struct Timeline {
    pub width: Px,
    pub height: Px,
    /// Where the bars start and end.
    pub left: Px,
    pub chart_width: Px,
    pub ticks: Vec<Tick>,
    pub groups: Vec<Group>,
    /// How many tests share a bar with others, and in how many bars.
    pub shared: usize,
    pub shared_bars: usize,
}

impl Timeline {
    /// What the legend says of the tests that share bars.
    pub fn shared_text(&self) -> String {
        format!(
            "{} narrower than a pixel are drawn together in {}",
            plural(self.shared, "test"),
            plural(self.shared_bars, "bar")
        )
    }
}

pub(super) struct Tick {
    pub x: Px,
    pub label: String,
}

/// The lanes of one shard or machine, or all of them when the run had one.
pub(super) struct Group {
    /// `None` for a run's only group.
    pub label: Option<String>,
    /// The baseline of its label.
    pub text_y: Px,
    pub lanes: Vec<Lane>,
}

pub(super) struct Lane {
    pub worker: String,
    pub y: Px,
    pub height: Px,
    /// Middle of the lane, for its label.
    pub text_y: Px,
    pub bars: Vec<Bar>,
}

pub(super) struct Bar {
    pub x: Px,
    pub y: Px,
    pub width: Px,
    pub height: Px,
    /// `pass`, `fail` or `flaky`: the stylesheet's colours.
    pub class: &'static str,
    pub title: String,
}

/// The timeline of `report`, or `None` when no test ran.
pub(super) fn timeline(report: &RunReport) -> Option<Timeline> {
    let ran: Vec<&ReportTest> = report
        .tests
        .iter()
        .filter(|t| t.worker.is_some() && t.start_secs.is_some())
        .collect();
    if ran.is_empty() {
        return None;
    }
    let span = ran
        .iter()
        .map(|t| t.start_secs.unwrap_or(0.0) + t.duration_secs)
        .chain(std::iter::once(report.wall_secs))
        .chain(report.shards.iter().map(|s| s.wall_secs))
        .fold(0.0_f64, f64::max)
        .max(1e-6);
    let scale = Scale {
        left: LABELS,
        width: WIDTH - LABELS - RIGHT,
        span,
    };
    let mut by_worker: BTreeMap<&str, Vec<&ReportTest>> = BTreeMap::new();
    for t in &ran {
        by_worker
            .entry(t.worker.as_deref().unwrap_or_default())
            .or_default()
            .push(t);
    }
    let mut y = AXIS;
    let mut groups = Vec::new();
    let (mut shared, mut shared_bars) = (0, 0);
    for (label, workers) in lane_groups(report, &by_worker) {
        let group_y = y;
        if label.is_some() {
            y += GROUP_HEAD;
        }
        let mut lanes = Vec::new();
        for worker in workers {
            let tests = by_worker.remove(worker.as_str()).unwrap_or_default();
            let (lane_bars, (tests, bars)) = lane_bars(tests, &scale, y);
            shared += tests;
            shared_bars += bars;
            lanes.push(Lane {
                text_y: Px(y + LANE / 2.0 + 4.0),
                height: Px(LANE - 1.0),
                worker,
                y: Px(y),
                bars: lane_bars,
            });
            y += LANE;
        }
        groups.push(Group {
            label,
            text_y: Px(group_y + GROUP_HEAD - 6.0),
            lanes,
        });
    }
    Some(Timeline {
        width: Px(WIDTH),
        height: Px(y + 4.0),
        left: Px(LABELS),
        chart_width: Px(WIDTH - LABELS - RIGHT),
        ticks: ticks(&scale),
        groups,
        shared,
        shared_bars,
    })
}

/// Seconds to x.
struct Scale {
    left: f64,
    width: f64,
    span: f64,
}

impl Scale {
    fn x(&self, secs: f64) -> f64 {
        self.left + self.width * (secs / self.span)
    }
}

/// The lanes, in groups: per shard after a merge, per machine in a queue's report, else
/// one group. Workers the groups do not name (a report written by hand) get a group of
/// their own at the end.
fn lane_groups(
    report: &RunReport,
    seen: &BTreeMap<&str, Vec<&ReportTest>>,
) -> Vec<(Option<String>, Vec<String>)> {
    let names = |first: usize, n: usize| (first..first + n).map(|i| format!("gw{i}")).collect();
    let mut groups: Vec<(Option<String>, Vec<String>)> = if !report.shards.is_empty() {
        (report.shards.iter())
            .map(|s| {
                let run = s.run_id.as_deref().map(|r| format!(", run {r}"));
                let label = format!(
                    "shard {}: {}, {}{}",
                    s.index,
                    plural(s.workers, "worker"),
                    secs(s.wall_secs),
                    run.unwrap_or_default()
                );
                (Some(label), names(s.first_worker, s.workers))
            })
            .collect()
    } else if !report.machines.is_empty() {
        (report.machines.iter())
            .map(|m| {
                let label = format!("{}: {}", m.name, plural(m.workers, "worker"));
                (Some(label), names(m.first_worker, m.workers))
            })
            .collect()
    } else {
        vec![(None, names(0, report.workers))]
    };
    let named: std::collections::HashSet<String> =
        groups.iter().flat_map(|(_, w)| w.iter().cloned()).collect();
    let mut others: Vec<String> = (seen.keys())
        .filter(|w| !named.contains(**w))
        .map(|w| (*w).to_owned())
        .collect();
    if !others.is_empty() {
        // gw2 before gw10.
        others.sort_by_key(|w| (w.len(), w.clone()));
        let label = (groups.len() > 1 || groups[0].0.is_some()).then(|| "other workers".into());
        match label {
            Some(_) => groups.push((label, others)),
            None => groups[0].1.extend(others),
        }
    }
    groups
}

/// One lane's bars, how many of its tests share one, and in how many bars.
fn lane_bars(mut tests: Vec<&ReportTest>, scale: &Scale, y: f64) -> (Vec<Bar>, (usize, usize)) {
    tests.sort_by(|a, b| {
        a.start_secs
            .unwrap_or(0.0)
            .total_cmp(&b.start_secs.unwrap_or(0.0))
    });
    let mut bars = Vec::new();
    let mut shared = (0, 0);
    let mut run: Option<Shared> = None;
    for t in tests {
        let start = scale.x(t.start_secs.unwrap_or(0.0));
        let end = scale.x(t.start_secs.unwrap_or(0.0) + t.duration_secs);
        let class = class_of(t);
        let narrow = end - start < MIN_WIDTH && class != "fail";
        if let Some(r) = &mut run {
            if narrow
                && r.class == class
                && end - r.start <= GROUP_WIDTH
                && start - r.end < MIN_WIDTH
            {
                r.add(t, end);
                continue;
            }
        }
        if let Some(r) = run.take() {
            r.flush(&mut bars, y, &mut shared);
        }
        if narrow {
            run = Some(Shared::new(t, start, end, class));
        } else {
            let min = if class == "fail" {
                FAILED_WIDTH
            } else {
                MIN_WIDTH
            };
            bars.push(bar(start, (end - start).max(min), y, class, title_of(t)));
        }
    }
    if let Some(r) = run.take() {
        r.flush(&mut bars, y, &mut shared);
    }
    (bars, shared)
}

fn bar(x: f64, width: f64, y: f64, class: &'static str, title: String) -> Bar {
    Bar {
        x: Px(x),
        y: Px(y + 3.0),
        width: Px(width),
        height: Px(LANE - 6.0),
        class,
        title,
    }
}

/// Narrow tests that share a bar.
struct Shared<'a> {
    first: &'a ReportTest,
    last: &'a ReportTest,
    count: usize,
    secs: f64,
    start: f64,
    end: f64,
    class: &'static str,
}

impl<'a> Shared<'a> {
    fn new(t: &'a ReportTest, start: f64, end: f64, class: &'static str) -> Self {
        Shared {
            first: t,
            last: t,
            count: 1,
            secs: t.duration_secs,
            start,
            end,
            class,
        }
    }

    fn add(&mut self, t: &'a ReportTest, end: f64) {
        self.last = t;
        self.count += 1;
        self.secs += t.duration_secs;
        self.end = self.end.max(end);
    }

    /// Pushes its bar, counting the tests and bars that share one in `shared`.
    fn flush(self, bars: &mut Vec<Bar>, y: f64, shared: &mut (usize, usize)) {
        let width = (self.end - self.start).max(MIN_WIDTH);
        if self.count == 1 {
            bars.push(bar(self.start, width, y, self.class, title_of(self.first)));
            return;
        }
        let title = format!(
            "{} tests, {} in all ({}): {} {} ... {} {}",
            self.count,
            secs(self.secs),
            self.class_word(),
            self.first.binary_id,
            self.first.name,
            self.last.binary_id,
            self.last.name
        );
        bars.push(bar(self.start, width, y, self.class, title));
        shared.0 += self.count;
        shared.1 += 1;
    }

    fn class_word(&self) -> &'static str {
        match self.class {
            "flaky" => "flaky",
            _ => "passed",
        }
    }
}

fn class_of(t: &ReportTest) -> &'static str {
    match t.status {
        ReportTestStatus::Failed => "fail",
        _ if t.flaky => "flaky",
        _ => "pass",
    }
}

/// The tooltip of a test's bar: binary id, name, duration, how it ended, where.
fn title_of(t: &ReportTest) -> String {
    let how = match (t.status, t.flaky) {
        (ReportTestStatus::Failed, _) => "failed",
        (_, true) => "flaky",
        _ => "passed",
    };
    format!(
        "{} {}\n{} ({how}) on {}, from {}",
        t.binary_id,
        t.name,
        secs(t.duration_secs),
        t.worker.as_deref().unwrap_or("?"),
        secs(t.start_secs.unwrap_or(0.0))
    )
}

/// About eight ticks at a round step (1, 2 or 5 times a power of ten).
fn ticks(scale: &Scale) -> Vec<Tick> {
    let raw = scale.span / 8.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    let mut out = Vec::new();
    let mut i = 0u32;
    loop {
        let at = f64::from(i) * step;
        if at > scale.span * 1.0001 {
            break;
        }
        out.push(Tick {
            x: Px(scale.x(at)),
            label: format!("{at:.decimals$}s"),
        });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{report, test};
    use super::*;
    use xpar_metadata::{ReportMachine, ReportShard};

    fn lanes(t: &Timeline) -> Vec<(Option<&str>, Vec<&str>)> {
        (t.groups.iter())
            .map(|g| {
                let w = g.lanes.iter().map(|l| l.worker.as_str()).collect();
                (g.label.as_deref(), w)
            })
            .collect()
    }

    #[test]
    fn a_lane_per_worker_and_a_bar_per_test_placed_by_time() {
        let r = report(
            3,
            vec![
                test("a", 0, 0.0, 0.5),
                test("b", 1, 0.5, 0.5),
                test("c", 0, 0.5, 0.25),
            ],
        );
        let t = timeline(&r).unwrap();
        assert_eq!(lanes(&t), [(None, vec!["gw0", "gw1", "gw2"])]);
        let gw0 = &t.groups[0].lanes[0].bars;
        assert_eq!(gw0.len(), 2);
        let half = (WIDTH - LABELS - RIGHT) / 2.0;
        assert_eq!(gw0[0].x, Px(LABELS));
        assert!((gw0[0].width.0 - half).abs() < 1e-9);
        assert!((gw0[1].x.0 - (LABELS + half)).abs() < 1e-9);
        assert!(
            gw0[0].title.contains("alpha a\n0.500s (passed) on gw0"),
            "{}",
            gw0[0].title
        );
        assert!(t.groups[0].lanes[2].bars.is_empty());
        assert_eq!((t.shared, t.shared_bars), (0, 0));
        let labels: Vec<&str> = t.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels.first(), Some(&"0.0s"));
        assert_eq!(labels.last(), Some(&"1.0s"));
    }

    #[test]
    fn lanes_are_grouped_per_shard_and_per_machine() {
        let mut r = report(3, vec![test("a", 2, 0.0, 0.1)]);
        let shard = |index, first_worker, workers| ReportShard {
            index,
            run_id: Some(format!("run-{index}")),
            first_worker,
            workers,
            wall_secs: 0.5,
        };
        r.shards = vec![shard(1, 0, 1), shard(2, 1, 2)];
        let t = timeline(&r).unwrap();
        assert_eq!(
            lanes(&t),
            [
                (Some("shard 1: 1 worker, 0.500s, run run-1"), vec!["gw0"]),
                (
                    Some("shard 2: 2 workers, 0.500s, run run-2"),
                    vec!["gw1", "gw2"]
                ),
            ]
        );
        assert_eq!(t.groups[1].lanes[1].bars.len(), 1);

        let mut r = report(3, vec![test("a", 0, 0.0, 0.1), test("b", 12, 0.0, 0.1)]);
        let machine = |name: &str, first_worker, workers| ReportMachine {
            name: name.into(),
            first_worker,
            workers,
        };
        r.machines = vec![machine("m-a", 0, 2), machine("m-b", 2, 1)];
        let t = timeline(&r).unwrap();
        assert_eq!(
            lanes(&t),
            [
                (Some("m-a: 2 workers"), vec!["gw0", "gw1"]),
                (Some("m-b: 1 worker"), vec!["gw2"]),
                (Some("other workers"), vec!["gw12"]),
            ]
        );
    }

    #[test]
    fn narrow_tests_share_bars_and_failures_stand_alone() {
        // 1,000 tests of a microsecond each on one worker in a second: one pixel holds
        // hundreds.
        let mut tests: Vec<ReportTest> = (0..1000)
            .map(|i| test(&format!("t{i}"), 0, f64::from(i) * 0.000_001, 0.000_001))
            .collect();
        tests[500].status = ReportTestStatus::Failed;
        let t = timeline(&report(1, tests)).unwrap();
        let bars = &t.groups[0].lanes[0].bars;
        assert_eq!(bars.len(), 3, "before, the failure, after");
        assert_eq!((t.shared, t.shared_bars), (999, 2));
        assert_eq!(
            t.shared_text(),
            "999 tests narrower than a pixel are drawn together in 2 bars"
        );
        assert_eq!(bars[1].class, "fail");
        assert_eq!(bars[1].width, Px(FAILED_WIDTH));
        assert!(
            bars[1].title.starts_with("alpha t500\n"),
            "{}",
            bars[1].title
        );
        assert!(
            bars[0]
                .title
                .starts_with("500 tests, 0.001s in all (passed): alpha t0 ... alpha t499"),
            "{}",
            bars[0].title
        );
    }

    #[test]
    fn no_timeline_when_nothing_ran() {
        let mut t = test("a", 0, 0.0, 0.0);
        t.worker = None;
        t.start_secs = None;
        t.status = ReportTestStatus::NotRun;
        assert!(timeline(&report(2, vec![t])).is_none());
    }
}
