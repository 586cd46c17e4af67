//! `cargo xpar stress`: every selected test run many times, and per test how often it
//! failed, how long it took (min, median, p95, max), and why it failed, with failures of
//! the same kind grouped under one normalised message.

use std::collections::BTreeMap;
use std::io::Write;

use super::events::{Failure, TestOutcome, TestStatus};

/// How the stress report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StressOutput {
    #[default]
    Table,
    Json,
    Csv,
}

/// What many runs of one test showed: the schema's type, which plain `stress --output
/// json` writes too.
pub use xpar_metadata::StressTest as TestStress;

/// Groups `outcomes` by test, in first-seen order. Tests that did not run are left out.
pub fn summarise(outcomes: &[TestOutcome]) -> Vec<TestStress> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by_test: BTreeMap<(String, String), Vec<&TestOutcome>> = BTreeMap::new();
    for o in outcomes {
        if !matches!(o.status, TestStatus::Passed | TestStatus::Failed(_)) {
            continue;
        }
        let key = (o.binary_id.to_string(), o.name.clone());
        let runs = by_test.entry(key.clone()).or_default();
        if runs.is_empty() {
            order.push(key);
        }
        runs.push(o);
    }
    order
        .into_iter()
        .map(|key| {
            let runs = &by_test[&key];
            let mut secs: Vec<f64> = runs.iter().map(|o| o.duration.as_secs_f64()).collect();
            secs.sort_by(f64::total_cmp);
            let mut categories = BTreeMap::new();
            for o in runs {
                if let TestStatus::Failed(f) = &o.status {
                    *categories.entry(category(f, &o.output)).or_default() += 1;
                }
            }
            let failures: usize = categories.values().sum();
            TestStress {
                binary_id: key.0,
                name: key.1,
                runs: runs.len(),
                failures,
                flake_rate: failures as f64 / runs.len() as f64,
                min_secs: secs[0],
                median_secs: percentile(&secs, 50.0),
                p95_secs: percentile(&secs, 95.0),
                max_secs: secs[secs.len() - 1],
                categories,
            }
        })
        .collect()
}

