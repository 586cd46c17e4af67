//! `--partition` through the real binary: for each kind the shards' JSON reports hold every
//! test of the unpartitioned run once (ignored tests too); `hash` keeps a test's shard when
//! tests are added; `time` balances the shards by the duration history and keeps the tests
//! of a serial key or a group together; bad values are one usage error; `auto` reads each
//! CI's variables; Bazel's sharding variables shard, touch the status file and write the
//! JUnit where Bazel asks; `--durations FILE` is written, read, and survives a bad file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use xpar_tests::fixture_data::{Outcome, BASIC};
use xpar_tests::{
    history_estimates, parse_junit, run_json_cmd, workspace_root, xpar, FixtureCopy, JsonRun, Run,
};

/// A test: (binary id, name).
type Key = (String, String);

/// Environment variables set on one run.
type Vars = &'static [(&'static str, &'static str)];

/// The tests of `fixtures/dist` (see `dist.rs`): 14 of 20 ms and `zz::slow` of 400 ms.
const DIST: &[(&str, &str)] = &[
    ("dist", "alpha::a1"),
    ("dist", "alpha::a2"),
    ("dist", "alpha::a3"),
    ("dist", "beta::b1"),
    ("dist", "beta::b2"),
    ("dist", "gamma::g1"),
    ("dist", "gamma::g2"),
    ("dist", "gamma::g3"),
    ("dist", "gamma::g4"),
    ("dist", "zz::slow"),
    ("dist::one", "first::x"),
    ("dist::one", "first::y"),
    ("dist::one", "second::z"),
    ("dist::two", "p"),
    ("dist::two", "q"),
];

/// The tests of `fixtures/markers` bound to one machine: those sharing the serial keys
/// `db` and `fs` (joined by `db_and_fs`, which holds both), and those of group `g1`.
const BOUND: &[&[&str]] = &[
    &[
        "keyed::db_and_fs",
        "keyed::db_one",
        "keyed::inner::db_two",
        "keyed::fs_one",
        "keyed::fs_two",
    ],
    &[
        "grouped::g1_first",
        "grouped::g1_second",
        "grouped::g1_heavy",
    ],
];

const KINDS: [&str; 3] = ["slice", "hash", "time"];

fn keys(tests: &[(&str, &str)]) -> BTreeSet<Key> {
    tests
        .iter()
        .map(|(b, n)| (b.to_string(), n.to_string()))
        .collect()
}

/// `cargo xpar --json DIR/report.json ARGS` in `dir` with `env` set, and its report
/// (removed first, so that an earlier run's is never read for this one's).
fn json_run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> JsonRun {
    let path = dir.join("report.json");
    let _ = std::fs::remove_file(&path);
    let mut cmd = xpar(dir);
    cmd.arg("--json")
        .arg(&path)
        .args(args)
        .envs(env.iter().copied());
    run_json_cmd(&mut cmd, &path)
}

fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd: Command = xpar(dir);
    cmd.args(args).envs(env.iter().copied());
    Run::of(&mut cmd)
}

/// The tests a report holds, with their statuses; a test reported twice fails.
fn statuses(run: &JsonRun) -> BTreeMap<Key, String> {
    let mut out = BTreeMap::new();
    for t in &run.tests {
        let key = (t.binary_id.clone(), t.name.clone());
        let again = out.insert(key.clone(), t.status.clone());
        assert!(again.is_none(), "{key:?} reported twice\n{}", run.run);
    }
    out
}

fn tests_of(run: &JsonRun) -> BTreeSet<Key> {
    statuses(run).into_keys().collect()
}

/// The shards' sets overlap nowhere and together are `whole`.
fn assert_split(what: &str, shards: &[BTreeSet<Key>], whole: &BTreeSet<Key>) {
    let mut seen = BTreeSet::new();
    for (i, shard) in shards.iter().enumerate() {
        for t in shard {
            assert!(
                seen.insert(t.clone()),
                "{what}: {t:?} in two shards (again in {})",
                i + 1
            );
        }
    }
    assert_eq!(
        &seen, whole,
        "{what}: the shards together are not the whole run"
    );
}

