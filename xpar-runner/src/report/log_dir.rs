//! `--log-dir DIR`: each test's output in a file of its own, for a CI to keep as an
//! artifact or a person to open beside the report.
//!
//! A test's file is `DIR/<binary id>/<name>.log`: the binary id one directory, its name
//! cut at `::` into directories (`my-crate%3A%3Ait/tests/parse/ok.log` for
//! `tests::parse::ok` of `my-crate::it`), and in each piece every byte but ASCII letters,
//! digits, `.`, `_` and `-` written `%XX`, so that any name (a doctest's `src/lib.rs - f
//! (line 5)`) is one path on every platform, and two tests are never one file (the
//! binary id stays whole so that `it::x` of `pkg` and `x` of `pkg::it` differ). It holds every attempt of
//! the test, oldest first, each after a line saying which attempt, its verdict, its time
//! and its worker. Tests that did not run (ignored, not run) have none.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::events::{worker_name, Failure, TestOutcome, TestStatus};
use super::record::RunRecord;
use crate::errors::ReportError;

/// Writes the log of every test of `record` that ran under `dir`.
pub fn write_logs(record: &RunRecord, dir: &Path) -> Result<(), ReportError> {
    for o in &record.outcomes {
        if o.worker.is_none() && o.previous.is_empty() {
            continue;
        }
        write_log(o, &dir.join(log_path(o.binary_id.as_str(), &o.name)))?;
    }
    Ok(())
}

/// Writes the log of `o`, every attempt, to `path`.
pub fn write_log(o: &TestOutcome, path: &Path) -> Result<(), ReportError> {
    let fail = |source| ReportError::LogDir {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, log_text(o)).map_err(fail)
}

/// Where the log of test `name` of binary `binary_id` goes, under the log directory.
pub fn log_path(binary_id: &str, name: &str) -> PathBuf {
    let mut path = PathBuf::new();
    if !binary_id.is_empty() {
        path.push(encode(binary_id));
    }
    let mut pieces: Vec<&str> = name.split("::").collect();
    let last = pieces.pop().unwrap_or_default();
    for piece in pieces {
        path.push(encode(piece));
    }
    path.push(format!("{}.log", encode(last)));
    path
}

/// `piece` with every byte but `[A-Za-z0-9._-]` written `%XX` (and an empty piece, or
/// one of dots only, which a file system reads as a directory of its own, encoded whole).
fn encode(piece: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let all_dots = piece.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(piece.len());
    for b in piece.bytes() {
        if plain(b) && !all_dots {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out
}

/// Every attempt of `o`, oldest first, each after a line saying what it was.
fn log_text(o: &TestOutcome) -> String {
    let attempts: Vec<&TestOutcome> = o.previous.iter().chain(std::iter::once(o)).collect();
    let mut text = String::new();
    for (i, a) in attempts.iter().enumerate() {
        let worker = a.worker.map(worker_name).unwrap_or_else(|| "-".into());
        let name = o.name_after_id();
        let _ = writeln!(
            text,
            "==> {}{name}, attempt {} of {}: {} in {:.3}s on {worker}",
            o.binary_id.as_str(),
            i + 1,
            attempts.len(),
            verdict(&a.status),
            a.duration.as_secs_f64(),
        );
        text.push_str(&a.output);
        if !a.output.is_empty() && !a.output.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

fn verdict(status: &TestStatus) -> String {
    match status {
        TestStatus::Passed => "passed".into(),
        TestStatus::Failed(Failure::Failed) => "failed".into(),
        TestStatus::Failed(Failure::OpaqueExit { status }) => format!("failed: {status}"),
        // The timeout, signal or exit status that ended it.
        TestStatus::Failed(f) => format!("failed: {}", super::stress::category(f, "")),
        TestStatus::Ignored => "ignored".into(),
        TestStatus::NotRun(why) => format!("not run ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use xpar_metadata::BinaryId;

    #[test]
    fn names_become_paths_that_cannot_clash() {
        assert_eq!(
            log_path("my-crate::it", "tests::parse::ok"),
            Path::new("my-crate%3A%3Ait/tests/parse/ok.log")
        );
        // A module of the library and a target of the same name.
        assert_ne!(log_path("pkg", "it::x"), log_path("pkg::it", "x"));
        assert_eq!(
            log_path("lib", "src/lib.rs - f (line 5)"),
            Path::new("lib/src%2Flib.rs%20-%20f%20%28line%205%29.log")
        );
        // A module and a test of the same name, and dots, stay apart.
        assert_ne!(log_path("b", "a::b"), log_path("b", "a::b::c"));
        assert_eq!(log_path("b", "..::x"), Path::new("b/%2E%2E/x.log"));
        assert_eq!(log_path("b", "a::::x"), Path::new("b/a/%/x.log"));
    }

    #[test]
    fn every_attempt_is_in_the_log_and_tests_that_did_not_run_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = TestOutcome::not_started(
            BinaryId::new("c"),
            "t::flaky",
            TestStatus::Failed(Failure::Failed),
        );
        first.worker = Some(1);
        first.output = "boom".into();
        first.duration = Duration::from_millis(5);
        let mut last = first.clone();
        last.status = TestStatus::Passed;
        last.output = "fine\n".into();
        last.previous = vec![first];
        let skipped = TestOutcome::not_started(BinaryId::new("c"), "t::ign", TestStatus::Ignored);
        let record = RunRecord {
            outcomes: vec![last, skipped],
            ..RunRecord::default()
        };
        write_logs(&record, dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("c/t/flaky.log")).unwrap();
        assert_eq!(
            text,
            "==> c t::flaky, attempt 1 of 2: failed in 0.005s on gw1\nboom\n\
             ==> c t::flaky, attempt 2 of 2: passed in 0.005s on gw1\nfine\n"
        );
        assert!(!dir.path().join("c/t/ign.log").exists());
    }
}
