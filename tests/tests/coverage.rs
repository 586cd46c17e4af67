//! `cargo xpar --coverage` on `fixtures/coverage`: lines reached by tests in different
//! binaries, on different workers, by a spawned executable, and by a test that ran just
//! before another aborted its process, all show in one merged report; a line no test
//! reaches shows 0. The reports are read by real consumers: genhtml (lcov) and pycobertura
//! (Cobertura), which `.ci/setup` installs (that part is skipped, with a note, where they
//! are missing, except on CI).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use xpar_tests::{optional_tool, run, run_json, xpar, FixtureCopy, Run};

/// The line of `src/lib.rs` tagged `// LINE: tag`.
fn tagged_line(fixture: &Path, tag: &str) -> u32 {
    let src = std::fs::read_to_string(fixture.join("src/lib.rs")).unwrap();
    let at = src
        .lines()
        .position(|l| l.ends_with(&format!("// LINE: {tag}")))
        .unwrap_or_else(|| panic!("no line tagged {tag}"));
    at as u32 + 1
}

/// Line -> hits of `file` in an lcov tracefile.
fn lcov_lines(lcov: &str, file: &Path) -> BTreeMap<u32, u64> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in lcov.lines() {
        if let Some(sf) = line.strip_prefix("SF:") {
            inside = Path::new(sf) == file;
        } else if let (true, Some(da)) = (inside, line.strip_prefix("DA:")) {
            let (n, hits) = da.split_once(',').unwrap();
            *out.entry(n.parse().unwrap()).or_default() += hits.parse::<u64>().unwrap();
        }
    }
    out
}

#[test]
fn merged_report_from_every_worker_binary_and_spawned_executable() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let report = run_json(
        dir,
        &[
            "-j",
            "2",
            "--no-fail-fast",
            "--coverage",
            "--coverage-format",
            "lcov,cobertura,json,html",
        ],
    );
    let r = &report.run;
    // `zz_aborts` fails the run; the report is made all the same.
    assert_eq!(r.code(), Some(100), "{r}");
    let workers: BTreeSet<_> = report
        .tests
        .iter()
        .filter_map(|t| t.worker.clone())
        .collect();
    assert_eq!(workers.len(), 2, "tests ran on both workers: {r}");
    assert!(r.stderr.contains("TOTAL"), "no summary table: {r}");

    let out = dir.join("target/xpar/coverage");
    let lcov = std::fs::read_to_string(out.join("lcov.info")).expect("lcov.info");
    let lib = dir.join("src/lib.rs");
    let lines = lcov_lines(&lcov, &lib);
    for tag in ["unit", "integration", "binary", "before-abort"] {
        let n = tagged_line(dir, tag);
        assert!(
            lines.get(&n).copied().unwrap_or(0) > 0,
            "line {n} ({tag}) not hit: {lines:?}"
        );
    }
    let never = tagged_line(dir, "never");
    assert_eq!(
        lines.get(&never),
        Some(&0),
        "the unreached line shows 0: {lines:?}"
    );
    // Only the workspace's sources, none of the standard library's.
    assert!(
        !lcov.contains("/rustc/") && !lcov.contains("library/std"),
        "{lcov}"
    );

    // Real consumers read what was written.
    let test = "merged_report_from_every_worker_binary_and_spawned_executable";
    if let Some(mut genhtml) = optional_tool(test, "genhtml", "Debian's lcov") {
        let html = dir.join("genhtml");
        let g = genhtml
            .arg(out.join("lcov.info"))
            .arg("--output-directory")
            .arg(&html)
            .output()
            .unwrap();
        assert!(
            g.status.success(),
            "genhtml: {}",
            String::from_utf8_lossy(&g.stderr)
        );
        assert!(html.join("index.html").is_file());
    }
    let pycobertura = optional_tool(test, "pycobertura", "pycobertura from PyPI");
    if let Some(mut pycobertura) = pycobertura {
        let p = pycobertura
            .arg("show")
            .arg(out.join("cobertura.xml"))
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&p.stdout);
        assert!(
            p.status.success(),
            "pycobertura: {}",
            String::from_utf8_lossy(&p.stderr)
        );
        assert!(
            shown.contains("src/lib.rs") && shown.contains("TOTAL"),
            "{shown}"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("coverage.json")).unwrap())
            .expect("coverage.json is JSON");
    assert_eq!(json["type"], "llvm.coverage.json.export");
    let index = std::fs::read_to_string(out.join("html/index.html")).expect("html report");
    assert!(index.contains("lib.rs"), "{index}");

    // The run's profile data is kept for later merging: a few files per worker and
    // binary, not one per test.
    let runs = dir.join("target/xpar/coverage-runs");
    let run_dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let profraw = std::fs::read_dir(&run_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "profraw"))
        .count();
    assert!(
        (1..=2 * 4).contains(&profraw),
        "{profraw} profile files in {run_dir:?}"
    );
}

