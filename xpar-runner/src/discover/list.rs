//! Lists the tests of each binary, all binaries at once: libtest's JSON listing
//! (`-Z unstable-options --format json --list`, which gives names, `#[ignore]` and source
//! files in one process), else the stable terse listing run twice (`--list --format
//! terse`, and again with `--ignored`). A binary whose answer is neither becomes one
//! opaque test.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use thiserror::Error;

use xpar_protocol::{MarkerReport, Serial, TestMarkers};

use super::binary::TestBinary;
use super::list_cache;
use crate::errors::ListError;
use crate::process::{describe_status, tail, ProcessBuilder};

/// One test as its binary lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListedTest {
    pub name: String,
    pub ignored: bool,
    /// The source file that defines it, relative to the workspace root, when libtest's
    /// JSON listing gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    /// The markers the harness reported for it (none for a binary without the harness).
    #[serde(skip)]
    pub markers: Markers,
}

/// What `xpar-harness` markers say about a test, as far as scheduling is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Markers {
    /// `#[serial]` or `#[serial(keys)]`.
    pub serial: Serial,
    /// `#[parallel_safe]`.
    pub parallel_safe: bool,
    /// `#[resource_intensive(slots = N)]`: the worker slots it occupies.
    pub resource_slots: Option<u32>,
    /// `#[group("name")]`: every test of the group runs on one worker.
    pub group: Option<String>,
    /// A time limit of its own instead of `--timeout` (a config file's override).
    pub timeout: Option<std::time::Duration>,
    /// Retries of its own instead of `--retries` (a config file's override).
    pub retries: Option<usize>,
}

impl Markers {
    fn from_report(m: TestMarkers) -> Self {
        Markers {
            serial: m.serial,
            parallel_safe: m.parallel_safe,
            resource_slots: m.resource_slots,
            group: m.group,
            ..Markers::default()
        }
    }

    /// Whether the test carries any marker `-m` selects by (its own time limit and
    /// retries are not such markers).
    pub fn is_marked(&self) -> bool {
        self.serial != Serial::No
            || self.parallel_safe
            || self.resource_slots.is_some()
            || self.group.is_some()
    }
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
    pub harness: Harness,
}

#[cfg(test)]
impl ListedBinary {
    /// A library binary named `id` holding `tests`, for tests that need a list and no
    /// process.
    pub(crate) fn fake_lib(id: &str, tests: Vec<ListedTest>) -> ListedBinary {
        use super::binary::{binary_id, BinaryKind};
        ListedBinary {
            binary: TestBinary {
                id: binary_id(id, BinaryKind::Lib, id),
                package: id.to_owned(),
                kind: BinaryKind::Lib,
                path: id.into(),
                cwd: ".".into(),
                args: Vec::new(),
                timeout: None,
                env: vec![],
                no_listing: None,
                repeated: Vec::new(),
                runner: Vec::new(),
            },
            harness: Harness::Libtest,
            content: BinaryContent::Tests(tests),
        }
    }
}

/// How a binary's tests are run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Harness {
    /// libtest: batches of tests in one process, reporting JSON events.
    #[default]
    Libtest,
    /// A harness that lists as libtest does but has no JSON events (libtest-mimic, a
    /// libtest too old for them): one test per process with the stable arguments only,
    /// its verdict from the summary line all of them print.
    Stable,
}

/// Every binary of the build with what it contains, in build order.
#[derive(Clone, Debug, Default)]
pub struct TestList {
    pub binaries: Vec<ListedBinary>,
}

/// A line of list output that libtest would not print (`NAME: test` in the terse form, an
/// event in the JSON form), or a JSON listing cut short.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("line {line_no} of the list output is not libtest's: {line:?}")]
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