/// A copy of the history at `from` for one run, as each CI machine gets the same file: a
/// run updates the history it reads, which would change the next shard's `time` split.
fn history_copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    to
}

/// Seconds per test of a history file, by (binary id, name).
fn read_history(path: &Path) -> BTreeMap<Key, f64> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no history at {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("the history is JSON");
    let mut out = BTreeMap::new();
    for (binary, tests) in json["durations"].as_object().expect("durations by binary") {
        for (name, secs) in tests.as_object().expect("durations by test") {
            let secs = secs.as_f64().expect("seconds");
            out.insert((binary.clone(), name.clone()), secs);
        }
    }
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// Every kind, in 2 and 3 shards, on `fixtures/basic` (passing, failing, crashing and
/// ignored tests, and an opaque binary): each test of the unpartitioned run is in exactly
/// one shard, with the outcome the model gives it; the ignored tests are reported by one
/// shard each; each shard counts the others' tests as filtered out.
#[test]
fn every_kind_splits_the_run_into_disjoint_shards_that_cover_it() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    let history = dir.join("history.json");
    let base = ["-j", "2", "--no-fail-fast"];
    let whole = json_run(
        dir,
        &[&base[..], &["--durations", s(&history)]].concat(),
        &[],
    );
    assert_eq!(whole.run.code(), Some(100), "{}", whole.run);
    let model: BTreeMap<Key, &str> = BASIC
        .iter()
        .map(|e| {
            let status = match e.outcome {
                Outcome::Pass => "passed",
                Outcome::Ignored => "ignored",
                Outcome::Fail { .. } => "failed",
            };
            ((e.binary_id.to_owned(), e.name.to_owned()), status)
        })
        .collect();
    let all: BTreeSet<Key> = model.keys().cloned().collect();
    assert_eq!(tests_of(&whole), all, "{}", whole.run);
    for kind in KINDS {
        for n in [2, 3] {
            let mut shards = Vec::new();
            for k in 1..=n {
                let p = format!("{kind}:{k}/{n}");
                let h = history_copy(&history, dir, "shard-history.json");
                let args = [&base[..], &["--partition", &p, "--durations", s(&h)]].concat();
                let shard = json_run(dir, &args, &[]);
                let got = statuses(&shard);
                for (key, status) in &got {
                    assert_eq!(
                        Some(&status.as_str()),
                        model.get(key),
                        "{p}: {key:?}\n{}",
                        shard.run
                    );
                }
                let fails = got.values().any(|s| s == "failed");
                let code = if fails { 100 } else { 0 };
                assert_eq!(shard.run.code(), Some(code), "{p}\n{}", shard.run);
                let filtered = format!("{} filtered out", all.len() - got.len());
                assert!(
                    shard.run.stderr.contains(&filtered),
                    "{p}: no {filtered:?}\n{}",
                    shard.run
                );
                shards.push(got.into_keys().collect());
            }
            assert_split(&format!("{kind} /{n}"), &shards, &all);
        }
    }
}

