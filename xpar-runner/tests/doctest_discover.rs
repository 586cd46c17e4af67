//! Doctests found as `cargo test --doc` finds them: the recorded rustdoc invocation of
//! each library of `fixtures/doctests` (editions 2021 and 2024) lists the names, and
//! the ignored ones, that `cargo test --doc -- --list` lists.

use std::collections::BTreeSet;
use std::process::Command;

use xpar_runner::cargo::CargoOptions;
use xpar_runner::doctest::discover::{listed, recorded, rustdoc, wanted};
use xpar_runner::doctest::parse_list;
use xpar_runner::doctest::select::plan;
use xpar_tests::{xpar_bin, FixtureCopy};

/// What `cargo test --doc -p PACKAGE -- --list --format terse ARGS` lists.
fn cargo_lists(dir: &std::path::Path, package: &str, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "test", "--doc", "-p", package, "--", "--list", "--format", "terse",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_list(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .collect()
}

#[test]
fn each_library_lists_what_cargo_test_doc_lists() {
    let f = FixtureCopy::new("doctests");
    let cargo = CargoOptions {
        manifest_path: Some(f.path().join("Cargo.toml")),
        workspace: true,
        ..CargoOptions::default()
    };
    assert!(wanted(&cargo));
    let record = f.path().join("rustdoc.jsonl");
    let invocations = recorded(&cargo, xpar_bin(), &record).unwrap();
    let mut crates: Vec<&str> = invocations.iter().filter_map(|i| i.crate_name()).collect();
    crates.sort();
    assert_eq!(crates, ["d2021", "d2024"]);
    for inv in &invocations {
        let package = inv.package().unwrap();
        let names: BTreeSet<String> = listed(inv, &rustdoc(), false)
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(names, cargo_lists(f.path(), package, &[]), "{package}");
        // The README's, two of `answer`, five of `kinds`, two of a module file.
        assert_eq!(names.len(), 10, "{package}: {names:?}");
        let ignored: BTreeSet<String> =
            listed(inv, &rustdoc(), true).unwrap().into_iter().collect();
        assert_eq!(
            ignored,
            cargo_lists(f.path(), package, &["--ignored"]),
            "{package}"
        );
        assert_eq!(ignored.len(), 1, "{package}: {ignored:?}");
    }
    // The selection by pieces, checked against rustdoc itself: each name alone.
    for inv in &invocations {
        selects_each_alone(inv);
    }
    // Target flags turn doctests off, as in cargo test.
    for off in [
        CargoOptions {
            lib: true,
            ..cargo.clone()
        },
        CargoOptions {
            tests: true,
            ..cargo.clone()
        },
        CargoOptions {
            all_targets: true,
            ..cargo.clone()
        },
        CargoOptions {
            test: vec!["it".into()],
            ..cargo.clone()
        },
    ] {
        assert!(!wanted(&off));
    }
}

/// rustdoc runs exactly each name, with the extras its plan says, when asked for it alone.
fn selects_each_alone(inv: &xpar_runner::doctest::record::Invocation) {
    let all = listed(inv, &rustdoc(), false).unwrap();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    for w in &all {
        for step in plan(&all, &[w]) {
            let mut cmd = Command::new(rustdoc());
            cmd.args(&inv.args).current_dir(&inv.cwd).envs(&inv.env);
            for a in ["--list", "--format", "terse"]
                .into_iter()
                .map(String::from)
                .chain(step.test_args())
            {
                cmd.arg("--test-args").arg(a);
            }
            let out = cmd.output().unwrap();
            let runs: BTreeSet<String> = parse_list(&String::from_utf8_lossy(&out.stdout))
                .into_iter()
                .collect();
            let mut expected: BTreeSet<String> = step.extras.iter().cloned().collect();
            expected.insert(w.to_string());
            assert_eq!(runs, expected, "{w}: {step:?}");
        }
    }
}