/// Lists every binary, `jobs` processes at a time. Fails only when a binary's harness
/// reports markers this runner cannot read (a version mismatch): scheduling it without
/// them could run serial tests side by side.
///
/// With `cache` (a directory, `list_cache::dir`), a libtest binary's listing is kept there
/// and a binary cargo did not rebuild since is not asked again.
pub fn list_all(
    binaries: Vec<TestBinary>,
    jobs: usize,
    cache: Option<&Path>,
) -> Result<TestList, ListError> {
    let next = AtomicUsize::new(0);
    type Slot = Option<Result<(BinaryContent, Harness), ListError>>;
    let results: Mutex<Vec<Slot>> = Mutex::new((0..binaries.len()).map(|_| None).collect());
    let threads = jobs.clamp(1, binaries.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(binary) = binaries.get(i) else {
                    break;
                };
                let listed = list_binary(binary, cache);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(listed);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::with_capacity(binaries.len());
    for (binary, content) in binaries.into_iter().zip(results) {
        let (content, harness) = content.unwrap_or_else(|| {
            let reason = "listing it did not finish".into();
            Ok((BinaryContent::Opaque { reason }, Harness::Libtest))
        })?;
        out.push(ListedBinary {
            binary,
            content,
            harness,
        });
    }
    Ok(TestList { binaries: out })
}

fn list_binary(
    binary: &TestBinary,
    cache: Option<&Path>,
) -> Result<(BinaryContent, Harness), ListError> {
    if let Some(reason) = &binary.no_listing {
        let reason = reason.clone();
        return Ok((BinaryContent::Opaque { reason }, Harness::Libtest));
    }
    if let Some(found) = cache.and_then(|dir| list_cache::load(dir, binary)) {
        let mut tests = found.tests;
        if let Some(text) = found.markers {
            with_markers(binary, &mut tests, &text)?;
        }
        return Ok((BinaryContent::Tests(tests), Harness::Libtest));
    }
    // The marker query rides along with the first listing: a binary linked with the
    // harness writes its markers to this file before libtest's main runs.
    let query_dir = tempfile::tempdir().map_err(ListError::TempDir)?;
    let query = query_dir.path().join("markers.json");
    let opaque = |reason| Ok((BinaryContent::Opaque { reason }, Harness::Libtest));
    // Only libtest's JSON listing is kept (see `list_cache`).
    let mut keep = None;
    let (mut tests, harness) = match run_json_list(binary, &query) {
        Ok(JsonListing::Tests(tests)) => {
            keep = cache;
            (tests, Harness::Libtest)
        }
        // Answered the list in the terse form (libtest-mimic ignores `--format json`
        // there): only the ignored tests are left to ask for.
        Ok(JsonListing::Terse(all)) => match run_list(binary, true, &query, false) {
            Ok(ignored) => (with_ignored(all, &ignored), Harness::Stable),
            Err(reason) => return opaque(reason),
        },
        Ok(JsonListing::Foreign(reason)) => return opaque(reason),
        Err(()) => match list_terse(binary, &query) {
            Ok(tests) => (tests, Harness::Stable),
            Err(reason) => return opaque(reason),
        },
    };
    let markers = match std::fs::read_to_string(&query) {
        Ok(text) => Some(text),
        // No harness in this binary (or no marked test): no markers.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ListError::TempDir(e)),
    };
    if let Some(dir) = keep {
        list_cache::store(dir, binary, &tests, markers.as_deref());
    }
    if let Some(text) = markers {
        with_markers(binary, &mut tests, &text)?;
    }
    Ok((BinaryContent::Tests(tests), harness))
}

/// Gives `tests` the markers of the harness's report `text`.
fn with_markers(
    binary: &TestBinary,
    tests: &mut [ListedTest],
    text: &str,
) -> Result<(), ListError> {
    let report = MarkerReport::from_json(text).map_err(|source| ListError::Markers {
        binary: binary.id.to_string(),
        source,
    })?;
    attach_markers(tests, report);
    Ok(())
}

/// `binary` as a listing starts it: in its package root, with its environment, its
/// profile (if instrumented) kept out of the way, and the marker query if asked.
fn list_process(binary: &TestBinary, query: &std::path::Path, ask_markers: bool) -> ProcessBuilder {
    let mut p = binary.process();
    p.cwd(&binary.cwd);
    for (k, v) in &binary.env {
        p.env(k, v);
    }
    p.env("LLVM_PROFILE_FILE", scratch_profile(query));
    if ask_markers {
        p.env(xpar_protocol::env::MARKER_QUERY, query);
    }
    p
}

/// Where an instrumented (`--coverage`) binary writes the profile of its listing: beside
/// the marker query, removed with it, so listing neither counts as coverage nor leaves a
/// `default.profraw` in the package.
fn scratch_profile(query: &std::path::Path) -> std::path::PathBuf {
    query.with_file_name("list-%p.profraw")
}

/// Gives each listed test the markers the harness reported for it. A reported name that
/// is not listed (a test compiled out by `cfg`) has nothing to mark.
pub fn attach_markers(tests: &mut [ListedTest], report: MarkerReport) {
    let mut by_name: std::collections::HashMap<String, TestMarkers> = report
        .tests
        .into_iter()
        .map(|m| (m.name.clone(), m))
        .collect();
    for t in tests {
        if let Some(m) = by_name.remove(&t.name) {
            t.markers = Markers::from_report(m);
        }
    }
}

/// The stable listing: `--list --format terse`, then again with `--ignored`.
fn list_terse(binary: &TestBinary, query: &std::path::Path) -> Result<Vec<ListedTest>, String> {
    let all = run_list(binary, false, query, true)?;
    let ignored = run_list(binary, true, query, false)?;
    Ok(with_ignored(all, &ignored))
}

/// The tests named in `all`, those in `ignored` marked so.
fn with_ignored(all: Vec<String>, ignored: &[String]) -> Vec<ListedTest> {
    let ignored: HashSet<&String> = ignored.iter().collect();
    all.into_iter()
        .map(|name| ListedTest {
            ignored: ignored.contains(&name),
            name,
            ..ListedTest::default()
        })
        .collect()
}

/// What the JSON listing attempt found.
enum JsonListing {
    Tests(Vec<ListedTest>),
    /// The names of a terse listing, printed in answer to the JSON request.
    Terse(Vec<String>),
    /// The binary printed no libtest listing and did not complain of the flags: it
    /// ignores its arguments (a `harness = false` target) and ran, so asking again in the
    /// terse form would only run it a second time.
    Foreign(String),
}

/// Whether a listing that failed did so because the harness refused the unstable flags
/// (libtest's and clap's errors name the flag), rather than because it ignored them and
/// ran its tests, which failed.
fn refused_flags(output: &str) -> bool {
    [
        "-Z",
        "'Z'",
        "`Z`",
        "unstable-options",
        "'format'",
        "--format",
    ]
    .iter()
    .any(|flag| output.contains(flag))
}

/// Asks for libtest's JSON listing. `Err` when the binary refused the unstable flags
/// (an old libtest, or another harness), so the terse listing is worth a try.
fn run_json_list(binary: &TestBinary, query: &std::path::Path) -> Result<JsonListing, ()> {
    let mut p = list_process(binary, query, true);
    p.args(["-Z", "unstable-options", "--format", "json", "--list"])
        // libtest's JSON format is unstable-only; this lets a stable-built binary print it.
        .env("RUSTC_BOOTSTRAP", "1");
    let out: Output = p.command().stdin(Stdio::null()).output().map_err(|_| ())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        if refused_flags(&all) {
            return Err(());
        }
        return Ok(JsonListing::Foreign(format!(
            "{p} failed with {} and printed no libtest list:\n{}",
            describe_status(out.status),
            tail(&all, 10)
        )));
    }
    let e = match parse_json_list(&stdout) {
        Ok(tests) => return Ok(JsonListing::Tests(tests)),
        Err(e) => e,
    };
    Ok(match parse_terse_list(&stdout) {
        // At least one test: a binary that prints nothing for `--list` may just as well
        // ignore its arguments, and would then never run.
        Ok(names) if !names.is_empty() => JsonListing::Terse(names),
        _ => JsonListing::Foreign(format!(
            "{p} exited successfully but printed no libtest list ({e}):\n{}",
            tail(&stdout, 10)
        )),
    })
}