/// Adding tests moves no test between `hash` shards: a test's shard depends on its name
/// alone. (Under `slice` the added tests, listed first, shift every other.)
#[test]
fn hash_shards_keep_their_tests_when_tests_are_added() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    let shards_of = |n: usize| -> BTreeMap<Key, usize> {
        let mut out = BTreeMap::new();
        for k in 1..=n {
            let p = format!("hash:{k}/{n}");
            let run = json_run(dir, &["-j", "2", "--partition", &p], &[]);
            assert!(matches!(run.run.code(), Some(0 | 4)), "{p}\n{}", run.run);
            for t in tests_of(&run) {
                assert!(out.insert(t.clone(), k).is_none(), "{t:?} in two shards");
            }
        }
        out
    };
    let before: Vec<BTreeMap<Key, usize>> = [2, 3].into_iter().map(&shards_of).collect();
    for b in &before {
        assert_eq!(b.keys().cloned().collect::<BTreeSet<_>>(), keys(DIST));
    }
    // Listed before every other test of the binary; five, so that a split by position
    // would move the others in 2 shards and in 3.
    let added: Vec<String> = (0..5).map(|i| format!("aa_added::t{i}")).collect();
    let mut source = std::fs::read_to_string(dir.join("src/lib.rs")).expect("read lib.rs");
    source.push_str("\n#[cfg(test)]\nmod aa_added {\n");
    for i in 0..added.len() {
        source.push_str(&format!(
            "    #[test]\n    fn t{i}() {{ super::work(1); }}\n"
        ));
    }
    source.push_str("}\n");
    std::fs::write(dir.join("src/lib.rs"), source).expect("write lib.rs");
    for (n, before) in [2, 3].into_iter().zip(&before) {
        let after = shards_of(n);
        for (t, shard) in before {
            assert_eq!(after.get(t), Some(shard), "hash /{n}: {t:?} moved");
        }
        for name in &added {
            let key = ("dist".to_owned(), name.clone());
            assert!(after.contains_key(&key), "hash /{n}: {name} in no shard");
        }
        assert_eq!(after.len(), before.len() + added.len(), "hash /{n}");
    }
}

/// What the `time` split must give, checked against the history it read. Shards are
/// filled longest first onto the least loaded, so a shard of more than one unit exceeds the
/// least loaded shard by at most its own smallest unit (that unit was added last, when its
/// shard was the least loaded, and loads only grow). Hence also the max/min bound: the
/// largest shard is either one unit (it cannot be split) or within its smallest unit of
/// the smallest shard. Under `slice`, `fixtures/dist`'s 400 ms test shares a shard with
/// six 20 ms tests against eight: 500 ms above the smallest unit, against 160 ms.
fn assert_time_balanced(what: &str, shards: &[Vec<f64>]) {
    let loads: Vec<f64> = shards.iter().map(|units| units.iter().sum()).collect();
    let least = loads.iter().copied().fold(f64::INFINITY, f64::min);
    for (i, units) in shards.iter().enumerate() {
        if units.len() < 2 {
            continue;
        }
        let smallest = units.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(
            loads[i] - smallest <= least + 1e-9,
            "{what}: shard {} expects {:.3}s, more than {least:.3}s (the least) + {smallest:.3}s \
             (its smallest unit); loads {loads:.3?}",
            i + 1,
            loads[i]
        );
    }
}

/// A first run writes the history of `fixtures/dist` (one test twenty times the others);
/// the `time` shards, each reading it, then expect balanced times: here the slow test
/// alone against the others.
#[test]
fn time_shards_balance_the_expected_times_of_the_history() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    let history = dir.join("history.json");
    let whole = json_run(dir, &["-j", "2", "--durations", s(&history)], &[]);
    assert_eq!(whole.run.code(), Some(0), "{}", whole.run);
    let secs = read_history(&history);
    assert_eq!(secs.keys().cloned().collect::<BTreeSet<_>>(), keys(DIST));
    for n in [2, 3] {
        let mut sets = Vec::new();
        let mut expected = Vec::new();
        for k in 1..=n {
            let p = format!("time:{k}/{n}");
            let h = history_copy(&history, dir, "shard-history.json");
            let run = json_run(
                dir,
                &["-j", "2", "--partition", &p, "--durations", s(&h)],
                &[],
            );
            assert_eq!(run.run.code(), Some(0), "{p}\n{}", run.run);
            let mine = tests_of(&run);
            expected.push(mine.iter().map(|t| secs[t]).collect::<Vec<f64>>());
            sets.push(mine);
        }
        assert_split(&format!("time /{n}"), &sets, &keys(DIST));
        assert_time_balanced(&format!("time /{n}"), &expected);
        let slow = ("dist".to_owned(), "zz::slow".to_owned());
        assert!(
            sets.iter().any(|s| s.len() == 1 && s.contains(&slow)),
            "time /{n}: the 400 ms test is not alone: {sets:?}"
        );
    }
}

