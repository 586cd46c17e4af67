//! Doctests run in the same run as the tests, through the real binary, on
//! `fixtures/doctests`: an edition 2021 library and an edition 2024 one (whose doctests
//! rustdoc merges into one program), each with doctests of every kind (passing, failing,
//! `should_panic`, `no_run`, `ignore`, `compile_fail`, one in the README, one that aborts
//! its process and one that hangs when `DOCTEST_HANG` is set). Verdicts are compared
//! with what `cargo test` itself says on the same copy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use xpar_tests::{run, run_json, run_json_cmd, run_junit, xpar, FixtureCopy, JsonRun};

/// The verdict of each doctest as `cargo test --no-fail-fast ARGS` prints it
/// (`test NAME ... ok|FAILED|ignored`), by name: the run output's suffixes after the
/// line number (` - compile`, ` - compile fail`, ` - should panic`) are not part of the
/// name. The libraries' unit tests (`tests::unit`, in both) are left out.
fn cargo_test_doctests(dir: &Path, args: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--no-fail-fast"])
        .args(args)
        .current_dir(dir)
        .env_remove("DOCTEST_HANG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut verdicts = BTreeMap::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, verdict)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let Some(end) = name.rfind(')') else { continue };
        let verdict = match verdict {
            "ok" => "passed",
            "FAILED" => "failed",
            "ignored" => "ignored",
            other => panic!("unknown verdict {other:?} in {line:?}"),
        };
        // A name that runs twice (a doctest generated twice on one line) failed when
        // either run did.
        let entry = verdicts
            .entry(name[..=end].to_owned())
            .or_insert(verdict.to_owned());
        if verdict == "failed" {
            *entry = verdict.to_owned();
        }
    }
    verdicts
}

/// Each doctest's status in a JSON report, by name.
fn doctests_of(r: &JsonRun) -> BTreeMap<String, String> {
    (r.tests.iter())
        .filter(|t| t.binary_id.starts_with("@doc/"))
        .map(|t| (t.name.clone(), t.status.clone()))
        .collect()
}

fn binary_of<'a>(r: &'a JsonRun, name: &str) -> &'a str {
    let t = r.tests.iter().find(|t| t.name == name);
    t.unwrap_or_else(|| panic!("no result for {name}\n{}", r.run))
        .binary_id
        .as_str()
}

#[test]
fn doctests_run_with_the_tests_and_their_verdicts_are_cargo_tests() {
    let f = FixtureCopy::new("doctests");
    let expected = cargo_test_doctests(f.path(), &[]);
    // Ten doctests in each library, one of them ignored.
    assert_eq!(expected.len(), 20, "{expected:#?}");
    let r = run_json(f.path(), &["-j", "2", "--no-fail-fast"]);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    assert_eq!(doctests_of(&r), expected, "{}", r.run);
    // The unit tests ran beside them, in the same run.
    let units = (r.tests.iter()).filter(|t| t.name == "tests::unit" && t.status == "passed");
    assert_eq!(units.count(), 2, "{}", r.run);
    // Doctests are named as libtest names them, under `@doc/PACKAGE`.
    assert_eq!(
        binary_of(&r, "d2021/src/lib.rs - answer (line 8)"),
        "@doc/d2021"
    );
    assert_eq!(binary_of(&r, "d2024/src/lib.rs - (line 4)"), "@doc/d2024");
    // One that aborts its process fails alone; its neighbours have their verdicts.
    let abort = r
        .tests
        .iter()
        .find(|t| t.name.ends_with("more::aborts (line 5)"));
    assert_eq!(abort.unwrap().status, "failed");
    assert!(
        (r.run.stderr).contains("20 tests run: 16 passed, 4 failed, 2 ignored"),
        "{}",
        r.run
    );
    // The failure's output is shown (the assertion's message).
    assert!(r.run.stderr.contains("wrong on purpose"), "{}", r.run);
}

