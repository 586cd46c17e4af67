//! `--html PATH`: the page of a run, a replay, a merge of shards and a queue's report,
//! loaded in a real headless chromium and checked on the DOM it built
//! against the JSON report of the same run (failures and their output, flaky attempts,
//! one timeline lane per worker, lanes per shard and per machine, the coverage table),
//! then photographed. The part that needs chromium is skipped, with a note, where it is
//! not installed (except on CI, which installs it with `.ci/setup`).

use std::collections::BTreeSet;
use std::path::Path;

use scraper::{ElementRef, Html, Selector};
use xpar_metadata::{ReportTestStatus, RunReport};
use xpar_tests::{run, xpar, Browser, FixtureCopy, RedisServer, Run};

/// A suite whose output and verdict are markup: the page must show it as text.
const MARKUP_SUITE: &str = r#"
[[suite]]
name = "markup"
command = ["sh", "-c", "echo '<b id=\"injected\">bold</b> & <script>document.title=\"pwned\"</script>'; exit 3"]
"#;

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap_or_else(|e| panic!("{css}: {e}"))
}

fn text(e: ElementRef<'_>) -> String {
    e.text().collect()
}

/// The text of every element `css` selects under `root`.
fn texts(root: ElementRef<'_>, css: &str) -> Vec<String> {
    root.select(&sel(css)).map(text).collect()
}

fn read_report(path: &Path) -> RunReport {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no JSON report at {}: {e}", path.display()));
    RunReport::from_json(&text).unwrap()
}

/// The page at `path`, as chromium built it, after checking that the file asks for
/// nothing outside itself.
fn load(browser: &Browser, path: &Path) -> Html {
    let raw = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no HTML report at {}: {e}", path.display()));
    for outside in [
        "http:", "https:", "src=", "url(", "@import", "<link", "<script",
    ] {
        assert!(
            !raw.contains(outside),
            "{} refers to something outside it: {outside}",
            path.display()
        );
    }
    assert!(
        raw.contains("default-src 'none'"),
        "no policy that loads nothing"
    );
    let dom = Html::parse_document(&browser.dump_dom(path));
    // Its only links are to its own sections.
    for a in dom.select(&sel("a")) {
        let href = a.value().attr("href").unwrap_or_default();
        assert!(href.starts_with('#'), "a link out of the page: {href}");
    }
    dom
}

/// The ids of the page's sections.
fn sections(dom: &Html) -> Vec<String> {
    (dom.select(&sel("main > section")))
        .filter_map(|s| s.value().attr("id").map(str::to_owned))
        .collect()
}

/// (binary id, name) of every failure the page lists.
fn listed_failures(dom: &Html) -> BTreeSet<(String, String)> {
    (dom.select(&sel("#failures details.failure")))
        .map(|d| {
            (
                texts(d, "summary .bin").concat(),
                texts(d, "summary .name").concat(),
            )
        })
        .collect()
}

/// The timeline's lanes, group by group: (the group's label, its lanes' workers).
fn lanes(dom: &Html) -> Vec<(String, Vec<String>)> {
    (dom.select(&sel("#timeline svg g.group")))
        .map(|g| {
            let workers = (g.select(&sel("g.lane")))
                .map(|l| l.value().attr("data-worker").unwrap_or_default().to_owned())
                .collect();
            (texts(g, "text.group-label").concat(), workers)
        })
        .collect()
}

/// `gwN` for each of `n` workers from `first`.
fn workers(first: usize, n: usize) -> Vec<String> {
    (first..first + n).map(|i| format!("gw{i}")).collect()
}

/// The page's screenshot at 1400x2000 in `dir`, as the tests leave it for a person.
fn screenshot(browser: &Browser, page: &Path, dir: &Path) {
    let png = dir.join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    assert_eq!(browser.screenshot(page, &png, (1400, 2000)), (1400, 2000));
}