#[derive(serde::Deserialize)]
struct JsonListLine {
    #[serde(rename = "type")]
    kind: String,
    event: String,
    name: Option<String>,
    #[serde(default)]
    ignore: bool,
    source_path: Option<String>,
}

/// The tests in libtest's JSON listing (`--format json --list`). The listing must end with
/// the suite's `completed` event; benchmarks are left out, as in the terse form.
pub fn parse_json_list(output: &str) -> Result<Vec<ListedTest>, ListParseError> {
    let mut tests = Vec::new();
    let mut completed = false;
    let mut last_line = 0;
    for (i, line) in output.lines().enumerate() {
        last_line = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = || ListParseError {
            line_no: i + 1,
            line: line.to_owned(),
        };
        let event: JsonListLine = serde_json::from_str(line).map_err(|_| bad())?;
        match (event.kind.as_str(), event.event.as_str()) {
            ("suite", "discovery") => {}
            ("suite", "completed") => completed = true,
            ("test", "discovered") => tests.push(ListedTest {
                name: event.name.ok_or_else(bad)?,
                ignored: event.ignore,
                source_path: event.source_path.filter(|s| !s.is_empty()),
                markers: Markers::default(),
            }),
            ("bench", _) => {}
            _ => return Err(bad()),
        }
    }
    if !completed {
        return Err(ListParseError {
            line_no: last_line,
            line: "(the listing ended without its `completed` event)".into(),
        });
    }
    Ok(tests)
}