/// One target dir for every build of `fixtures/markers`, shared with `markers.rs` (whose
/// lock this takes): xpar-harness and tokio are compiled once.
fn markers_target() -> PathBuf {
    workspace_root()
        .join("target")
        .join("fixture-target")
        .join("markers")
}

fn lock_markers_target() -> std::fs::File {
    let dir = markers_target();
    std::fs::create_dir_all(&dir).expect("create the fixture target dir");
    let file = std::fs::File::create(dir.join("xpar-tests.lock")).expect("create the lock file");
    file.lock().expect("lock the fixture target dir");
    file
}

/// On `fixtures/markers`, every kind in 2 and 3 shards keeps the tests of the serial keys
/// `db`/`fs` and of group `g1` in one shard, covers the run once, and `time` balances its
/// units (a key's or group's tests count as one).
#[test]
fn serial_keys_and_groups_stay_whole_in_one_shard() {
    let _lock = lock_markers_target();
    let fixture = FixtureCopy::new("markers");
    let dir = fixture.path();
    let target = markers_target();
    let history = dir.join("history.json");
    let base = ["-j", "2", "--target-dir", s(&target)];
    let whole = json_run(
        dir,
        &[&base[..], &["--durations", s(&history)]].concat(),
        &[],
    );
    assert_eq!(whole.run.code(), Some(0), "{}", whole.run);
    let all = tests_of(&whole);
    for bound in BOUND {
        for name in *bound {
            assert!(
                all.iter().any(|(_, n)| n == name),
                "no {name} in the fixture\n{}",
                whole.run
            );
        }
    }
    let secs = read_history(&history);
    for kind in KINDS {
        for n in [2, 3] {
            let mut sets = Vec::new();
            let mut units = Vec::new();
            for k in 1..=n {
                let p = format!("{kind}:{k}/{n}");
                let h = history_copy(&history, dir, "shard-history.json");
                let args = [&base[..], &["--partition", &p, "--durations", s(&h)]].concat();
                let run = json_run(dir, &args, &[]);
                assert!(matches!(run.run.code(), Some(0 | 4)), "{p}\n{}", run.run);
                let mine = tests_of(&run);
                for bound in BOUND {
                    let here = bound
                        .iter()
                        .filter(|b| mine.iter().any(|(_, n)| n == *b))
                        .count();
                    assert!(
                        here == 0 || here == bound.len(),
                        "{p}: {here} of {bound:?} here: {mine:?}"
                    );
                }
                // A unit's expected time: a bound set's tests together, any other alone.
                let mut mine_units: Vec<f64> = Vec::new();
                for bound in BOUND {
                    let t: f64 = mine
                        .iter()
                        .filter(|(_, n)| bound.contains(&n.as_str()))
                        .map(|t| secs[t])
                        .sum();
                    if mine.iter().any(|(_, n)| bound.contains(&n.as_str())) {
                        mine_units.push(t);
                    }
                }
                mine_units.extend(
                    mine.iter()
                        .filter(|(_, n)| !BOUND.iter().any(|b| b.contains(&n.as_str())))
                        .map(|t| secs[t]),
                );
                units.push(mine_units);
                sets.push(mine);
            }
            assert_split(&format!("{kind} /{n}"), &sets, &all);
            if kind == "time" {
                assert_time_balanced(&format!("markers time /{n}"), &units);
            }
        }
    }
}