#[test]
fn a_run_with_failures_and_its_replay() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    std::fs::create_dir_all(dir.join(".config")).unwrap();
    std::fs::write(dir.join(".config/xpar.toml"), MARKUP_SUITE).unwrap();
    let r = run(
        dir,
        &[
            "-j",
            "2",
            "--no-fail-fast",
            "--json",
            "report.json",
            "--html",
            "out/report.html",
        ],
    );
    assert_eq!(r.code(), Some(100), "{r}");
    let report = read_report(&dir.join("report.json"));
    let Some(browser) = Browser::find("a_run_with_failures_and_its_replay") else {
        return;
    };
    let page = dir.join("out/report.html");
    let dom = load(&browser, &page);
    let root = dom.root_element();
    assert_eq!(
        sections(&dom),
        ["summary", "failures", "flaky", "slowest", "binaries", "timeline"]
    );

    // Every failure of the report, with its output, and the markup in one shown as text.
    let failed: BTreeSet<(String, String)> = (report.tests.iter())
        .filter(|t| t.status == ReportTestStatus::Failed)
        .map(|t| (t.binary_id.to_string(), t.name.clone()))
        .collect();
    assert!(failed.len() > 2 && failed.iter().any(|(b, _)| b == "@suite/markup"));
    assert_eq!(listed_failures(&dom), failed);
    for t in report
        .tests
        .iter()
        .filter(|t| t.status == ReportTestStatus::Failed)
    {
        let shown = (dom.select(&sel("#failures details.failure")))
            .find(|d| texts(*d, "summary .name").concat() == t.name)
            .unwrap();
        let output = texts(shown, "pre.output").concat();
        for line in t.output.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                output.contains(line.trim()),
                "{}: {line:?} not in {output:?}",
                t.name
            );
        }
        let message = texts(shown, "summary .message").concat();
        assert_eq!(Some(message.as_str()), t.message.as_deref());
    }
    assert!(
        dom.select(&sel("#injected")).next().is_none(),
        "markup was not escaped"
    );
    assert!(
        dom.select(&sel("script")).next().is_none(),
        "markup was not escaped"
    );
    assert!(text(root).contains("<b id=\"injected\">bold</b> & <script>"));

    // The summary's counts are the report's.
    let card = |label: &str| {
        (dom.select(&sel(".card")))
            .find(|c| texts(*c, ".label").concat() == label)
            .map(|c| texts(c, ".value").concat())
    };
    assert_eq!(card("failed"), Some(report.counts.failed.to_string()));
    assert_eq!(card("passed"), Some(report.counts.passed.to_string()));
    assert_eq!(card("workers"), Some(report.workers.to_string()));

    // One lane per worker; every failure a bar of its own, named in its tooltip.
    assert_eq!(lanes(&dom), [(String::new(), workers(0, report.workers))]);
    let titles = texts(root, "#timeline rect.fail title");
    for (binary, name) in &failed {
        let start = format!("{binary} {name}\n");
        assert!(
            titles.iter().any(|t| t.starts_with(&start)),
            "{start:?} in {titles:?}"
        );
    }

    // The slowest test first; resource columns only when the report has them.
    let slowest = texts(root, "#slowest tbody td.test");
    let longest = (report.tests.iter())
        .filter(|t| t.worker.is_some())
        .max_by(|a, b| a.duration_secs.total_cmp(&b.duration_secs))
        .unwrap();
    assert_eq!(slowest.first(), Some(&longest.name));
    assert_eq!(slowest.len(), 20);
    let heads = texts(root, "#slowest th");
    let cpu = report.tests.iter().any(|t| t.cpu_secs.is_some());
    assert_eq!(heads.contains(&"cpu-secs".to_owned()), cpu, "{heads:?}");

    // A row per binary that ran, with its tests and failures.
    for row in dom.select(&sel("#binaries tbody tr")) {
        let cells = texts(row, "td");
        let of = |t: &&xpar_metadata::ReportTest| t.binary_id.as_str() == cells[0];
        let ran = report
            .tests
            .iter()
            .filter(|t| t.worker.is_some())
            .filter(of);
        let failed = ran.clone().filter(|t| t.status == ReportTestStatus::Failed);
        assert_eq!(
            (cells[1].clone(), cells[2].clone()),
            (ran.count().to_string(), failed.count().to_string()),
            "{cells:?}"
        );
    }
    screenshot(&browser, &page, dir);

    // The replay of the recorded run: the same failures, from the record alone.
    let replay = Run::of(xpar(dir).args(["replay", "--html", "replay.html", "-q"]));
    assert_eq!(replay.code(), Some(100), "{replay}");
    let again = load(&browser, &dir.join("replay.html"));
    assert_eq!(listed_failures(&again), failed);
    assert_eq!(lanes(&again), lanes(&dom));
}

