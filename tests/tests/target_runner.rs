//! `--target TRIPLE` with `CARGO_TARGET_<TRIPLE>_RUNNER`: the host's own triple, through a
//! runner script that records each start and then runs the binary. Every test of
//! `fixtures/basic` must come back as it does without a runner (the batches then pass
//! libtest's result log through a file, as on Windows), every process must have gone
//! through the runner, and `--doc` with `--target` is refused.

use std::path::Path;
use std::process::Command;

use xpar_tests::fixture_data::BASIC;
use xpar_tests::{outcome_mismatches, parse_junit, unexpected_cases, xpar, FixtureCopy, Run};

/// The triple rustc builds for by default.
fn host_triple() -> String {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

fn runner_var(triple: &str) -> String {
    format!(
        "CARGO_TARGET_{}_RUNNER",
        triple.to_uppercase().replace(['-', '.'], "_")
    )
}

/// A runner that writes the program it is asked to start to `log`, then starts it.
fn recording_runner(dir: &Path, log: &Path) -> std::path::PathBuf {
    let script = dir.join("record-runner.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[cfg(unix)]
#[test]
fn tests_run_through_the_targets_runner_with_the_same_outcomes() {
    let fixture = FixtureCopy::new("basic");
    let triple = host_triple();
    let starts = fixture.path().join("runner-starts.txt");
    let runner = recording_runner(fixture.path(), &starts);
    let junit = fixture.path().join("junit.xml");
    let mut cmd = xpar(fixture.path());
    cmd.env(runner_var(&triple), &runner)
        .args(["--target", &triple, "-j", "2", "--no-fail-fast", "--junit"])
        .arg(&junit);
    let run = Run::of(&mut cmd);
    assert_eq!(run.code(), Some(100), "{run}");
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}\n\n{run}"));
    let cases = parse_junit(&xml).unwrap_or_else(|e| panic!("{e}\n\n{run}"));
    let problems = outcome_mismatches(BASIC, &cases);
    assert!(problems.is_empty(), "{}\n\n{run}", problems.join("\n"));
    let extra = unexpected_cases(BASIC, &cases);
    assert!(extra.is_empty(), "{}\n\n{run}", extra.join("\n"));

    // Every process started, listings included, went through the runner, and each was
    // a binary built for the triple.
    let started = std::fs::read_to_string(&starts).unwrap_or_default();
    let lines: Vec<&str> = started.lines().collect();
    assert!(lines.len() >= BASIC.len() / 4, "{started}\n\n{run}");
    let built_for_triple = format!("/{triple}/debug/deps/");
    assert!(
        lines.iter().all(|l| l.contains(&built_for_triple)),
        "{started}"
    );
}

#[test]
fn doctests_with_a_target_are_refused() {
    let fixture = FixtureCopy::new("basic");
    let mut cmd = xpar(fixture.path());
    cmd.args(["--doc", "--target", &host_triple()]);
    let run = Run::of(&mut cmd);
    assert_eq!(run.code(), Some(2), "{run}");
    assert!(
        run.stderr
            .contains("'--doc' cannot be used with '--target <TRIPLE>'"),
        "{run}"
    );
}