/// Each bad value stops the run before anything is built: exit 2 and one line saying
/// what was wrong.
#[test]
fn bad_partition_values_are_one_usage_error() {
    let fixture = FixtureCopy::new("passing");
    let dir = fixture.path();
    let cases: &[(&[&str], Vars, &str)] = &[
        (&["--partition", "hash:0/2"], &[], "`hash:0/2`"),
        (&["--partition", "hash:3/2"], &[], "`hash:3/2`"),
        (&["--partition", "foo:1/2"], &[], "`foo:1/2`"),
        (&["--partition", "hash:1/0"], &[], "`hash:1/0`"),
        (&["--partition", "hash:x"], &[], "`hash:x`"),
        (&["--partition", "hash:1/2/3"], &[], "`hash:1/2/3`"),
        (&["--partition", "auto"], &[], "no CI shard variables"),
        (&["--partition", "hash:auto"], &[], "no CI shard variables"),
        // GitLab counts from 1, CircleCI from 0.
        (
            &["--partition", "auto"],
            &[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")],
            "CI_NODE_INDEX=0",
        ),
        (
            &["--partition", "auto"],
            &[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "2")],
            "CIRCLE_NODE_INDEX=2",
        ),
        (
            &["--partition", "auto"],
            &[("JOB_COMPLETION_INDEX", "1")],
            "XPAR_PARTITION_TOTAL is not",
        ),
        (
            &[],
            &[("TEST_TOTAL_SHARDS", "2"), ("TEST_SHARD_INDEX", "2")],
            "TEST_SHARD_INDEX=2",
        ),
    ];
    for (args, env, said) in cases {
        let run = run_with(dir, args, env);
        assert_eq!(run.code(), Some(2), "{args:?} {env:?}\n{run}");
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{args:?} {env:?}: not one line\n{run}");
        assert!(
            lines[0].contains("--partition") || lines[0].contains("TEST_SHARD_INDEX"),
            "{run}"
        );
        assert!(
            lines[0].contains(said),
            "{args:?} {env:?}: no {said:?}\n{run}"
        );
        assert!(
            !dir.join("target").exists(),
            "{args:?}: built before refusing\n{run}"
        );
    }
}

/// `--partition auto` (or `KIND:auto`) with each CI's variables on the process: it says
/// where its shard came from and runs what `KIND:K/N` runs.
#[test]
fn auto_reads_each_ci_and_runs_that_shard() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    // Each run its own history, none yet: `time` then splits by count alone, the same
    // way each time.
    let fresh = |i: usize| dir.join(format!("history-{i}.json"));
    let cases: &[(&str, Vars, &str, &str)] = &[
        (
            "hash:auto",
            &[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "2")],
            "hash:1/2",
            "shard 1 of 2 from GitLab (CI_NODE_INDEX=1, CI_NODE_TOTAL=2)",
        ),
        (
            "hash:auto",
            &[("CIRCLE_NODE_INDEX", "1"), ("CIRCLE_NODE_TOTAL", "2")],
            "hash:2/2",
            "shard 2 of 2 from CircleCI (CIRCLE_NODE_INDEX=1, CIRCLE_NODE_TOTAL=2)",
        ),
        (
            "hash:auto",
            &[
                ("BUILDKITE_PARALLEL_JOB", "2"),
                ("BUILDKITE_PARALLEL_JOB_COUNT", "3"),
            ],
            "hash:3/3",
            "shard 3 of 3 from Buildkite (BUILDKITE_PARALLEL_JOB=2, BUILDKITE_PARALLEL_JOB_COUNT=3)",
        ),
        (
            "slice:auto",
            &[("JOB_COMPLETION_INDEX", "0"), ("XPAR_PARTITION_TOTAL", "3")],
            "slice:1/3",
            "shard 1 of 3 from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX=0, XPAR_PARTITION_TOTAL=3)",
        ),
        (
            "auto",
            &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")],
            "time:2/3",
            "shard 2 of 3 from GitLab (CI_NODE_INDEX=2, CI_NODE_TOTAL=3)",
        ),
    ];
    for (i, &(auto, env, same_as, said)) in cases.iter().enumerate() {
        let h = fresh(2 * i);
        let by_ci = json_run(
            dir,
            &["-j", "2", "--partition", auto, "--durations", s(&h)],
            env,
        );
        assert_eq!(by_ci.run.code(), Some(0), "{auto} {env:?}\n{}", by_ci.run);
        let line = format!("Partition {said}");
        assert!(
            by_ci.run.stderr.contains(&line),
            "no {line:?}\n{}",
            by_ci.run
        );
        let h = fresh(2 * i + 1);
        let given = json_run(
            dir,
            &["-j", "2", "--partition", same_as, "--durations", s(&h)],
            &[],
        );
        assert_eq!(given.run.code(), Some(0), "{same_as}\n{}", given.run);
        assert!(!given.run.stderr.contains("Partition"), "{}", given.run);
        let mine = tests_of(&by_ci);
        assert!(
            !mine.is_empty(),
            "{auto} {env:?}: an empty shard proves nothing"
        );
        assert_eq!(mine, tests_of(&given), "{auto} {env:?} against {same_as}");
    }
}

