//! `cargo xpar archive` and `run --archive-file` on `fixtures/archive`, through the real
//! binary: the archive's run, in another checkout and with the build's target dir gone,
//! gives every test the verdict a normal run gives it, with the workspace's files read
//! from the remapped checkout, the build script's OUT_DIR and the package's executable
//! from the archive. A bad archive is one line naming it, exit 96.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use xpar_tests::{run, run_json, FixtureCopy, JsonRun, Run};

/// The archive of one build of the fixture, the normal run of that build, and a second
/// checkout to run the archive in.
struct Archived {
    built: FixtureCopy,
    remap: FixtureCopy,
    file: PathBuf,
    archive_run: Run,
    normal: JsonRun,
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn archived() -> &'static Archived {
    static ARCHIVED: OnceLock<Archived> = OnceLock::new();
    ARCHIVED.get_or_init(|| {
        let built = FixtureCopy::new_in("archive", &tmp_dir("archive-built"));
        let normal = run_json(built.path(), &["--no-fail-fast"]);
        let file = tmp_dir("archive-files").join("stored.tar.zst");
        let file_arg = file.to_str().unwrap();
        let archive_run = run(built.path(), &["archive", "--archive-file", file_arg]);
        // Nothing of the build may be used from here on.
        let target = built.path().join("target");
        std::fs::rename(&target, built.path().join("target-moved")).unwrap();
        let remap = FixtureCopy::new_in("archive", &tmp_dir("archive-remap"));
        // The remapped checkout's copy, told from the built one by its content.
        std::fs::write(
            remap.path().join("data/input.txt"),
            "read from the workspace (remapped)\n",
        )
        .unwrap();
        Archived {
            built,
            remap,
            file,
            archive_run,
            normal,
        }
    })
}

/// (binary id, test name) -> status.
fn verdicts(run: &JsonRun) -> BTreeMap<(String, String), String> {
    run.tests
        .iter()
        .map(|t| ((t.binary_id.clone(), t.name.clone()), t.status.clone()))
        .collect()
}

fn run_archive(a: &Archived, extra: &[&str]) -> JsonRun {
    let mut args = vec![
        "--archive-file",
        a.file.to_str().unwrap(),
        "--workspace-remap",
        a.remap.path().to_str().unwrap(),
        "--no-fail-fast",
    ];
    args.extend(extra);
    run_json(a.remap.path(), &args)
}

#[test]
fn archive_says_what_it_packed_in_one_line() {
    let a = archived();
    let r = &a.archive_run;
    assert_eq!(r.code(), Some(0), "{r}");
    let line = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Archived "))
        .unwrap_or_else(|| panic!("no summary line\n{r}"));
    // The lib, the integration test and the helper binary's (empty) unit tests.
    assert!(line.contains("Archived 3 binaries, "), "{line}");
    assert!(line.contains(a.file.to_str().unwrap()), "{line}");
    assert!(a.file.is_file());
}

#[test]
fn an_archived_run_gives_the_verdicts_of_a_normal_run() {
    let a = archived();
    let normal = &a.normal;
    assert_eq!(normal.run.code(), Some(100), "{}", normal.run);
    let archived = run_archive(a, &["--success-output", "never"]);
    assert_eq!(archived.run.code(), Some(100), "{}", archived.run);
    let want = verdicts(normal);
    let got = verdicts(&archived);
    assert_eq!(got, want, "{}", archived.run);
    // The tests that need what the archive carries, and the verdicts other than a pass.
    for (binary, name, status) in [
        ("stored", "tests::reads_out_dir", "passed"),
        ("stored", "tests::runs_the_helper", "passed"),
        ("stored", "tests::reads_a_workspace_file", "passed"),
        ("stored", "tests::cwd_holds_the_workspace_files", "passed"),
        ("stored::it", "helper_from_an_integration_test", "passed"),
        ("stored", "tests::fails", "failed"),
        ("stored", "tests::ignored", "ignored"),
    ] {
        let key = (binary.to_owned(), name.to_owned());
        assert_eq!(got.get(&key).map(String::as_str), Some(status), "{key:?}");
    }
}

#[test]
fn workspace_files_come_from_the_remapped_checkout() {
    let a = archived();
    let archived = run_archive(a, &["reads_a_workspace_file"]);
    let test = archived
        .tests
        .iter()
        .find(|t| t.name == "tests::reads_a_workspace_file")
        .unwrap_or_else(|| panic!("not run\n{}", archived.run));
    assert_eq!(test.status, "passed", "{}", archived.run);
    let manifest_dir = format!("MANIFEST_DIR={}", a.remap.path().display());
    assert!(test.output.contains(&manifest_dir), "{}", test.output);
    assert!(
        test.output
            .contains("INPUT=read from the workspace (remapped)"),
        "{}",
        test.output
    );
}