/// The `p`th percentile of sorted, non-empty `v` by nearest rank: the smallest value
/// with at least `p`% of the values at or below it, `v[ceil(p / 100 * n) - 1]` (always
/// one of the values, never an interpolation between two).
pub(super) fn percentile<T: Copy>(v: &[T], p: f64) -> T {
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// The kind of a failure: the panic message with numbers and addresses blanked out, or
/// the timeout, signal or exit status that ended it.
pub fn category(f: &Failure, output: &str) -> String {
    match f {
        Failure::Failed => {
            let mut lines = output.lines();
            let panic = lines
                .by_ref()
                .find(|l| l.contains("panicked at"))
                .and_then(|_| lines.next());
            match panic {
                Some(msg) => format!("panic: {}", normalise(msg)),
                None => "failed".to_owned(),
            }
        }
        Failure::TimedOut { .. } => "timeout".to_owned(),
        Failure::Interrupted { name, .. } => format!("interrupted by {name}"),
        Failure::Signal { signal, name } => format!("signal {signal} ({name})"),
        Failure::Exited { code } => {
            format!("exit status {}", crate::process::exit_code_text(*code))
        }
        Failure::NoResult { .. } => "no result".to_owned(),
        Failure::BinaryBroken => "binary could not start".to_owned(),
        Failure::CrashedAfter { how, .. } => format!("process {how} after it passed"),
        Failure::OpaqueExit { status } => format!("binary failed with {status}"),
    }
}

/// Digits become `N` and hex addresses `0xX`, so `roll 1234` and `roll 98` are one kind.
fn normalise(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                chars.next();
            }
            out += "0xX";
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

fn categories_text(c: &BTreeMap<String, usize>) -> String {
    c.iter()
        .map(|(k, n)| format!("{n}x {k}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes the report in `format`.
pub fn write_stress(
    tests: &[TestStress],
    format: StressOutput,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        StressOutput::Json => {
            serde_json::to_writer_pretty(&mut *out, tests)?;
            writeln!(out)?;
        }
        StressOutput::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "binary_id",
                "name",
                "runs",
                "failures",
                "flake_rate",
                "min_secs",
                "median_secs",
                "p95_secs",
                "max_secs",
                "categories",
            ])?;
            for t in tests {
                w.write_record([
                    t.binary_id.clone(),
                    t.name.clone(),
                    t.runs.to_string(),
                    t.failures.to_string(),
                    format!("{:.4}", t.flake_rate),
                    format!("{:.6}", t.min_secs),
                    format!("{:.6}", t.median_secs),
                    format!("{:.6}", t.p95_secs),
                    format!("{:.6}", t.max_secs),
                    categories_text(&t.categories),
                ])?;
            }
            w.flush()?;
        }
        StressOutput::Table => {
            let width = tests
                .iter()
                .map(|t| t.binary_id.len() + t.name.len() + 1)
                .max()
                .unwrap_or(4)
                .max(4);
            writeln!(
                out,
                "{:<width$}  {:>5}  {:>5}  {:>7}  {:>9}  {:>9}  {:>9}  {:>9}  failures",
                "test", "runs", "fail", "rate", "min", "median", "p95", "max"
            )?;
            for t in tests {
                writeln!(
                    out,
                    "{:<width$}  {:>5}  {:>5}  {:>6.2}%  {:>8.3}s  {:>8.3}s  {:>8.3}s  {:>8.3}s  {}",
                    format!("{} {}", t.binary_id, t.name),
                    t.runs,
                    t.failures,
                    100.0 * t.flake_rate,
                    t.min_secs,
                    t.median_secs,
                    t.p95_secs,
                    t.max_secs,
                    categories_text(&t.categories)
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;
    use std::time::Duration;

    fn run(name: &str, ms: u64, status: TestStatus, output: &str) -> TestOutcome {
        TestOutcome {
            binary_id: crate::discover::binary_id("a", BinaryKind::Lib, "a"),
            name: name.into(),
            status,
            duration: Duration::from_millis(ms),
            output: output.into(),
            worker: Some(0),
            started: None,
            previous: Vec::new(),
            attempt: xpar_metadata::Attempt::FIRST,
            resources: None,
        }
    }

    #[test]
    fn rates_percentiles_and_grouped_failures() {
        let panic = |n: u32| {
            format!("\nthread 't' (4242) panicked at src/lib.rs:{n}:9:\nunlucky roll {n}{n}\n")
        };
        let mut outcomes: Vec<TestOutcome> = (1..=18)
            .map(|ms| run("t", ms, TestStatus::Passed, ""))
            .collect();
        outcomes.push(run("t", 19, TestStatus::Failed(Failure::Failed), &panic(7)));
        outcomes.push(run(
            "t",
            20,
            TestStatus::Failed(Failure::Failed),
            &panic(81),
        ));
        outcomes.push(run(
            "t",
            1,
            TestStatus::Failed(Failure::TimedOut {
                after: Duration::from_secs(1),
                run: false,
            }),
            "",
        ));
        outcomes.push(run("s", 5, TestStatus::Passed, ""));
        outcomes.push(run("s", 5, TestStatus::NotRun("stopped".into()), ""));
        let s = summarise(&outcomes);
        assert_eq!(s.len(), 2);
        let t = &s[0];
        assert_eq!((t.runs, t.failures), (21, 3));
        assert!((t.flake_rate - 3.0 / 21.0).abs() < 1e-9);
        assert_eq!(t.min_secs, 0.001);
        assert_eq!(t.median_secs, 0.010);
        assert_eq!(t.p95_secs, 0.019);
        assert_eq!(
            t.categories,
            BTreeMap::from([("panic: unlucky roll N".into(), 2), ("timeout".into(), 1)])
        );
        assert_eq!((s[1].runs, s[1].failures, s[1].flake_rate), (1, 0, 0.0));
    }

    #[test]
    fn normalising_blanks_numbers_and_addresses() {
        assert_eq!(
            normalise("left: 12, right: 0x7ffd3a"),
            "left: N, right: 0xX"
        );
        assert_eq!(
            category(
                &Failure::Signal {
                    signal: 11,
                    name: "SIGSEGV".into()
                },
                ""
            ),
            "signal 11 (SIGSEGV)"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let s = summarise(&[run(
            "t",
            1,
            TestStatus::Failed(Failure::Failed),
            "thread 't' panicked at x:\nbad, \"quoted\"\n",
        )]);
        let mut out = Vec::new();
        write_stress(&s, StressOutput::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#""1x panic: bad, ""quoted""""#), "{text}");
    }
}
