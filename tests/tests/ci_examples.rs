//! The CI examples of `docs/ci.md` and `docs/ci-queue.md`, run as written: every `cargo
//! xpar` command of each example, in the order its CI runs them, each CI machine a fresh
//! checkout of the fixture, with the variables the CI sets (and, for the queue, a
//! throwaway redis-server for the CI's Redis). What cannot run here is the CI around the
//! commands (artifacts and caches are copies between the checkouts).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

use xpar_metadata::RunReport;
use xpar_tests::{read_junit, run, workspace_root, xpar, FixtureCopy, RedisServer, Run};

/// The fenced blocks of `doc` (a path in the repository), in order: (language, text).
fn blocks(doc: &str) -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(workspace_root().join(doc)).unwrap();
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in doc.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => open = Some((lang.to_owned(), String::new())),
            (Some(_), Some(_)) => out.push(open.take().unwrap()),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The `cargo xpar` commands of a block: what follows `cargo xpar`.
fn commands(block: &str) -> Vec<String> {
    block
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("cargo xpar ").map(|(_, args)| args.to_owned()))
        .collect()
}

/// The example's commands, by CI: `(github, gitlab, bazel)`.
fn examples() -> (Vec<String>, Vec<String>, Vec<String>) {
    let blocks = blocks("docs/ci.md");
    let yaml: Vec<&String> = blocks
        .iter()
        .filter(|(lang, _)| lang == "yaml")
        .map(|(_, t)| t)
        .collect();
    let sh = blocks
        .iter()
        .find(|(lang, _)| lang == "sh")
        .map(|(_, t)| t)
        .expect("the Bazel test script");
    assert_eq!(yaml.len(), 2, "GitHub Actions and GitLab");
    (commands(yaml[0]), commands(yaml[1]), commands(sh))
}