#[test]
fn an_aborting_test_keeps_its_batch_mates_coverage() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    // One worker, one process for the library's tests: `aaa_before_abort` runs in the
    // very process `zz_aborts` kills.
    let r = run(
        dir,
        &["--dist", "no", "--lib", "--no-fail-fast", "--coverage"],
    );
    assert_eq!(r.code(), Some(100), "{r}");
    assert!(r.stderr.contains("signal 6"), "{r}");
    let lcov = std::fs::read_to_string(dir.join("target/xpar/coverage/lcov.info")).unwrap();
    let lines = lcov_lines(&lcov, &dir.join("src/lib.rs"));
    let n = tagged_line(dir, "before-abort");
    assert!(
        lines.get(&n).copied().unwrap_or(0) > 0,
        "line {n}: {lines:?}\n{r}"
    );
}

/// Each attempt of a retried test counts, as its profile counts say: a line the test
/// runs once per attempt shows 2 hits after a failure and a passing retry.
#[test]
fn every_attempt_of_a_retried_test_counts() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let report = run_json(dir, &["retried_fails_once", "--retries", "1", "--coverage"]);
    let r = &report.run;
    assert_eq!(r.code(), Some(0), "{r}");
    assert!(r.stderr.contains("FLAKY"), "the first attempt failed: {r}");
    let lcov = std::fs::read_to_string(dir.join("target/xpar/coverage/lcov.info")).unwrap();
    let lines = lcov_lines(&lcov, &dir.join("src/lib.rs"));
    let n = tagged_line(dir, "retried");
    assert_eq!(lines.get(&n), Some(&2), "line {n}: {lines:?}\n{r}");
    assert_eq!(
        lines.get(&tagged_line(dir, "unit")),
        Some(&0),
        "filtered-out tests count nothing: {lines:?}"
    );
}

#[test]
fn fail_under_lines_sets_the_exit_code() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let out = dir.join("cov-out");
    let args = |min: &'static str| -> Vec<String> {
        [
            "--coverage",
            "--coverage-output",
            out.to_str().unwrap(),
            "--fail-under-lines",
            min,
            "--skip",
            "zz_aborts",
            "--skip",
            "retried_fails_once",
        ]
        .map(String::from)
        .to_vec()
    };
    let strs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");
    let argv = args("100");
    let r = run(dir, &argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code(), Some(111), "{}: {r}", strs(&argv));
    assert!(r.stderr.contains("is below --fail-under-lines 100"), "{r}");
    assert!(
        out.join("lcov.info").is_file(),
        "--coverage-output is honoured"
    );
    let argv = args("10");
    let r = run(dir, &argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code(), Some(0), "{r}");
}

#[test]
fn missing_tools_are_one_clear_error_before_building() {
    let fixture = FixtureCopy::new("coverage");
    let mut cmd = xpar_tests::xpar(fixture.path());
    // A rustc that cannot say where its tools are.
    cmd.env("RUSTC", "/nonexistent/rustc").arg("--coverage");
    let r = xpar_tests::Run::of(&mut cmd);
    assert_eq!(r.code(), Some(112), "{r}");
    // One line: what is missing, why it could not be matched, and how to install it.
    let error = r.stderr.trim_end();
    assert_eq!(error.lines().count(), 1, "{r}");
    assert!(
        error.starts_with("error: llvm-profdata and llvm-cov were not found")
            && error.contains("`/nonexistent/rustc -vV`")
            && error.ends_with("install them with `rustup component add llvm-tools-preview`"),
        "{r}"
    );
    // No LLVM version to name: none is made up from the words around it.
    assert!(
        !error.contains("rustc's") && !error.contains("-rustc"),
        "{r}"
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "nothing is built first: {r}"
    );
}

