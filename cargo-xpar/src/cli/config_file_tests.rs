//! Parsing, inheritance and the errors of `.config/xpar.toml`.

use super::*;

const FILE: &str = r#"
[profile.default]
jobs = 3
retries = 1
timeout = "1m"
junit = "target/junit.xml"
html = "target/report.html"

[[profile.default.overrides]]
filter = "db::"
serial = "db"
timeout = "5s"

[profile.ci]
jobs = "auto"
dist = "loadscope"
retries = 2
slow-timeout = "30s"
run-timeout = "10m"
fail-fast = false
json = "/abs/report.json"
coverage = true

[[profile.ci.overrides]]
filter = "flaky"
binary = "app::tests"
retries = 5
slots = 2

[[profile.ci.overrides]]
filter = "global"
serial = true
"#;

fn parse_as(text: &str, selected: Selected) -> Result<Profile, String> {
    parse(
        text,
        Path::new("ws/.config/xpar.toml"),
        Path::new("ws"),
        selected,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn the_default_profile() {
    let p = parse_as(FILE, None).unwrap();
    assert_eq!(p.jobs, Some(3));
    assert_eq!(p.retries, Some(1));
    assert_eq!(p.timeout, Some(Duration::from_secs(60)));
    assert_eq!(p.junit, Some(PathBuf::from("ws/target/junit.xml")));
    assert_eq!((p.dist, p.fail_fast, p.coverage), (None, None, None));
    assert_eq!(p.json, None);
    assert_eq!(p.html, Some(PathBuf::from("ws/target/report.html")));
    assert_eq!(
        p.overrides,
        [TestOverride {
            filter: "db::".into(),
            serial: Some(Serial::Keys(vec!["db".into()])),
            timeout: Some(Duration::from_secs(5)),
            ..TestOverride::default()
        }]
    );
    assert_eq!(
        p,
        parse_as(FILE, Some(("default", "--config-profile"))).unwrap()
    );
}

#[test]
fn a_named_profile_inherits_what_it_leaves_unset() {
    let p = parse_as(FILE, Some(("ci", "--config-profile"))).unwrap();
    assert_eq!(p.jobs, Some(parse_jobs("auto").unwrap()));
    assert_eq!(p.dist, Some(DistMode::Loadscope));
    assert_eq!(p.retries, Some(2));
    // Inherited from default.
    assert_eq!(p.timeout, Some(Duration::from_secs(60)));
    assert_eq!(p.junit, Some(PathBuf::from("ws/target/junit.xml")));
    assert_eq!(p.slow_timeout, Some(Duration::from_secs(30)));
    assert_eq!(p.run_timeout, Some(Duration::from_secs(600)));
    assert_eq!((p.fail_fast, p.coverage), (Some(false), Some(true)));
    assert_eq!(p.json, Some(PathBuf::from("/abs/report.json")));
    assert_eq!(p.html, Some(PathBuf::from("ws/target/report.html")));
    // Its own overrides first, then default's.
    let filters: Vec<&str> = p.overrides.iter().map(|o| o.filter.as_str()).collect();
    assert_eq!(filters, ["flaky", "global", "db::"]);
    assert_eq!(p.overrides[0].binary.as_deref(), Some("app::tests"));
    assert_eq!(
        (p.overrides[0].retries, p.overrides[0].slots),
        (Some(5), Some(2))
    );
    assert_eq!(p.overrides[1].serial, Some(Serial::All));
}

#[test]
fn the_flag_names_the_profile_before_the_variable() {
    assert_eq!(selected(None, None), None);
    assert_eq!(selected(None, Some("")), None);
    assert_eq!(selected(None, Some("ci")), Some(("ci", PROFILE_ENV)));
    assert_eq!(
        selected(Some("dev"), Some("ci")),
        Some(("dev", "--config-profile"))
    );
}

#[test]
fn an_empty_file_is_the_defaults() {
    let defaults = Profile {
        root: PathBuf::from("ws"),
        ..Profile::default()
    };
    assert_eq!(parse_as("", None).unwrap(), defaults);
    assert_eq!(parse_as("[profile.default]\n", None).unwrap(), defaults);
}

#[test]
fn an_unknown_profile_names_the_ones_there_are() {
    let err = parse_as(FILE, Some(("nightly", PROFILE_ENV))).unwrap_err();
    assert_eq!(
        err,
        "unknown config profile `nightly` (from XPAR_PROFILE): ws/.config/xpar.toml defines \
         the profiles ci, default"
    );
}

/// Each error is one line naming the file and the line of the value at fault.
#[test]
fn errors_name_the_file_and_the_line() {
    let table: &[(&str, &str)] = &[
        (
            "[profile.default]\njbos = 4\n",
            ":2: unknown field `jbos`, expected one of",
        ),
        (
            "[profile.default]\n\njobs = 0\n",
            ":3: jobs: invalid value `0` for -j/--jobs",
        ),
        (
            "[profile.default]\njobs = true\n",
            ":2: jobs: invalid value `true`",
        ),
        (
            "[profile.default]\nretries = -1\n",
            ":2: invalid value: integer `-1`",
        ),
        (
            "[profile.default]\nretries = \"2\"\n",
            ":2: invalid type: string \"2\"",
        ),
        (
            "[profile.default]\ntimeout = \"soon\"\n",
            ":2: timeout: invalid value `soon` for --timeout",
        ),
        ("[profile.default]\ntimeout = \"0s\"\n", "longer than zero"),
        (
            "[profile.default]\nslow-timeout = 30\n",
            ":2: invalid type: integer `30`",
        ),
        (
            "[profile.default]\ndist = \"random\"\n",
            ":2: dist: invalid value `random` for --dist [possible values: load,",
        ),
        (
            "[profile.default]\nfail-fast = \"no\"\n",
            ":2: invalid type: string \"no\", expected a boolean",
        ),
        ("[profiles.default]\n", ":1: unknown field `profiles`"),
        (
            "[[suite]]\nname = \"a\"\ncommand = [\"x\"]\ndepend-on = []\n",
            ":4: unknown field `depend-on`",
        ),
        (
            "[[suite]]\nname = \"a\"\ncommand = [\"x\"]\n\n[[suite]]\nname = \"b\"\ncommand = [\"y\"]\ndepends-on = [\"c\"]\n",
            ":5: suite `b` depends on `c`, which is no suite",
        ),
        (
            "[[suite]]\nname = \"a\"\ncommand = [\"x\"]\ndepends-on = [\"b\"]\n[[suite]]\nname = \"b\"\ncommand = [\"y\"]\ndepends-on = [\"a\"]\n",
            ":1: suite dependencies form a cycle: a -> b -> a",
        ),
        (
            "[[suite]]\nname = \"a\"\ncommand = []\n",
            ":1: suite `a` has no command",
        ),
        (
            "[[suite]]\nname = \"a\"\ncommand = [\"x\"]\ntimeout = \"soon\"\n",
            ":1: suite `a`: bad timeout",
        ),
        ("[profile.default]\njobs = \n", ":2: "),
        (
            "[[profile.default.overrides]]\nserial = true\n",
            ":1: missing field `filter`",
        ),
        (
            "[[profile.default.overrides]]\nfilter = \"x\"\nslots = 0\n",
            ":3: slots: must be at least 1",
        ),
        (
            "[[profile.default.overrides]]\nfilter = \"x\"\nserial = 3\n",
            ":3: serial: expected a serial key",
        ),
        (
            "[[profile.default.overrides]]\nfilter = \"x\"\nretry = 3\n",
            ":3: unknown field `retry`",
        ),
        (
            "[[profile.default.overrides]]\nfilter = \"x\"\ntimeout = \"x\"\n",
            ":3: timeout: invalid value `x`",
        ),
        ("[profile.ci]\njobs = 0\n", ":2: jobs:"),
    ];
    for (text, want) in table {
        // A broken profile is refused whichever profile is used.
        let err = parse_as(text, None).unwrap_err();
        assert!(err.starts_with("ws/.config/xpar.toml:"), "{text:?}: {err}");
        assert!(err.contains(want), "{text:?}: {err}\nwanted {want}");
        assert!(!err.contains('\n'), "{text:?}: {err}");
    }
}

#[test]
fn history_runs_is_inherited_and_at_least_one() {
    let text = "[profile.default]\nhistory-runs = 30\n[profile.ci]\njobs = 2\n";
    assert_eq!(parse_as(text, None).unwrap().history_runs, Some(30));
    let ci = parse_as(text, Some(("ci", "--config-profile"))).unwrap();
    assert_eq!(ci.history_runs, Some(30));
    assert_eq!(parse_as("", None).unwrap().history_runs, None);
    let err = parse_as("[profile.default]\nhistory-runs = 0\n", None).unwrap_err();
    assert_eq!(
        err,
        "ws/.config/xpar.toml:2: history-runs: must be at least 1 (the run history keeps this run)"
    );
}

/// A manifest with `[workspace]` is its workspace's root, found without cargo; a
/// member's manifest is left to cargo, which knows the workspace above it.
#[test]
fn a_workspace_manifest_is_its_own_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Cargo.toml");
    std::fs::write(&root, "[workspace]\nmembers = [\"m\"]\n").unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    let member = dir.path().join("m/Cargo.toml");
    std::fs::write(&member, "[package]\nname = \"m\"\n").unwrap();
    assert_eq!(own_workspace(Some(&root)).as_deref(), Some(dir.path()));
    assert_eq!(own_workspace(Some(&member)), None);
    assert_eq!(own_workspace(Some(&dir.path().join("none.toml"))), None);
}