#[test]
fn doc_runs_only_doctests_and_target_flags_leave_them_out_as_in_cargo_test() {
    let f = FixtureCopy::new("doctests");
    let expected = cargo_test_doctests(f.path(), &["--doc"]);
    let r = run_json(f.path(), &["--doc", "--no-fail-fast"]);
    assert_eq!(doctests_of(&r), expected, "{}", r.run);
    assert!(
        r.tests.iter().all(|t| t.binary_id.starts_with("@doc/")),
        "{}",
        r.run
    );
    for flag in ["--lib", "--tests", "--all-targets"] {
        let r = run_json(f.path(), &[flag]);
        assert_eq!(r.run.code(), Some(0), "{flag}: {}", r.run);
        assert!(
            r.tests.iter().all(|t| !t.binary_id.starts_with("@doc/")),
            "{flag}: {}",
            r.run
        );
        assert!(!r.tests.is_empty(), "{flag}: {}", r.run);
    }
    // As cargo refuses it: one line, exit 2, nothing built.
    let mixed = run(f.path(), &["--doc", "--lib"]);
    assert_eq!(mixed.code(), Some(2), "{mixed}");
    assert!(
        mixed.stderr.contains("'--doc' cannot be used with '--lib'"),
        "{mixed}"
    );
    assert!(!mixed.stderr.contains("Compiling"), "{mixed}");
}

#[test]
fn filters_skip_retries_and_reports_treat_a_doctest_as_a_test() {
    let f = FixtureCopy::new("doctests");
    let args = [
        "--doc",
        "--no-fail-fast",
        "--retries",
        "1",
        "kinds",
        "--skip",
        "line 47",
    ];
    let r = run_json(f.path(), &args);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    let ran: BTreeMap<String, String> = doctests_of(&r);
    let want: BTreeMap<String, String> = ["d2021", "d2024"]
        .into_iter()
        .flat_map(|lib| {
            [
                (format!("{lib}/src/lib.rs - kinds (line 23)"), "failed"),
                (format!("{lib}/src/lib.rs - kinds (line 29)"), "passed"),
                (format!("{lib}/src/lib.rs - kinds (line 35)"), "passed"),
                (format!("{lib}/src/lib.rs - kinds (line 41)"), "ignored"),
            ]
        })
        .map(|(n, s)| (n, s.to_owned()))
        .collect();
    assert_eq!(ran, want, "{}", r.run);
    // The failing one was tried twice.
    assert_eq!(r.run.stderr.matches("TRY 1 FAIL").count(), 2, "{}", r.run);
    // In JUnit, a test case of its binary's suite.
    let j = run_junit(f.path(), &["--doc", "--no-fail-fast", "answer"]);
    let cases = j.cases();
    assert_eq!(cases.len(), 4, "{}", j.xml());
    assert!(
        j.xml().contains(
            r#"<testcase name="d2021/src/lib.rs - answer (line 8)" classname="@doc/d2021""#
        ),
        "{}",
        j.xml()
    );
}