#[test]
fn flaky_tests_with_their_failed_attempts() {
    let fixture = FixtureCopy::new("config");
    let dir = fixture.path();
    // The default profile retries once; the test fails its first attempt.
    let r = run(dir, &["flaky::", "--html", "flaky.html"]);
    assert_eq!(r.code(), Some(0), "{r}");
    let Some(browser) = Browser::find("flaky_tests_with_their_failed_attempts") else {
        return;
    };
    let page = dir.join("flaky.html");
    let dom = load(&browser, &page);
    let flaky: Vec<ElementRef> = dom.select(&sel("#flaky details.flaky")).collect();
    assert_eq!(flaky.len(), 1);
    assert_eq!(texts(flaky[0], ".name"), ["flaky::fails_first_time"]);
    assert!(texts(flaky[0], ".meta")
        .concat()
        .contains("passed on attempt 2"));
    let attempt = texts(flaky[0], ".attempt h3").concat();
    assert!(attempt.starts_with("attempt 1: test failed"), "{attempt}");
    let output = texts(flaky[0], ".attempt pre").concat();
    assert!(output.contains("first attempt fails"), "{output}");
    assert!(listed_failures(&dom).is_empty());
    assert!(texts(dom.root_element(), "#failures")
        .concat()
        .contains("No test failed."));
    assert_eq!(texts(dom.root_element(), "#timeline rect.flaky").len(), 1);
    screenshot(&browser, &page, dir);
}