fn run_list(
    binary: &TestBinary,
    ignored: bool,
    query: &std::path::Path,
    ask_markers: bool,
) -> Result<Vec<String>, String> {
    let mut p = list_process(binary, query, ask_markers);
    p.args(["--list", "--format", "terse"]);
    if ignored {
        p.arg("--ignored");
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

    /// The errors harnesses print for flags they do not take, and a run that failed.
    #[test]
    fn a_refusal_of_the_flags_is_told_from_a_failed_run() {
        for refusal in [
            "error: the option `Z` is only accepted on the nightly compiler\n",
            "error: Unrecognized option: 'format'\n",
            "error: unexpected argument '-Z' found\n\nUsage: trials [OPTIONS] [FILTER]\n",
        ] {
            assert!(refused_flags(refusal), "{refusal}");
        }
        let failed = "running 3 checks\nthread 'main' panicked at tests/e2e.rs:9:5:\nboom\n";
        assert!(!refused_flags(failed));
    }

    #[test]
    fn parses_libtest_terse_output() {
        let out = "tests::a: test\ntests::b::c: test\nbench_x: benchmark\n";
        assert_eq!(parse_terse_list(out).unwrap(), ["tests::a", "tests::b::c"]);
    }

    /// Real output of a libtest 1.95 binary asked for `-Z unstable-options --format json --list`.
    const JSON_LIST: &str = r#"{ "type": "suite", "event": "discovery" }
{ "type": "test", "event": "discovered", "name": "tests::a", "ignore": false, "ignore_message": "", "source_path": "alpha/src/lib.rs", "start_line": 35, "start_col": 8, "end_line": 35, "end_col": 23 }
{ "type": "test", "event": "discovered", "name": "tests::slow", "ignore": true, "ignore_message": "", "source_path": "alpha/src/lib.rs", "start_line": 98, "start_col": 8, "end_line": 98, "end_col": 15 }
{ "type": "suite", "event": "completed", "tests": 2, "benchmarks": 0, "total": 2, "ignored": 1 }
"#;

    #[test]
    fn parses_libtest_json_listing() {
        let tests = parse_json_list(JSON_LIST).unwrap();
        assert_eq!(
            tests,
            [
                ListedTest {
                    name: "tests::a".into(),
                    ignored: false,
                    source_path: Some("alpha/src/lib.rs".into()),
                    markers: Markers::default(),
                },
                ListedTest {
                    name: "tests::slow".into(),
                    ignored: true,
                    source_path: Some("alpha/src/lib.rs".into()),
                    markers: Markers::default(),
                },
            ]
        );
    }

    #[test]
    fn json_listing_must_be_complete_and_pure() {
        let cut = JSON_LIST.lines().take(2).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!(parse_json_list(&cut).unwrap_err().to_string(),
            @r#"line 2 of the list output is not libtest's: "(the listing ended without its `completed` event)""#);
        let foreign = format!("alpha binary ran\n{JSON_LIST}");
        assert_eq!(parse_json_list(&foreign).unwrap_err().line_no, 1);
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
        insta::assert_snapshot!(err.to_string(), @r#"line 2 of the list output is not libtest's: "running my own harness""#);
    }

    #[test]
    fn summary_line_of_pretty_format_is_refused() {
        // Without `--format terse` libtest adds "N tests, M benchmarks": not our format.
        assert!(parse_terse_list("a: test\n\n1 test, 0 benchmarks\n").is_err());
    }
}