#[test]
fn a_hanging_doctest_times_out_alone_and_leaves_nothing_running() {
    let f = FixtureCopy::new("doctests");
    let normal = cargo_test_doctests(f.path(), &["--doc"]);
    let path = f.path().join("report.json");
    let mut cmd = xpar(f.path());
    cmd.args(["--doc", "--no-fail-fast", "--timeout", "2s", "--json"])
        .arg(&path)
        .env("DOCTEST_HANG", "1");
    let r = run_json_cmd(&mut cmd, &path);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    let got = doctests_of(&r);
    for (name, verdict) in &normal {
        if name.ends_with("more::hangs (line 13)") {
            assert_eq!(got[name], "failed", "{}", r.run);
            let t = r.tests.iter().find(|t| &t.name == name).unwrap();
            let why = t.message.as_deref().unwrap_or_default();
            assert!(why.contains("timed out"), "{name}: {why}\n{}", r.run);
        } else {
            assert_eq!(&got[name], verdict, "{name}\n{}", r.run);
        }
    }
    assert_eq!(got.len(), normal.len(), "{}", r.run);
    // Rustdoc's programs run from the run's temp dir, inside the copy: none is left.
    let left = Command::new("pgrep")
        .args(["-f", &f.path().to_string_lossy()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn list_shows_doctests_and_a_changed_library_is_listed_again() {
    let f = FixtureCopy::new("doctests");
    let listed = run(f.path(), &["list"]);
    assert_eq!(listed.code(), Some(0), "{listed}");
    assert!(listed.stdout.contains("@doc/d2021:"), "{listed}");
    assert!(
        listed
            .stdout
            .contains("    d2024/src/lib.rs - kinds (line 41) (ignored)"),
        "{listed}"
    );
    // A doctest added after a run (and its list kept) is found: the library changed.
    let lib = f.path().join("d2021/src/lib.rs");
    let mut text = std::fs::read_to_string(&lib).unwrap();
    text.push_str(
        "\n/// Added.\n///\n/// ```\n/// assert_eq!(1 + 1, 2);\n/// ```\npub fn added() {}\n",
    );
    std::fs::write(&lib, text).unwrap();
    let r = run_json(f.path(), &["--doc", "added"]);
    assert_eq!(r.run.code(), Some(0), "{}", r.run);
    let added = doctests_of(&r);
    assert_eq!(added.len(), 1, "{}", r.run);
    let (name, status) = added.into_iter().next().unwrap();
    assert!(
        name.starts_with("d2021/src/lib.rs - added (line "),
        "{name}"
    );
    assert_eq!(status, "passed");
}

#[test]
fn doctests_hard_to_run_one_by_one_have_cargo_tests_verdicts() {
    let f = FixtureCopy::new("doctest_edges");
    let expected = cargo_test_doctests(f.path(), &[]);
    // extra: the README's and two of Foo; dup: S twice under one name and zlast; envs:
    // three; nodoc (`doctest = false`): none.
    assert_eq!(expected.len(), 8, "{expected:#?}");
    assert!(expected.keys().all(|n| !n.starts_with("nodoc/")));
    let r = run_json(f.path(), &["--no-fail-fast"]);
    assert_eq!(doctests_of(&r), expected, "{}", r.run);
    assert_eq!(expected["dup/src/lib.rs - S (line 7)"], "failed");
    // Alone, a doctest is not given the result of the extra that runs beside it.
    let alone = run_json(
        f.path(),
        &["--exact", "extra/src/lib.rs - Foo (line 115)", "--doc"],
    );
    assert_eq!(alone.run.code(), Some(0), "{}", alone.run);
    assert_eq!(
        doctests_of(&alone),
        BTreeMap::from([("extra/src/lib.rs - Foo (line 115)".into(), "passed".into())])
    );
}

#[test]
fn what_only_rustdoc_reads_is_seen_and_a_library_it_cannot_list_fails_alone() {
    let f = FixtureCopy::new("doctest_edges");
    // From a member's directory first, as cargo picks packages there; then the root.
    let member = run(&f.path().join("dup"), &["list", "--doc"]);
    assert!(member.stdout.contains("@doc/dup:"), "{member}");
    assert!(!member.stdout.contains("@doc/envs:"), "{member}");
    let root = run(f.path(), &["list", "--doc"]);
    for lib in ["@doc/dup:", "@doc/envs:", "@doc/extra:"] {
        assert!(root.stdout.contains(lib), "{lib}\n{root}");
    }
    // A doctest added to a file that only `cfg(doctest)` includes.
    let extra_md = f.path().join("envs/EXTRA.md");
    let mut text = std::fs::read_to_string(&extra_md).unwrap();
    text.push_str("\n```\nassert_eq!(1 + 1, 3, \"added later\");\n```\n");
    std::fs::write(&extra_md, text).unwrap();
    let r = run_json(f.path(), &["--doc", "-p", "envs", "--no-fail-fast"]);
    assert_eq!(
        doctests_of(&r),
        cargo_test_doctests(f.path(), &["--doc", "-p", "envs"]),
        "{}",
        r.run
    );
    assert_eq!(doctests_of(&r).len(), 4, "{}", r.run);
    // A file included for doctests that is missing: rustdoc cannot even list them. That
    // library's doctests fail as one test, with rustdoc's error; the rest run.
    let lib = f.path().join("envs/src/lib.rs");
    let mut src = std::fs::read_to_string(&lib).unwrap();
    src.push_str(
        "\n#[cfg(doctest)]\n#[doc = include_str!(\"../MISSING.md\")]\npub struct Missing;\n",
    );
    std::fs::write(&lib, src).unwrap();
    let r = run_json(f.path(), &["--no-fail-fast"]);
    assert_eq!(r.run.code(), Some(100), "{}", r.run);
    let envs = r.tests.iter().find(|t| t.binary_id == "@doc/envs").unwrap();
    assert_eq!(envs.status, "failed", "{}", r.run);
    assert!(envs.output.contains("MISSING.md"), "{}", envs.output);
    let others = doctests_of(&r);
    assert_eq!(
        others["extra/src/lib.rs - Foo (line 15)"], "passed",
        "{}",
        r.run
    );
    // Coverage of doctests needs a nightly rustdoc: refused, before anything is built.
    let cov = run(f.path(), &["--doc", "--coverage"]);
    assert_eq!(cov.code(), Some(2), "{cov}");
    assert!(
        cov.stderr
            .contains("`--coverage` cannot be used with `--doc`"),
        "{cov}"
    );
}