/// Under Bazel's sharding variables each shard runs its `hash` share, says so, touches the
/// status file, writes its JUnit to XML_OUTPUT_FILE and keeps its temp dirs in TEST_TMPDIR;
/// the two shards together run every test once.
#[test]
fn bazel_sharding_runs_a_hash_shard_the_bazel_way() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    let mut shards = Vec::new();
    for index in 0..2 {
        let bazel = dir.join(format!("bazel-{index}"));
        let tmp = bazel.join("tmp");
        std::fs::create_dir_all(&tmp).expect("create TEST_TMPDIR");
        let status = bazel.join("shard-status");
        let xml = bazel.join("test.outputs").join("test.xml");
        let index_s = index.to_string();
        let env = [
            ("TEST_TOTAL_SHARDS", "2"),
            ("TEST_SHARD_INDEX", index_s.as_str()),
            ("TEST_SHARD_STATUS_FILE", s(&status)),
            ("XML_OUTPUT_FILE", s(&xml)),
            ("TEST_TMPDIR", s(&tmp)),
        ];
        let run = json_run(dir, &["-j", "2", "--keep-tmp"], &env);
        assert_eq!(run.run.code(), Some(0), "{}", run.run);
        let line = format!(
            "Partition shard {} of 2 from Bazel (TEST_SHARD_INDEX={index}, TEST_TOTAL_SHARDS=2)",
            index + 1
        );
        assert!(run.run.stderr.contains(&line), "no {line:?}\n{}", run.run);
        assert!(
            status.is_file(),
            "the shard status file was not touched\n{}",
            run.run
        );
        let text = std::fs::read_to_string(&xml)
            .unwrap_or_else(|e| panic!("no JUnit at XML_OUTPUT_FILE: {e}\n{}", run.run));
        let cases = parse_junit(&text).expect("a valid JUnit report");
        let junit: BTreeSet<Key> = cases.into_iter().map(|c| (c.classname, c.name)).collect();
        let mine = tests_of(&run);
        assert_eq!(junit, mine, "the JUnit and the JSON report differ");
        let kept: Vec<String> = std::fs::read_dir(&tmp)
            .expect("read TEST_TMPDIR")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            kept.iter().any(|n| n.starts_with("xpar-")),
            "no run dir in TEST_TMPDIR: {kept:?}\n{}",
            run.run
        );
        let p = format!("hash:{}/2", index + 1);
        let by_flag = json_run(dir, &["-j", "2", "--partition", &p], &[]);
        assert_eq!(tests_of(&by_flag), mine, "Bazel shard {index} against {p}");
        shards.push(mine);
    }
    assert_split("Bazel /2", &shards, &keys(DIST));
}

