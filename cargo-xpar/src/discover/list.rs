//! Lists the tests of each binary (`--list --format terse`, and again with `--ignored`),
//! all binaries at once. A binary whose answer is not libtest's becomes one opaque test.

use std::collections::HashSet;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use thiserror::Error;

use super::binary::TestBinary;
use crate::process::{describe_status, tail, ProcessBuilder};

/// One test as its binary lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedTest {
    pub name: String,
    pub ignored: bool,
}

/// What listing a binary found.
#[derive(Clone, Debug)]
pub enum BinaryContent {
    /// libtest answered: these are its tests, in its order.
    Tests(Vec<ListedTest>),
    /// The binary does not speak libtest's list protocol (a `harness = false` target that
    /// ignores `--list`): it runs as one test, its verdict its exit status.
    Opaque { reason: String },
}

#[derive(Clone, Debug)]
pub struct ListedBinary {
    pub binary: TestBinary,
    pub content: BinaryContent,
}

/// Every binary of the build with what it contains, in build order.
#[derive(Clone, Debug, Default)]
pub struct TestList {
    pub binaries: Vec<ListedBinary>,
}

/// A line of `--list --format terse` output that is not `NAME: test` / `NAME: benchmark`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line_no} of the list output is not `NAME: test`: {line:?}")]
pub struct ListParseError {
    pub line_no: usize,
    pub line: String,
}

/// The test names in libtest's terse list output. Benchmarks are left out, as nextest does:
/// they are for `cargo bench`.
pub fn parse_terse_list(output: &str) -> Result<Vec<String>, ListParseError> {
    let mut names = Vec::new();
    for (i, line) in output.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_suffix(": test") {
            names.push(name.to_owned());
        } else if line.ends_with(": benchmark") {
            continue;
        } else {
            return Err(ListParseError {
                line_no: i + 1,
                line: line.to_owned(),
            });
        }
    }
    Ok(names)
}

/// Lists every binary, `jobs` processes at a time.
pub fn list_all(binaries: Vec<TestBinary>, jobs: usize) -> TestList {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<BinaryContent>>> = Mutex::new(vec![None; binaries.len()]);
    let threads = jobs.clamp(1, binaries.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(binary) = binaries.get(i) else {
                    break;
                };
                let content = list_binary(binary);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(content);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    TestList {
        binaries: binaries
            .into_iter()
            .zip(results)
            .map(|(binary, content)| ListedBinary {
                binary,
                content: content.unwrap_or(BinaryContent::Opaque {
                    reason: "listing it did not finish".into(),
                }),
            })
            .collect(),
    }
}

fn list_binary(binary: &TestBinary) -> BinaryContent {
    let all = match run_list(binary, false) {
        Ok(names) => names,
        Err(reason) => return BinaryContent::Opaque { reason },
    };
    let ignored: HashSet<String> = match run_list(binary, true) {
        Ok(names) => names.into_iter().collect(),
        Err(reason) => return BinaryContent::Opaque { reason },
    };
    BinaryContent::Tests(
        all.into_iter()
            .map(|name| ListedTest {
                ignored: ignored.contains(&name),
                name,
            })
            .collect(),
    )
}

fn run_list(binary: &TestBinary, ignored: bool) -> Result<Vec<String>, String> {
    let mut p = ProcessBuilder::new(&binary.path);
    p.args(["--list", "--format", "terse"]).cwd(&binary.cwd);
    if ignored {
        p.arg("--ignored");
    }
    for (k, v) in &binary.env {
        p.env(k, v);
    }
    let out: Output = p
        .command()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{p} could not be run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{p} failed with {}:\n{}",
            describe_status(out.status),
            tail(&format!("{stdout}{stderr}"), 10)
        ));
    }
    parse_terse_list(&stdout).map_err(|e| format!("{p} printed no libtest list: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_terse_output() {
        let out = "tests::a: test\ntests::b::c: test\nbench_x: benchmark\n";
        assert_eq!(parse_terse_list(out).unwrap(), ["tests::a", "tests::b::c"]);
    }

    #[test]
    fn empty_output_is_no_tests() {
        assert_eq!(parse_terse_list("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn names_with_colons_and_spaces_survive() {
        let out = "a::b: c: test\n";
        assert_eq!(parse_terse_list(out).unwrap(), ["a::b: c"]);
    }

    #[test]
    fn foreign_output_is_an_error() {
        let err = parse_terse_list("tests::a: test\nrunning my own harness\n").unwrap_err();
        assert_eq!(
            err,
            ListParseError {
                line_no: 2,
                line: "running my own harness".into()
            }
        );
        insta::assert_snapshot!(err.to_string(), @r#"line 2 of the list output is not `NAME: test`: "running my own harness""#);
    }

    #[test]
    fn summary_line_of_pretty_format_is_refused() {
        // Without `--format terse` libtest adds "N tests, M benchmarks": not our format.
        assert!(parse_terse_list("a: test\n\n1 test, 0 benchmarks\n").is_err());
    }
}
