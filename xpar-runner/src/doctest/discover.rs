//! Finding the doctests a run would run: the rustdoc invocation cargo makes for each
//! library (recorded, see [`record`](super::record)), and the names each lists.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::parse_list;
use super::record::{self, Invocation, REAL_RUSTDOC_ENV, RECORD_ENV};
use crate::cargo::CargoOptions;
use crate::discover::{
    binary_id, BinaryContent, BinaryKind, Harness, ListedBinary, ListedTest, Markers, TestBinary,
};

/// A library's doctests: how rustdoc runs them, and their names (in rustdoc's order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateDoctests {
    pub invocation: Invocation,
    /// The rustdoc that runs them (cargo's: `RUSTDOC`, else `rustdoc` on PATH).
    pub rustdoc: PathBuf,
    pub tests: Vec<String>,
    /// Those of `tests` marked `ignore`.
    pub ignored: Vec<String>,
}

/// Whether `cargo test` with `cargo`'s flags runs doctests: with no target flag, or
/// `--doc`.
pub fn wanted(cargo: &CargoOptions) -> bool {
    !(cargo.lib
        || cargo.bins
        || !cargo.bin.is_empty()
        || cargo.tests
        || !cargo.test.is_empty()
        || cargo.examples
        || !cargo.example.is_empty()
        || cargo.all_targets)
}

/// The rustdoc cargo would run.
pub fn rustdoc() -> PathBuf {
    std::env::var_os("RUSTDOC").map_or_else(|| PathBuf::from("rustdoc"), PathBuf::from)
}

/// Each library's doctest invocation, as `cargo test --doc` with `cargo`'s package,
/// feature and profile flags would make it; `recorder` is the cargo-xpar executable
/// (which records when cargo runs it as rustdoc), `record` a scratch file.
pub fn recorded(
    cargo: &CargoOptions,
    recorder: &Path,
    record: &Path,
) -> std::io::Result<Vec<Invocation>> {
    let _ = std::fs::remove_file(record);
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(program);
    cmd.args(["test", "--doc"])
        .args(cargo.to_cli_args())
        .env("RUSTDOC", recorder)
        .env(RECORD_ENV, record)
        .env(REAL_RUSTDOC_ENV, rustdoc())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let out = cmd.output()?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(std::io::Error::other(format!(
            "cargo test --doc failed: {last}"
        )));
    }
    record::read(record)
}

/// The names `invocation` lists (`--list --format terse`), all or (`ignored`) only the
/// ignored ones.
pub fn listed(
    invocation: &Invocation,
    rustdoc: &Path,
    ignored: bool,
) -> std::io::Result<Vec<String>> {
    let mut cmd = Command::new(rustdoc);
    cmd.args(&invocation.args)
        .current_dir(&invocation.cwd)
        .envs(&invocation.env);
    for a in ["--list", "--format", "terse"] {
        cmd.arg("--test-args").arg(a);
    }
    if ignored {
        cmd.args(["--test-args", "--ignored"]);
    }
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::piped()).output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "rustdoc could not list the doctests of {}: {}",
            invocation.crate_name().unwrap_or("a library"),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(parse_list(&String::from_utf8_lossy(&out.stdout)))
}

/// Each library's doctests as a binary of the test list (`@doc/PACKAGE`, run by
/// rustdoc with the recorded invocation); a library without doctests is none.
pub fn binaries(
    cargo: &CargoOptions,
    recorder: &Path,
    record: &Path,
) -> std::io::Result<Vec<ListedBinary>> {
    let rustdoc = rustdoc();
    let mut out = Vec::new();
    for inv in recorded(cargo, recorder, record)? {
        let names = listed(&inv, &rustdoc, false)?;
        if names.is_empty() {
            continue;
        }
        let ignored: BTreeSet<String> = listed(&inv, &rustdoc, true)?.into_iter().collect();
        let package = inv.package().unwrap_or_default().to_owned();
        let tests = names
            .into_iter()
            .map(|name| ListedTest {
                ignored: ignored.contains(&name),
                name,
                source_path: None,
                markers: Markers::default(),
            })
            .collect();
        out.push(ListedBinary {
            binary: TestBinary {
                id: binary_id(&package, BinaryKind::Doctest, ""),
                package,
                kind: BinaryKind::Doctest,
                path: rustdoc.clone(),
                cwd: inv.cwd.clone(),
                args: inv.args.clone(),
                timeout: None,
                env: inv.env.clone().into_iter().collect(),
                no_listing: None,
            },
            content: BinaryContent::Tests(tests),
            harness: Harness::Libtest,
        });
    }
    Ok(out)
}
