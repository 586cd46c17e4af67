//! One run on several machines sharing a queue on a real redis-server (each test starts
//! a throwaway one): `cargo xpar --queue URL --run-id ID` processes take chunks from it,
//! `cargo xpar queue report` makes the run's reports. Each machine is a process of its
//! own on a copy of `fixtures/queue` (sixty tests of 50 ms, one ignored).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use xpar_metadata::RunReport;
use xpar_tests::{run, xpar, FixtureCopy, RedisServer, Run};

/// A machine of the run, started and not waited for.
fn machine(dir: &Path, url: &str, run_id: &str, extra: &[&str]) -> Child {
    let mut cmd = xpar(dir);
    cmd.args(["-j", "1", "-q", "--queue", url, "--run-id", run_id])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start a machine")
}

fn finish(child: Child) -> Run {
    let out = child.wait_with_output().expect("wait for a machine");
    Run {
        command: "a machine of the run".into(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn report(dir: &Path, url: &str, run_id: &str) -> (Run, RunReport) {
    let mut cmd = xpar(dir);
    cmd.args(["queue", "report", "--queue", url, "--run-id", run_id, "-q"])
        .args(["--json", "queue-report.json", "--timeout", "60s"]);
    let r = Run::of(&mut cmd);
    let text = std::fs::read_to_string(dir.join("queue-report.json"))
        .unwrap_or_else(|e| panic!("no report: {e}\n{r}"));
    (r, RunReport::from_json(&text).unwrap())
}

/// How many results each test has in the report.
fn results_per_test(r: &RunReport) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for t in &r.tests {
        *n.entry(t.name.clone()).or_default() += 1;
    }
    n
}

/// Waits until run `run_id` is in the queue (a machine seeded it).
fn wait_for_run(dir: &Path, url: &str, run_id: &str) {
    let start = Instant::now();
    loop {
        let status =
            Run::of(xpar(dir).args(["queue", "status", "--queue", url, "--run-id", run_id]));
        if status.stdout.contains("/60 done") {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{status}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Builds the fixture's tests once, so the machines do not race to build.
fn built(fixture: &str) -> FixtureCopy {
    let f = FixtureCopy::new(fixture);
    let b = run(f.path(), &["list"]);
    assert_eq!(b.code(), Some(0), "{b}");
    f
}

#[test]
fn three_machines_share_a_run_and_each_test_has_one_result() {
    let Some(redis) = RedisServer::start("three_machines_share_a_run") else {
        return;
    };
    let f = built("queue");
    let url = redis.url();
    let machines: Vec<Child> = (0..3)
        .map(|_| machine(f.path(), &url, "three", &[]))
        .collect();
    let runs: Vec<Run> = machines.into_iter().map(finish).collect();
    for r in &runs {
        assert_eq!(r.code(), Some(0), "{r}");
    }
    let seeded = runs
        .iter()
        .filter(|r| r.stderr.contains("seeded it with 60 tests"))
        .count();
    assert_eq!(seeded, 1, "one machine seeds the run");
    let (rep, report) = report(f.path(), &url, "three");
    assert_eq!(rep.code(), Some(0), "{rep}");
    let per_test = results_per_test(&report);
    assert_eq!(per_test.len(), 61, "{per_test:?}");
    assert!(per_test.values().all(|&n| n == 1), "{per_test:?}");
    assert_eq!(report.counts.passed, 60);
    assert_eq!(report.counts.ignored, 1, "the ignored test, once");
    machines_are_lanes(&report, &runs);
}

/// Each machine of the report is one of `runs`, its workers a lane of their own, and
/// every test that ran names its machine and a worker of that machine's lane.
fn machines_are_lanes(report: &RunReport, runs: &[Run]) {
    let names: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.stderr.split(" as ").nth(1)?.split(':').next())
        .collect();
    assert!(report.machines.len() >= 2, "{:?}", report.machines);
    let mut next = 0;
    for m in &report.machines {
        assert!(
            names.contains(&m.name.as_str()),
            "{} not in {names:?}",
            m.name
        );
        assert_eq!(
            (m.first_worker, m.workers),
            (next, 1),
            "{:?}",
            report.machines
        );
        next += m.workers;
    }
    assert_eq!(report.workers, next);
    for t in report.tests.iter().filter(|t| t.worker.is_some()) {
        let m = (report.machines.iter())
            .find(|m| Some(&m.name) == t.machine.as_ref())
            .unwrap_or_else(|| panic!("{} ran on no machine of the report", t.name));
        let w = t.worker.as_deref().unwrap();
        let lane: usize = w.trim_start_matches("gw").parse().unwrap();
        assert!(
            (m.first_worker..m.first_worker + m.workers).contains(&lane),
            "{} on {w}, not a worker of {m:?}",
            t.name
        );
    }
}

#[test]
fn a_machine_killed_mid_run_loses_its_chunks_to_the_others() {
    let Some(redis) = RedisServer::start("a_machine_killed_mid_run") else {
        return;
    };
    let f = built("queue");
    let url = redis.url();
    let lease = ["--lease-timeout", "2s"];
    let mut victim = machine(f.path(), &url, "killed", &lease);
    let others: Vec<Child> = (0..2)
        .map(|_| machine(f.path(), &url, "killed", &lease))
        .collect();
    // Once the victim holds a chunk, it dies without a word (SIGKILL). It is stopped
    // first (SIGSTOP) and its lease looked at again: between a look and a kill it could
    // have finished the chunk, leaving no lease to expire.
    let start = Instant::now();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &victim.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    };
    let holds_a_chunk = || {
        let status = Run::of(
            xpar(f.path()).args(["queue", "status", "--queue", &url, "--run-id", "killed"]),
        );
        let leases = status.stdout.split("leases (").nth(1).unwrap_or_default();
        (leases.contains(&format!("-{} ", victim.id())), status)
    };
    loop {
        let (held, status) = holds_a_chunk();
        if held {
            signal("-STOP");
            if holds_a_chunk().0 {
                break;
            }
            signal("-CONT");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{status}");
        std::thread::sleep(Duration::from_millis(20));
    }
    victim.kill().unwrap();
    let _ = victim.wait();
    for r in others.into_iter().map(finish) {
        assert_eq!(r.code(), Some(0), "{r}");
    }
    let (rep, report) = report(f.path(), &url, "killed");
    assert_eq!(rep.code(), Some(0), "green where the tests pass: {rep}");
    let per_test = results_per_test(&report);
    assert_eq!(per_test.len(), 61);
    assert!(per_test.values().all(|&n| n == 1), "{per_test:?}");
    let status =
        Run::of(xpar(f.path()).args(["queue", "status", "--queue", &url, "--run-id", "killed"]));
    assert!(
        !status.stdout.contains(" 0 leases expired"),
        "the victim's lease expired: {status}"
    );
}

#[test]
fn redis_lost_mid_run_is_one_error_and_no_green() {
    let Some(mut redis) = RedisServer::start("redis_lost_mid_run") else {
        return;
    };
    let f = built("queue");
    let url = redis.url();
    let m = machine(f.path(), &url, "lost", &[]);
    // Once the run is under way, Redis goes.
    wait_for_run(f.path(), &url, "lost");
    std::thread::sleep(Duration::from_millis(200));
    redis.kill();
    let r = finish(m);
    assert_eq!(r.code(), Some(96), "{r}");
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{r}");
    assert!(
        errors[0].contains(&format!("lost the queue at {url}")),
        "{r}"
    );
}

#[test]
fn an_unreachable_queue_is_said_before_building() {
    let f = FixtureCopy::new("queue");
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let r = run(f.path(), &["--queue", &url, "--run-id", "x"]);
    assert_eq!(r.code(), Some(96), "{r}");
    assert!(
        r.stderr
            .contains(&format!("error: cannot reach the queue at {url}")),
        "{r}"
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "nothing is built first: {r}"
    );
    let bad = run(f.path(), &["--queue", "http://x", "--run-id", "x"]);
    assert_eq!(bad.code(), Some(2), "{bad}");
    let partition = run(
        f.path(),
        &["--queue", &url, "--run-id", "x", "--partition", "hash:1/2"],
    );
    assert_eq!(partition.code(), Some(2), "{partition}");
}

#[test]
fn another_build_is_refused_and_a_finished_run_id_is_not_reused() {
    let Some(redis) = RedisServer::start("another_build") else {
        return;
    };
    let url = redis.url();
    let ours = built("queue");
    let theirs = FixtureCopy::new("queue");
    let lib = theirs.path().join("src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, src.replace("50)", "51)")).unwrap();
    assert_eq!(run(theirs.path(), &["list"]).code(), Some(0));

    let first = machine(ours.path(), &url, "b1", &[]);
    wait_for_run(ours.path(), &url, "b1");

    let other = run(
        theirs.path(),
        &["-j", "1", "--queue", &url, "--run-id", "b1"],
    );
    assert_eq!(other.code(), Some(96), "{other}");
    assert!(other.stderr.contains("is of another build"), "{other}");
    assert_eq!(finish(first).code(), Some(0));
    let again = run(
        theirs.path(),
        &["-j", "1", "--queue", &url, "--run-id", "b1"],
    );
    assert_eq!(again.code(), Some(96), "{again}");
    assert!(again.stderr.contains("has finished"), "{again}");
}

#[test]
fn maxfail_counts_every_machines_failures() {
    let Some(redis) = RedisServer::start("maxfail_across") else {
        return;
    };
    let f = built("queue");
    let url = redis.url();
    // t00, t10, ..., t50 fail: six failures spread over the run.
    let spawn = || {
        let mut cmd = xpar(f.path());
        cmd.args([
            "-j",
            "1",
            "-q",
            "--queue",
            &url,
            "--run-id",
            "mf",
            "--maxfail",
            "2",
        ])
        .env("QUEUED_FAIL", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    let machines = [spawn(), spawn()];
    for r in machines.map(finish) {
        assert_eq!(r.code(), Some(100), "{r}");
    }
    let (rep, report) = report(f.path(), &url, "mf");
    assert_eq!(rep.code(), Some(100), "{rep}");
    assert!(report.cancelled, "{rep}");
    assert!(report.counts.not_run > 0, "{rep}");
    assert!(rep.stderr.contains("--maxfail"), "{rep}");
}

#[test]
fn a_report_of_a_run_no_machine_joined_gives_up() {
    let Some(redis) = RedisServer::start("a_report_of_a_run_no_machine_joined") else {
        return;
    };
    let url = redis.url();
    let f = FixtureCopy::new("queue");
    let mut cmd = xpar(f.path());
    cmd.args(["queue", "report", "--queue", &url, "--run-id", "never"])
        .args(["--timeout", "1s"]);
    let r = Run::of(&mut cmd);
    assert_eq!(r.code(), Some(96), "{r}");
    assert!(
        r.stderr.contains("Waiting for the run's first machine")
            && r.stderr
                .contains("error: no machine joined run `never` in 1s"),
        "{r}"
    );
    let status =
        Run::of(xpar(f.path()).args(["queue", "status", "--queue", &url, "--run-id", "never"]));
    assert_eq!(status.code(), Some(96), "{status}");
    assert!(status.stderr.contains("error: no run `never`"), "{status}");
}
