//! `cargo xpar history`'s answers written out: an aligned table for people, JSON (an
//! array of objects, the fields of `query`'s rows) and CSV for tools.

use std::io::Write;

use super::query::{FlakyTest, RunSummary, SlowTest, TestResult};

/// How the answer is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HistoryFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// One of the answers `cargo xpar history` gives.
#[derive(Clone, Debug, PartialEq)]
pub enum HistoryView {
    Runs(Vec<RunSummary>),
    Flaky(Vec<FlakyTest>),
    Slowest(Vec<SlowTest>),
    Test(Vec<TestResult>),
}

/// A column: its header, and whether a table aligns it right (numbers).
type Column = (&'static str, bool);

/// Writes `view` in `format`.
pub fn write_history(
    view: &HistoryView,
    format: HistoryFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if format == HistoryFormat::Json {
        match view {
            HistoryView::Runs(r) => serde_json::to_writer_pretty(&mut *out, r),
            HistoryView::Flaky(r) => serde_json::to_writer_pretty(&mut *out, r),
            HistoryView::Slowest(r) => serde_json::to_writer_pretty(&mut *out, r),
            HistoryView::Test(r) => serde_json::to_writer_pretty(&mut *out, r),
        }?;
        return writeln!(out);
    }
    let raw = format == HistoryFormat::Csv;
    let (columns, rows) = cells(view, raw);
    if raw {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(columns.iter().map(|(h, _)| h.replace(' ', "_")))?;
        for row in rows {
            w.write_record(row)?;
        }
        return w.flush();
    }
    table(&columns, &rows, out)
}

/// The columns of `view` and its rows as text: numbers in full for tools (`raw`), or
/// rounded with units for a table.
fn cells(view: &HistoryView, raw: bool) -> (Vec<Column>, Vec<Vec<String>>) {
    let secs = |s: f64| {
        if raw {
            format!("{s:.6}")
        } else {
            format!("{s:.3}s")
        }
    };
    let opt_secs = |s: Option<f64>| s.map(secs).unwrap_or_default();
    // A test is one column in a table (`BINARY-ID NAME`, as the run shows it), two for
    // tools.
    let test_columns: &[Column] = if raw {
        &[("binary id", false), ("name", false)]
    } else {
        &[("test", false)]
    };
    let test = |b: &str, n: &str| {
        if raw {
            vec![b.to_owned(), n.to_owned()]
        } else {
            vec![format!("{b} {n}")]
        }
    };
    let with_test = |before: &[Column], after: &[Column]| -> Vec<Column> {
        before
            .iter()
            .chain(test_columns)
            .chain(after)
            .copied()
            .collect()
    };
    match view {
        HistoryView::Runs(runs) => (
            vec![
                ("run", false),
                ("started", false),
                ("commit", false),
                ("wall", true),
                ("workers", true),
                ("passed", true),
                ("flaky", true),
                ("failed", true),
                ("ignored", true),
                ("not run", true),
            ],
            runs.iter()
                .map(|r| {
                    vec![
                        r.run_id.clone(),
                        r.started.clone(),
                        commit(r.commit.as_deref(), raw),
                        secs(r.wall_secs),
                        r.workers.to_string(),
                        r.passed.to_string(),
                        r.flaky.to_string(),
                        r.failed.to_string(),
                        r.ignored.to_string(),
                        r.not_run.to_string(),
                    ]
                })
                .collect(),
        ),
        HistoryView::Flaky(tests) => (
            with_test(
                &[],
                &[
                    ("runs", true),
                    ("failures", true),
                    ("on retry", true),
                    ("rate", true),
                    ("last failed", false),
                ],
            ),
            tests
                .iter()
                .map(|t| {
                    let mut row = test(&t.binary_id, &t.name);
                    row.extend([
                        t.runs.to_string(),
                        t.failures.to_string(),
                        t.flaky.to_string(),
                        if raw {
                            format!("{:.4}", t.failure_rate)
                        } else {
                            format!("{:.1}%", 100.0 * t.failure_rate)
                        },
                        t.last_failed.clone(),
                    ]);
                    row
                })
                .collect(),
        ),
        HistoryView::Slowest(tests) => (
            with_test(
                &[],
                &[
                    ("runs", true),
                    ("median", true),
                    ("older", true),
                    ("recent", true),
                    ("change", true),
                    ("trend", false),
                ],
            ),
            tests
                .iter()
                .map(|t| {
                    let change = t.change.map(|c| {
                        if raw {
                            format!("{c:.4}")
                        } else {
                            format!("{:+.0}%", 100.0 * c)
                        }
                    });
                    let mut row = test(&t.binary_id, &t.name);
                    row.extend([
                        t.runs.to_string(),
                        secs(t.median_secs),
                        opt_secs(t.older_median_secs),
                        opt_secs(t.recent_median_secs),
                        change.unwrap_or_default(),
                        if t.slower { "slower" } else { "" }.to_owned(),
                    ]);
                    row
                })
                .collect(),
        ),
        HistoryView::Test(results) => (
            with_test(
                &[("run", false), ("started", false), ("commit", false)],
                &[
                    ("status", false),
                    ("duration", true),
                    ("attempts", true),
                    ("worker", false),
                ],
            ),
            results
                .iter()
                .map(|r| {
                    let mut row = vec![
                        r.run_id.clone(),
                        r.started.clone(),
                        commit(r.commit.as_deref(), raw),
                    ];
                    row.extend(test(&r.binary_id, &r.name));
                    row.extend([
                        r.status.clone(),
                        secs(r.duration_secs),
                        r.attempts.to_string(),
                        r.worker.clone().unwrap_or_default(),
                    ]);
                    row
                })
                .collect(),
        ),
    }
}

/// A commit in full for tools, its first 12 digits in a table (as `git log --oneline`
/// abbreviates, with room to spare).
fn commit(c: Option<&str>, raw: bool) -> String {
    match c {
        Some(c) if !raw => c.chars().take(12).collect(),
        Some(c) => c.to_owned(),
        None => String::new(),
    }
}

fn table(columns: &[Column], rows: &[Vec<String>], out: &mut dyn Write) -> std::io::Result<()> {
    let mut widths: Vec<usize> = columns.iter().map(|(h, _)| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut dyn Write| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let w = widths[i];
            if columns[i].1 {
                text.push_str(&format!("{cell:>w$}"));
            } else {
                text.push_str(&format!("{cell:<w$}"));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(&mut columns.iter().map(|(h, _)| *h), out)?;
    for row in rows {
        line(&mut row.iter().map(String::as_str), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flaky() -> HistoryView {
        HistoryView::Flaky(vec![FlakyTest {
            binary_id: "app".into(),
            name: "tests::flips".into(),
            runs: 8,
            failures: 3,
            flaky: 1,
            failure_rate: 0.375,
            last_failed: "20261201T050000Z-42".into(),
        }])
    }

    fn written(view: &HistoryView, format: HistoryFormat) -> String {
        let mut out = Vec::new();
        write_history(view, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_table_aligns_its_columns() {
        assert_eq!(
            written(&flaky(), HistoryFormat::Table),
            "test              runs  failures  on retry   rate  last failed\n\
             app tests::flips     8         3         1  37.5%  20261201T050000Z-42\n"
        );
    }

    #[test]
    fn tools_get_every_field_unrounded() {
        assert_eq!(
            written(&flaky(), HistoryFormat::Csv),
            "binary_id,name,runs,failures,on_retry,rate,last_failed\n\
             app,tests::flips,8,3,1,0.3750,20261201T050000Z-42\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&written(&flaky(), HistoryFormat::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "binary-id": "app",
                "name": "tests::flips",
                "runs": 8,
                "failures": 3,
                "flaky": 1,
                "failure-rate": 0.375,
                "last-failed": "20261201T050000Z-42",
            }])
        );
    }

    #[test]
    fn a_commit_is_shortened_in_a_table_only() {
        let run = HistoryView::Runs(vec![RunSummary {
            run_id: "r".into(),
            started: "2026-12-01T05:00:00Z".into(),
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            wall_secs: 1.25,
            workers: 2,
            passed: 5,
            flaky: 0,
            failed: 1,
            ignored: 0,
            not_run: 0,
        }]);
        let table = written(&run, HistoryFormat::Table);
        assert!(table.contains(" 0123456789ab "), "{table}");
        assert!(!table.contains("0123456789abc"), "{table}");
        let csv = written(&run, HistoryFormat::Csv);
        assert!(
            csv.contains(",0123456789abcdef0123456789abcdef01234567,"),
            "{csv}"
        );
    }
}