/// `--durations FILE` is made with its missing parent directories, holds what the run
/// measured (and the run history's estimates are left alone), and is read by the next run:
/// `time` puts the slow test alone, which it does not do with no history.
#[test]
fn durations_file_is_written_then_read() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    let history = dir.join("ci-cache").join("deep").join("durations.json");
    let first = json_run(dir, &["-j", "2", "--durations", s(&history)], &[]);
    assert_eq!(first.run.code(), Some(0), "{}", first.run);
    let secs = read_history(&history);
    assert_eq!(secs.keys().cloned().collect::<BTreeSet<_>>(), keys(DIST));
    assert!(
        secs[&("dist".to_owned(), "zz::slow".to_owned())] >= 0.3,
        "{secs:?}"
    );
    assert!(
        history_estimates(dir).is_empty(),
        "the run history's estimates were written too"
    );
    let slow = ("dist".to_owned(), "zz::slow".to_owned());
    // What the file is read for, on numbers a loaded machine cannot skew: the 14 short
    // tests at 20 ms (0.28 s together) and the slow one at 0.4 s, as measured alone.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&history).unwrap()).unwrap();
    for (binary, tests) in doc["durations"].as_object_mut().unwrap().iter_mut() {
        for (name, secs) in tests.as_object_mut().unwrap().iter_mut() {
            let slow = binary == "dist" && name == "zz::slow";
            *secs = if slow { 0.4 } else { 0.02 }.into();
        }
    }
    std::fs::write(&history, doc.to_string()).unwrap();
    let slow_shard = |h: &Path| -> BTreeSet<Key> {
        (1..=2)
            .map(|k| {
                let copy = history_copy(h, dir, "copy.json");
                let p = format!("time:{k}/2");
                let run = json_run(
                    dir,
                    &["-j", "2", "--partition", &p, "--durations", s(&copy)],
                    &[],
                );
                assert_eq!(run.run.code(), Some(0), "{}", run.run);
                tests_of(&run)
            })
            .find(|t| t.contains(&slow))
            .expect("the slow test in a shard")
    };
    assert_eq!(slow_shard(&history), BTreeSet::from([slow.clone()]));
    // No history: every test expected alike, the slow one shares its shard.
    let empty = dir.join("empty.json");
    std::fs::write(&empty, r#"{"format_version": 1, "durations": {}}"#).expect("write");
    assert!(slow_shard(&empty).len() > 1);
}

/// A history file that cannot be used (not JSON, not UTF-8, another format version) costs
/// a warning naming it; the run goes on and writes a good one in its place. A directory at
/// the path is refused before building, as for a report path.
#[test]
fn a_bad_durations_file_is_a_warning_and_is_replaced() {
    let fixture = FixtureCopy::new("dist");
    let dir = fixture.path();
    let history = dir.join("durations.json");
    let bad: [&[u8]; 3] = [
        b"{ not json",
        b"\xff\xfe\x00 not text",
        br#"{"format_version": 99, "durations": {}}"#,
    ];
    for content in bad {
        std::fs::write(&history, content).expect("write the bad history");
        let run = json_run(dir, &["-j", "2", "--durations", s(&history)], &[]);
        assert_eq!(run.run.code(), Some(0), "{}", run.run);
        let warning = format!(
            "warning: ignoring the duration history at {}",
            history.display()
        );
        assert!(
            run.run.stderr.contains(&warning),
            "no {warning:?}\n{}",
            run.run
        );
        assert_eq!(read_history(&history).len(), DIST.len(), "not rewritten");
    }
    let is_dir = dir.join("a-dir");
    std::fs::create_dir(&is_dir).expect("mkdir");
    let run = run_with(dir, &["--durations", s(&is_dir)], &[]);
    assert_eq!(run.code(), Some(2), "{run}");
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{run}");
    assert!(lines[0].contains("is a directory"), "{run}");
}