/// Runs `cargo xpar ARGS` in `dir`, `ARGS` split as the shell splits these (no quotes
/// in the examples).
fn xpar_in(dir: &Path, args: &str, env: &[(&str, String)]) -> Run {
    let mut cmd = xpar(dir);
    cmd.args(args.split_whitespace());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::of(&mut cmd)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// (binary id, name) -> status of a JSON report.
fn verdicts(path: &Path) -> BTreeMap<(String, String), String> {
    let report = RunReport::from_json(&std::fs::read_to_string(path).unwrap()).unwrap();
    report
        .tests
        .into_iter()
        .map(|t| {
            let status = serde_json::to_value(t.status).unwrap();
            (
                (t.binary_id.as_str().to_owned(), t.name),
                status.as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What one machine reports for the fixture.
fn one_machine(dir: &Path) -> BTreeMap<(String, String), String> {
    let one = run(dir, &["--no-fail-fast", "--json", "one.json"]);
    assert_eq!(one.code(), Some(100), "{one}");
    verdicts(&dir.join("one.json"))
}

#[test]
fn github_actions_build_shards_and_merge() {
    let (github, _, _) = examples();
    assert_eq!(github.len(), 3, "{github:?}");
    let (archive, shard, merge) = (&github[0], &github[1], &github[2]);
    let build = FixtureCopy::new("archive");
    let a = xpar_in(build.path(), archive, &[]);
    assert_eq!(a.code(), Some(0), "{a}");
    let expected = one_machine(build.path());
    let tests_archive = build.path().join("tests.tar.zst");

    // Four machines, each a fresh checkout with the archive and no build.
    let merger = FixtureCopy::new("archive");
    for k in 1..=4 {
        let machine = FixtureCopy::new("archive");
        std::fs::copy(&tests_archive, machine.path().join("tests.tar.zst")).unwrap();
        let args = shard.replace("${{ matrix.shard }}", &k.to_string());
        let s = xpar_in(machine.path(), &args, &[]);
        assert!(matches!(s.code(), Some(0 | 100)), "shard {k}: {s}");
        assert!(!machine.path().join("target/debug").exists(), "built: {s}");
        copy_dir(
            &machine.path().join(format!("results/{k}")),
            &merger.path().join(format!("results/{k}")),
        );
    }
    std::fs::copy(&tests_archive, merger.path().join("tests.tar.zst")).unwrap();
    let m = xpar_in(merger.path(), merge, &[]);
    assert_eq!(m.code(), Some(100), "{m}");
    let dir = merger.path();
    assert_eq!(verdicts(&dir.join("report.json")), expected, "{m}");
    assert_eq!(read_junit(&dir.join("junit.xml")).len(), expected.len());
    let lcov = std::fs::read_to_string(dir.join("coverage/lcov.info")).unwrap();
    assert!(lcov.contains("SF:") && lcov.contains("DA:"), "{lcov}");
    let history = std::fs::read_to_string(dir.join("xpar-durations.json")).unwrap();
    assert!(history.contains("reads_out_dir"), "{history}");
}

#[test]
fn gitlab_parallel_jobs_and_report() {
    let (_, gitlab, _) = examples();
    assert_eq!(gitlab.len(), 3, "{gitlab:?}");
    let (archive, shard, merge) = (&gitlab[0], &gitlab[1], &gitlab[2]);
    let build = FixtureCopy::new("archive");
    assert_eq!(xpar_in(build.path(), archive, &[]).code(), Some(0));
    let expected = one_machine(build.path());
    let report = FixtureCopy::new("archive");
    for k in 1..=4 {
        let job = FixtureCopy::new("archive");
        std::fs::copy(
            build.path().join("tests.tar.zst"),
            job.path().join("tests.tar.zst"),
        )
        .unwrap();
        // The shell expands $CI_NODE_INDEX; cargo xpar reads both variables.
        let args = shard.replace("$CI_NODE_INDEX", &k.to_string());
        let env = [
            ("CI_NODE_INDEX", k.to_string()),
            ("CI_NODE_TOTAL", "4".to_owned()),
        ];
        let s = xpar_in(job.path(), &args, &env);
        assert!(matches!(s.code(), Some(0 | 100)), "job {k}: {s}");
        assert!(
            s.stderr.contains(&format!(
                "Partition shard {k} of 4 from GitLab (CI_NODE_INDEX={k}, CI_NODE_TOTAL=4)"
            )),
            "{s}"
        );
        copy_dir(
            &job.path().join(format!("results/{k}")),
            &report.path().join(format!("results/{k}")),
        );
    }
    let m = xpar_in(report.path(), merge, &[]);
    assert_eq!(m.code(), Some(100), "{m}");
    assert_eq!(verdicts(&report.path().join("report.json")), expected);
    assert!(report.path().join("junit.xml").is_file());
    assert!(report.path().join("xpar-durations.json").is_file());
}

#[test]
fn bazel_shards_by_itself() {
    let (_, _, bazel) = examples();
    assert_eq!(bazel.len(), 1, "{bazel:?}");
    let doc = std::fs::read_to_string(workspace_root().join("docs/ci.md")).unwrap();
    assert!(doc.contains("shard_count = 4"));
    let build = FixtureCopy::new("archive");
    let a = xpar_in(build.path(), "archive --archive-file tests.tar.zst", &[]);
    assert_eq!(a.code(), Some(0), "{a}");
    let expected = one_machine(build.path());
    let mut seen: Vec<(String, String)> = Vec::new();
    for index in 0..4 {
        let sandbox = FixtureCopy::new("archive");
        let dir = sandbox.path();
        std::fs::copy(
            build.path().join("tests.tar.zst"),
            dir.join("tests.tar.zst"),
        )
        .unwrap();
        let tmp = dir.join("bazel-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let out = |name: &str| dir.join(name).display().to_string();
        let env = [
            ("TEST_TOTAL_SHARDS", "4".to_owned()),
            ("TEST_SHARD_INDEX", index.to_string()),
            ("TEST_SHARD_STATUS_FILE", out("shard-status")),
            ("XML_OUTPUT_FILE", out("test.xml")),
            ("TEST_TMPDIR", tmp.display().to_string()),
        ];
        let s = xpar_in(dir, &bazel[0], &env);
        assert!(matches!(s.code(), Some(0 | 100)), "shard {index}: {s}");
        assert!(dir.join("shard-status").is_file(), "{s}");
        for case in read_junit(&dir.join("test.xml")) {
            seen.push((case.classname, case.name));
        }
    }
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a test in two shards: {seen:?}");
    let all: BTreeSet<_> = expected.keys().cloned().collect();
    assert_eq!(unique, all);
}

/// The queue examples' commands: `(github, kubernetes)`.
fn queue_examples() -> (Vec<String>, Vec<String>) {
    let yaml: Vec<String> = blocks("docs/ci-queue.md")
        .into_iter()
        .filter(|(lang, _)| lang == "yaml")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(yaml.len(), 2, "GitHub Actions and Kubernetes");
    (commands(&yaml[0]), commands(&yaml[1]))
}

/// Runs `machine` on `n` fresh checkouts with the archive at once, then `report` on
/// another; the report's verdicts must be one machine's, each test with one result.
fn queue_run(machine: &str, report: &str, n: usize) {
    let build = FixtureCopy::new("archive");
    let a = xpar_in(build.path(), "archive --archive-file tests.tar.zst", &[]);
    assert_eq!(a.code(), Some(0), "{a}");
    let expected = one_machine(build.path());
    let checkouts: Vec<FixtureCopy> = (0..n).map(|_| FixtureCopy::new("archive")).collect();
    let children: Vec<_> = checkouts
        .iter()
        .map(|c| {
            let to = c.path().join("tests.tar.zst");
            std::fs::copy(build.path().join("tests.tar.zst"), to).unwrap();
            let mut cmd = xpar(c.path());
            cmd.args(machine.split_whitespace())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().expect("start a machine")
        })
        .collect();
    for (k, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 100)),
            "machine {k}: {stderr}"
        );
        assert!(stderr.contains("Queue run"), "machine {k}: {stderr}");
        assert!(
            !checkouts[k].path().join("target/debug").exists(),
            "built: {stderr}"
        );
    }
    let reporter = FixtureCopy::new("archive");
    std::fs::create_dir_all(reporter.path().join("reports")).unwrap();
    // The example's absolute report path, in the checkout.
    let report = report.replace(" /reports/", " reports/");
    let r = xpar_in(reporter.path(), &report, &[]);
    assert_eq!(r.code(), Some(100), "{r}");
    let junit = ["junit.xml", "reports/junit.xml"]
        .map(|p| reporter.path().join(p))
        .into_iter()
        .find(|p| p.is_file())
        .expect("a JUnit report");
    let seen: Vec<(String, String)> = read_junit(&junit)
        .into_iter()
        .map(|c| (c.classname, c.name))
        .collect();
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a test with two results: {seen:?}"
    );
    let ran: BTreeSet<(String, String)> = expected.keys().cloned().collect();
    assert_eq!(unique.len(), ran.len(), "{seen:?}");
    if reporter.path().join("report.json").is_file() {
        assert_eq!(verdicts(&reporter.path().join("report.json")), expected);
    }
}

#[test]
fn github_actions_queue_matrix_and_report() {
    let Some(redis) = RedisServer::start("github_actions_queue_matrix_and_report") else {
        return;
    };
    let (github, _) = queue_examples();
    assert_eq!(github.len(), 3, "{github:?}");
    // The workflow's env: the secret's URL, and the run's id.
    let expand = |c: &str| {
        c.replace("$XPAR_QUEUE", &redis.url())
            .replace("$XPAR_RUN", "1234-1")
    };
    assert_eq!(github[0], "archive --archive-file tests.tar.zst");
    queue_run(&expand(&github[1]), &expand(&github[2]), 4);
}

#[test]
fn kubernetes_indexed_job_and_report() {
    let Some(redis) = RedisServer::start("kubernetes_indexed_job_and_report") else {
        return;
    };
    let (_, kubernetes) = queue_examples();
    assert_eq!(kubernetes.len(), 2, "{kubernetes:?}");
    // The cluster's Service, here.
    let expand = |c: &str| c.replace("redis://xpar-redis:6379", &redis.url());
    queue_run(&expand(&kubernetes[0]), &expand(&kubernetes[1]), 3);
}