#[test]
fn the_coverage_table_of_a_coverage_run() {
    let fixture = FixtureCopy::new("coverage");
    let dir = fixture.path();
    let r = run(
        dir,
        &[
            "-j",
            "2",
            "--coverage",
            "--skip",
            "zz_aborts",
            "--skip",
            "retried_fails_once",
            "--html",
            "coverage.html",
        ],
    );
    assert_eq!(r.code(), Some(0), "{r}");
    let Some(browser) = Browser::find("the_coverage_table_of_a_coverage_run") else {
        return;
    };
    let page = dir.join("coverage.html");
    let dom = load(&browser, &page);
    assert!(sections(&dom).contains(&"coverage".to_owned()));
    // The rows the terminal's table printed, with the same counts and percentages.
    let printed: Vec<Vec<String>> = (r.stderr.lines())
        .skip_while(|l| !l.starts_with("crate "))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("Wrote"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert!(printed.len() >= 2, "{r}");
    let row = |class: &str| -> Vec<Vec<String>> {
        (dom.select(&sel(&format!("#coverage tr.{class}"))))
            .map(|tr| {
                let cells = texts(tr, "td");
                [0, 1, 2, 4, 5].map(|i| cells[i].clone()).to_vec()
            })
            .collect()
    };
    let mut shown = row("crate");
    shown.extend(row("total"));
    assert_eq!(shown, printed);
    // Each crate's files under it.
    let files = row("file");
    assert!(files.iter().any(|f| f[0] == "src/lib.rs"), "{files:?}");
    screenshot(&browser, &page, dir);
}

#[test]
fn merged_shards_have_lanes_of_their_own() {
    let fixture = FixtureCopy::new("basic");
    let dir = fixture.path();
    for k in 1..=2 {
        let s = run(
            dir,
            &[
                "-j",
                "2",
                "--no-fail-fast",
                "--partition",
                &format!("slice:{k}/2"),
                "--results-dir",
                &format!("res-{k}"),
            ],
        );
        assert_eq!(s.code(), Some(100), "{s}");
    }
    let m = Run::of(xpar(dir).args([
        "merge",
        "res-1",
        "res-2",
        "--json",
        "merged.json",
        "--html",
        "merged.html",
    ]));
    assert_eq!(m.code(), Some(100), "{m}");
    assert!(m.stderr.contains("Wrote merged.html"), "{m}");
    let report = read_report(&dir.join("merged.json"));
    let Some(browser) = Browser::find("merged_shards_have_lanes_of_their_own") else {
        return;
    };
    let page = dir.join("merged.html");
    let dom = load(&browser, &page);
    let groups = lanes(&dom);
    assert_eq!(groups.len(), 2, "{groups:?}");
    for (s, (label, lanes)) in report.shards.iter().zip(&groups) {
        assert!(
            label.starts_with(&format!("shard {}: ", s.index)),
            "{label}"
        );
        assert_eq!(lanes, &workers(s.first_worker, s.workers));
    }
    let failed: BTreeSet<(String, String)> = (report.tests.iter())
        .filter(|t| t.status == ReportTestStatus::Failed)
        .map(|t| (t.binary_id.to_string(), t.name.clone()))
        .collect();
    assert_eq!(listed_failures(&dom), failed);
    screenshot(&browser, &page, dir);
}

#[test]
fn a_queue_report_has_lanes_per_machine() {
    let Some(redis) = RedisServer::start("a_queue_report_has_lanes_per_machine") else {
        return;
    };
    let fixture = FixtureCopy::new("queue");
    let dir = fixture.path();
    let built = run(dir, &["list"]);
    assert_eq!(built.code(), Some(0), "{built}");
    let url = redis.url();
    let machine = || {
        let mut cmd = xpar(dir);
        cmd.args(["-j", "1", "-q", "--queue", &url, "--run-id", "html"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().expect("start a machine")
    };
    let machines = [machine(), machine()];
    for mut m in machines {
        assert!(m.wait().unwrap().success());
    }
    let rep = Run::of(xpar(dir).args([
        "queue", "report", "--queue", &url, "--run-id", "html", "-q", "--json", "q.json", "--html",
        "q.html",
    ]));
    assert_eq!(rep.code(), Some(0), "{rep}");
    let report = read_report(&dir.join("q.json"));
    let Some(browser) = Browser::find("a_queue_report_has_lanes_per_machine") else {
        return;
    };
    let page = dir.join("q.html");
    let dom = load(&browser, &page);
    let want: Vec<(String, Vec<String>)> = (report.machines.iter())
        .map(|m| {
            let label = format!("{}: 1 worker", m.name);
            (label, workers(m.first_worker, m.workers))
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(lanes(&dom), want);
    screenshot(&browser, &page, dir);
}

#[test]
fn an_unwritable_html_path_is_a_usage_error_before_anything_runs() {
    let fixture = FixtureCopy::new("passing");
    let dir = fixture.path();
    std::fs::write(dir.join("file"), "").unwrap();
    let bad = "file/report.html";
    for args in [
        vec!["--html", bad],
        vec!["replay", "--html", bad],
        vec!["merge", "res-1", "--html", bad],
        vec![
            "queue",
            "report",
            "--queue",
            "redis://127.0.0.1:1",
            "--run-id",
            "x",
        ],
    ] {
        let mut args = args;
        if args[0] == "queue" {
            args.extend(["--html", bad]);
        }
        let r = Run::of(xpar(dir).args(&args));
        assert_eq!(r.code(), Some(2), "{r}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{r}");
        assert!(
            lines[0].starts_with("error: cannot write ")
                && lines[0].contains("file is not a directory"),
            "{r}"
        );
    }
    assert!(!dir.join("target").exists(), "nothing was built");
}