/// `CARGO_HOME`, as the tests' own cargo has it.
fn real_cargo_home() -> std::path::PathBuf {
    std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(Into::into)
        .or_else(|| std::env::home_dir().map(|h| h.join(".cargo")))
        .expect("CARGO_HOME or HOME")
}

/// The report leaves out crates.io sources wherever `CARGO_HOME` is (the official Docker
/// images have `/usr/local/cargo`), not only under `~/.cargo`: here a home of another
/// name, with regex characters in it, that shares the real registry.
#[cfg(unix)]
#[test]
fn dependency_sources_are_left_out_wherever_cargo_home_is() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    // The dependency into the real registry first, so the run can be offline.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let fetch = Command::new(cargo)
        .arg("fetch")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        fetch.status.success(),
        "cargo fetch: {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let real = real_cargo_home();
    let home = tempfile::Builder::new()
        .prefix("xpar-cargo+home.")
        .tempdir()
        .unwrap();
    for shared in ["registry", "config.toml", "config"] {
        if real.join(shared).exists() {
            std::os::unix::fs::symlink(real.join(shared), home.path().join(shared)).unwrap();
        }
    }
    let mut cmd = xpar(dir);
    cmd.env("CARGO_HOME", home.path())
        .env("CARGO_NET_OFFLINE", "true")
        .args(["a_dependency", "--coverage"]);
    let r = Run::of(&mut cmd);
    assert_eq!(r.code(), Some(0), "the dependency ran: {r}");

    let lcov = std::fs::read_to_string(dir.join("target/xpar/coverage/lcov.info")).unwrap();
    let lines = lcov_lines(&lcov, &dir.join("src/lib.rs"));
    let n = tagged_line(dir, "dependency");
    assert!(
        lines.get(&n).copied().unwrap_or(0) > 0,
        "line {n}: {lines:?}"
    );
    let files: Vec<&str> = lcov.lines().filter_map(|l| l.strip_prefix("SF:")).collect();
    assert!(
        files.iter().all(|f| Path::new(f).starts_with(dir)),
        "only the workspace's sources: {files:?}"
    );
}

/// `--coverage-format lcov,html,lcov` writes lcov once; reports an earlier run left in
/// the output directory go, the user's files there stay.
#[test]
fn each_report_is_written_once_and_old_ones_go() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let out = dir.join("cov-out");
    std::fs::create_dir_all(out.join("html/coverage/gone")).unwrap();
    for (f, text) in [
        ("cobertura.xml", "old"),
        ("coverage.json", "old"),
        ("html/coverage/gone/lib.rs.html", "old"),
        ("notes.txt", "the user's"),
    ] {
        std::fs::write(out.join(f), text).unwrap();
    }
    let out_arg = out.to_str().unwrap();
    let coverage = |formats: &str| {
        let r = run(
            dir,
            &[
                "a_unit",
                "--coverage",
                "--coverage-output",
                out_arg,
                "--coverage-format",
                formats,
            ],
        );
        assert_eq!(r.code(), Some(0), "{r}");
        let wrote: Vec<String> = r
            .stderr
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("Wrote "))
            .map(|p| {
                Path::new(p)
                    .strip_prefix(&out)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        (r, wrote)
    };

    let (r, wrote) = coverage("lcov,html,lcov");
    assert_eq!(wrote, ["lcov.info", "html/index.html"], "{r}");
    let mut left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["html", "lcov.info", "notes.txt"], "{r}");
    assert!(!out.join("html/coverage/gone").exists(), "{r}");
    assert!(out.join("html/index.html").is_file(), "{r}");

    // Only lcov now: the html report of the run before is not this run's.
    let (r, wrote) = coverage("lcov");
    assert_eq!(wrote, ["lcov.info"], "{r}");
    assert!(!out.join("html").exists(), "{r}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "the user's"
    );
}
