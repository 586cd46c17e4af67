//! Tests of the batch protocol against a scripted stand-in for a libtest binary: it
//! speaks the same JSON events and can crash, exit, or leave names out on command.

use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use super::run_named;
use crate::discover::{BinaryKind, TestBinary};
use crate::execute::context::BatchContext;
use crate::execute::inbox::Inbox;
use crate::execute::messages::WorkerMsg;
use crate::execute::run_env::RunEnv;
use crate::report::{Failure, TestOutcome, TestStatus};

/// Speaks libtest's batch protocol: runs the names after `--exact` sorted, writes
/// `test NAME ... ` and the result word to stdout and `ok NAME` to the result log
/// (fd 3). `crash*` aborts, `exit*` exits 0, `missing*` does not exist, `victim`
/// aborts only when `culprit` ran before it in the same process.
const FAKE_LIBTEST: &str = r#"#!/bin/sh
echo x >> "$0.spawns"
[ -n "$FAKE_STARTUP_FAILURE" ] && { echo "error while loading shared libraries"; exit 127; }
seen=0
names=""
for a in "$@"; do
  [ "$seen" = 1 ] && names="$names
$a"
  [ "$a" = "--exact" ] && seen=1
done
culprit=0
for a in $(printf '%s\n' "$names" | LC_ALL=C sort); do
  case "$a" in missing*) continue;; esac
  printf 'test %s ... ' "$a"
  echo "output of $a"
  case "$a" in crash*) kill -ABRT $$;; exit*) exit 0;; esac
  [ "$a" = victim ] && [ "$culprit" = 1 ] && kill -ABRT $$
  [ "$a" = culprit ] && culprit=1
  echo ok
  echo "ok $a" >&3
done
printf '\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n'
"#;

struct Fake {
    dir: tempfile::TempDir,
    binary: TestBinary,
}

fn fake(env: &[(&str, &str)]) -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake-test");
    std::fs::write(&path, FAKE_LIBTEST).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = TestBinary {
        id: crate::discover::binary_id("fake", BinaryKind::Lib, "fake"),
        package: "fake".into(),
        kind: BinaryKind::Lib,
        path,
        cwd: dir.path().to_owned(),
        args: Vec::new(),
        timeout: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        no_listing: None,
        repeated: Vec::new(),
        runner: Vec::new(),
    };
    Fake { dir, binary }
}

impl Fake {
    fn spawns(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("fake-test.spawns"))
            .map_or(0, |s| s.lines().count())
    }

    fn run(&self, names: &[&str]) -> Vec<TestOutcome> {
        self.run_with_broken(names).0
    }

    /// The outcomes, and the reasons given for a binary that could not start.
    fn run_with_broken(&self, names: &[&str]) -> (Vec<TestOutcome>, Vec<String>) {
        // Nothing stops these runs: the dispatcher's end of the inbox stays silent.
        let (_stop, messages) = std::sync::mpsc::channel();
        let inbox = Inbox::new(messages);
        let run_env = RunEnv::create(1, false, None).unwrap();
        let ctx = BatchContext {
            binary_index: 0,
            binary: &self.binary,
            worker: 0,
            workers: 1,
            include_ignored: false,
            capture: true,
            exit_timeout: None,
            test_args: &[],
            all_names: &[],
            inbox: &inbox,
            run_start: Instant::now(),
            run_env: &run_env,
            on_spawn: &|_| {},
            may_go_on: &|| true,
            was_killed: &|| false,
        };
        let mut outcomes = Vec::new();
        let mut broken = Vec::new();
        let names = names.iter().map(|s| s.to_string()).collect();
        fn collect(msg: WorkerMsg, outcomes: &mut Vec<TestOutcome>, broken: &mut Vec<String>) {
            match msg {
                WorkerMsg::Finished { outcome } => outcomes.push(outcome),
                WorkerMsg::BinaryBroken { reason, .. } => broken.push(reason),
                WorkerMsg::Many(msgs) => {
                    for m in msgs {
                        collect(m, outcomes, broken);
                    }
                }
                _ => {}
            }
        }
        run_named(&ctx, names, &mut |msg| {
            collect(msg, &mut outcomes, &mut broken)
        });
        (outcomes, broken)
    }
}

fn status_of<'a>(outcomes: &'a [TestOutcome], name: &str) -> &'a TestStatus {
    let found: Vec<_> = outcomes.iter().filter(|o| o.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "{name} must have exactly one result: {outcomes:#?}"
    );
    &found[0].status
}

#[test]
fn crashes_fail_one_test_and_the_rest_run_in_a_fresh_process() {
    let f = fake(&[]);
    let out = f.run(&["a", "crash", "b", "exit0", "c"]);
    assert_eq!(out.len(), 5);
    for name in ["a", "b", "c"] {
        assert_eq!(*status_of(&out, name), TestStatus::Passed);
    }
    assert_eq!(
        *status_of(&out, "crash"),
        TestStatus::Failed(Failure::Signal {
            signal: 6,
            name: "SIGABRT".into()
        })
    );
    assert_eq!(
        *status_of(&out, "exit0"),
        TestStatus::Failed(Failure::Exited { code: 0 })
    );
    let crash = out.iter().find(|o| o.name == "crash").unwrap();
    assert!(
        crash.output.starts_with("output of crash\n"),
        "{}",
        crash.output
    );
    // The batch, `crash` alone, the rest, `exit0` alone.
    assert_eq!(f.spawns(), 4);
}

#[test]
fn a_test_that_passes_alone_is_not_blamed_for_the_crash_the_test_before_caused() {
    let f = fake(&[]);
    let out = f.run(&["victim", "a", "culprit", "z"]);
    assert_eq!(out.len(), 4, "{out:#?}");
    assert_eq!(*status_of(&out, "victim"), TestStatus::Passed);
    assert_eq!(*status_of(&out, "a"), TestStatus::Passed);
    assert_eq!(*status_of(&out, "z"), TestStatus::Passed);
    match status_of(&out, "culprit") {
        TestStatus::Failed(Failure::CrashedAfter { during, how }) => {
            assert_eq!(during, "victim");
            assert!(how.contains("SIGABRT"), "{how}");
        }
        other => panic!("the culprit reported as {other:?}"),
    }
    // The batch, `victim` alone, then `z` in a fresh process.
    assert_eq!(f.spawns(), 3);
}

#[test]
fn a_name_that_comes_back_without_a_result_fails() {
    let f = fake(&[]);
    let out = f.run(&["a", "missing_one"]);
    assert_eq!(*status_of(&out, "a"), TestStatus::Passed);
    match status_of(&out, "missing_one") {
        TestStatus::Failed(Failure::NoResult { reason }) => {
            assert!(reason.contains("finished without running it"), "{reason}")
        }
        other => panic!("missing test reported as {other:?}"),
    }
    assert_eq!(f.spawns(), 1);
}

#[test]
fn a_binary_that_dies_on_start_fails_its_tests_once_without_looping() {
    let f = fake(&[("FAKE_STARTUP_FAILURE", "1")]);
    let (out, broken) = f.run_with_broken(&["a", "b", "c"]);
    assert_eq!(out.len(), 3);
    for o in &out {
        assert_eq!(
            o.status,
            TestStatus::Failed(Failure::BinaryBroken),
            "{}",
            o.name
        );
    }
    // Why, said once for the binary, with what it printed.
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0].contains("exit status 127 before running any test"),
        "{broken:?}"
    );
    assert!(
        broken[0].contains("error while loading shared libraries"),
        "{broken:?}"
    );
    assert_eq!(f.spawns(), 1);
}