#[test]
fn list_reads_the_archive_without_building() {
    let a = archived();
    let r = run(
        a.remap.path(),
        &[
            "list",
            "--archive-file",
            a.file.to_str().unwrap(),
            "--workspace-remap",
            a.remap.path().to_str().unwrap(),
        ],
    );
    assert_eq!(r.code(), Some(0), "{r}");
    for name in ["tests::reads_out_dir", "helper_from_an_integration_test"] {
        assert!(r.stdout.contains(name), "{r}");
    }
    assert!(!r.stderr.contains("Compiling"), "{r}");
}

/// Rewrites the manifest of `from` with `edit` into a new archive `to`, the other entries
/// as they are.
fn repack(from: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let mut input =
        tar::Archive::new(zstd::Decoder::new(std::fs::File::open(from).unwrap()).unwrap());
    let out = zstd::Encoder::new(std::fs::File::create(to).unwrap(), 0).unwrap();
    let mut output = tar::Builder::new(out);
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if path == Path::new("xpar-archive.json") {
            let mut json: serde_json::Value = serde_json::from_slice(&data).unwrap();
            edit(&mut json);
            data = serde_json::to_vec(&json).unwrap();
            header.set_size(data.len() as u64);
            header.set_cksum();
        }
        output
            .append_data(&mut header, &path, data.as_slice())
            .unwrap();
    }
    output.into_inner().unwrap().finish().unwrap();
}

/// A zstd-compressed tar holding one file, and no manifest.
fn tar_without_manifest(to: &Path) {
    let out = zstd::Encoder::new(std::fs::File::create(to).unwrap(), 0).unwrap();
    let mut output = tar::Builder::new(out);
    let data = b"not a manifest";
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    output
        .append_data(&mut header, "readme.txt", &data[..])
        .unwrap();
    output.into_inner().unwrap().finish().unwrap();
}

/// Runs the archive `file` and checks that it is refused in one line naming it, with
/// exit 96.
fn assert_refused(a: &Archived, file: &Path, args: &[&str], want: &str) {
    let mut all = vec!["--archive-file", file.to_str().unwrap()];
    all.extend(args);
    let r = run(a.remap.path(), &all);
    assert_eq!(r.code(), Some(96), "{file:?}: {r}");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{file:?}: {r}");
    let line = lines[0];
    assert!(line.starts_with("error: archive "), "{line}");
    assert!(line.contains(file.to_str().unwrap()), "{line}");
    assert!(line.contains(want), "{file:?}: {want:?} not in {line}");
}

#[test]
fn a_bad_archive_is_one_line_naming_it() {
    let a = archived();
    let dir = tempfile::tempdir().unwrap();
    let remap = ["--workspace-remap", a.remap.path().to_str().unwrap()];
    let real = std::fs::read(&a.file).unwrap();

    let truncated = dir.path().join("truncated.tar.zst");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    assert_refused(a, &truncated, &remap, "truncated");

    let random = dir.path().join("random.tar.zst");
    let noise: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&random, noise).unwrap();
    assert_refused(a, &random, &remap, "not a cargo xpar archive");

    let no_manifest = dir.path().join("no-manifest.tar.zst");
    tar_without_manifest(&no_manifest);
    assert_refused(a, &no_manifest, &remap, "no xpar-archive.json in it");

    let future = dir.path().join("future.tar.zst");
    repack(&a.file, &future, |m| m["format-version"] = 99.into());
    assert_refused(a, &future, &remap, "format version 99");

    let tampered = dir.path().join("tampered.tar.zst");
    repack(&a.file, &tampered, |m| {
        m["build-identity"] = "0".repeat(32).into()
    });
    assert_refused(a, &tampered, &remap, "do not match its manifest");

    let elsewhere = dir.path().join("elsewhere.tar.zst");
    let gone = dir.path().join("no-such-workspace");
    repack(&a.file, &elsewhere, |m| {
        m["workspace-root"] = gone.to_str().unwrap().into()
    });
    assert_refused(a, &elsewhere, &[], "pass --workspace-remap");

    assert_refused(a, dir.path(), &remap, "not a file");
}

#[test]
fn build_flags_with_an_archive_are_a_usage_error() {
    let a = archived();
    let file = a.file.to_str().unwrap();
    for flag in [&["--release"][..], &["-p", "stored"], &["--features", "x"]] {
        let mut args = vec!["--archive-file", file];
        args.extend(flag);
        let r = run(a.remap.path(), &args);
        assert_eq!(r.code(), Some(2), "{flag:?}: {r}");
        assert_eq!(r.stderr.lines().count(), 1, "{flag:?}: {r}");
        assert!(r.stderr.contains("cannot be used with"), "{r}");
    }
    let missing = run(
        a.remap.path(),
        &["--archive-file", file, "--workspace-remap", "no-such-dir"],
    );
    assert_eq!(missing.code(), Some(96), "{missing}");
    assert!(
        missing
            .stderr
            .contains("--workspace-remap no-such-dir: not a directory"),
        "{missing}"
    );
    // The build's workspace is still where it was: used when no remap is given.
    assert!(a.built.path().is_dir());
}
