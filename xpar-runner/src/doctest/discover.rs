//! Finding the doctests a run would run: the rustdoc invocation cargo makes for each
//! library (recorded, see [`record`](super::record)), and the names each lists.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cache::{self, ListCache, Listed, RecordCache};
use super::parse_list;
use super::record::{self, Invocation, REAL_RUSTDOC_ENV, RECORD_ENV};
use crate::cargo::{BuildOutput, CargoOptions};
use crate::discover::{
    binary_id, cargo_failed, cargo_stderr, BinaryContent, BinaryKind, DoctestInputs, Harness,
    ListedBinary, ListedTest, Markers, TestBinary,
};
use crate::errors::BuildError;
use crate::process::ProcessBuilder;

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
    cargo.doc
        || !(cargo.lib
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

/// Finding a run's doctests failed.
#[derive(Debug, thiserror::Error)]
pub enum DoctestError {
    /// `cargo test --doc` failed: a library did not build, or cargo refused the flags.
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("could not find the libraries' doctests: {0}")]
    Io(#[from] std::io::Error),
}

/// Each library's doctest invocation, as `cargo test --doc` with `cargo`'s package,
/// feature and profile flags would make it; `recorder` is the cargo-xpar executable
/// (which records when cargo runs it as rustdoc), `record` a scratch file. Cargo's
/// stderr goes where the build's goes under `--doc` (cargo builds the libraries here
/// then), else nowhere (the build before built them).
pub fn recorded(
    cargo: &CargoOptions,
    recorder: &Path,
    record: &Path,
) -> Result<Vec<Invocation>, DoctestError> {
    let _ = std::fs::remove_file(record);
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = ProcessBuilder::new(program);
    if cargo.doc {
        cargo_stderr::progress(cargo, &mut cmd);
    }
    cmd.arg("test");
    if !cargo.doc {
        cmd.arg("--doc");
    }
    cmd.args(cargo.to_cli_args())
        .env("RUSTDOC", recorder)
        .env(RECORD_ENV, record)
        .env(REAL_RUSTDOC_ENV, rustdoc());
    let command = format!("cargo test --doc (with {} as rustdoc)", recorder.display());
    let mut process = cmd.command();
    if cargo.cancel.is_some() {
        // As the build's: a group of its own, which a cancel ends with what cargo started.
        crate::process::os::own_process_group(&mut process);
    }
    let mut child = process
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            command: command.clone(),
            source,
        })?;
    let to = if cargo.doc {
        cargo.build_output.clone()
    } else {
        BuildOutput::default()
    };
    if cargo.cancel.is_some() {
        // Windows: the job a cancel ends (without one, cargo alone is ended).
        let _ = crate::process::os::adopt(&child);
    }
    let stopper =
        (cargo.cancel.clone()).map(|c| crate::discover::stop::StopOnCancel::start(c, child.id()));
    let tail = match child.stderr.take() {
        Some(stderr) => Some(cargo_stderr::tee(stderr, to).map_err(BuildError::Read)?),
        None => None,
    };
    // Cargo's stderr ends when cargo does; the watch stops then, before cargo is reaped,
    // so that the process group it would end is still cargo's.
    let tail = tail.and_then(|t| t.join().ok()).unwrap_or_default();
    let stopped = stopper.is_some_and(crate::discover::stop::StopOnCancel::finish);
    let status = child.wait().map_err(BuildError::Read);
    crate::process::os::release(child.id());
    let status = status?;
    if stopped {
        return Err(BuildError::Cancelled.into());
    }
    if !status.success() {
        return Err(cargo_failed(command, status, &tail, false).into());
    }
    Ok(record::read(record)?)
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
/// rustdoc with the recorded invocation); a library without doctests is none. Lists are
/// made again only for libraries that changed since the last run (see [`cache`]),
/// several at once. A library rustdoc cannot list (a file its documentation includes is
/// missing, say) is one opaque test that runs all its doctests, and fails as cargo test
/// would: its output says why.
///
/// `inputs` are what the build says the doctest commands depend on
/// (`BuildOutput::doctest_inputs`): no library means no doctests to run, and when the
/// inputs are as they were last time, so are cargo's commands, which are not asked for
/// again. `None` (nothing built: `--doc`) always asks.
pub fn binaries(
    cargo: &CargoOptions,
    recorder: &Path,
    scratch: &Path,
    inputs: Option<&DoctestInputs>,
) -> Result<Vec<ListedBinary>, DoctestError> {
    if inputs.is_some_and(|i| i.packages.is_empty()) {
        return Ok(Vec::new());
    }
    let rustdoc = rustdoc();
    std::fs::create_dir_all(scratch)?;
    let record_cache = scratch.join("rustdoc-invocations.json");
    let record_key = inputs.map(|i| cache::record_key(&cargo.to_cli_args(), &i.files));
    let cached = (record_key.as_deref()).and_then(|k| RecordCache::load(&record_cache, k));
    let mut invocations = match cached {
        Some(invocations) => invocations,
        None => {
            // Of this process: two runs in one target dir do not share it.
            let record = scratch.join(format!("rustdoc-invocations.{}.jsonl", std::process::id()));
            let fresh = recorded(cargo, recorder, &record);
            let _ = std::fs::remove_file(&record);
            let fresh = fresh?;
            if let Some(key) = record_key {
                RecordCache::store(&record_cache, key, &fresh);
            }
            fresh
        }
    };
    // `cargo test --doc` runs the doctests of every library it builds; without
    // `--doc`, cargo test leaves out those whose target says `doctest = false`.
    if let Some(inputs) = inputs {
        invocations.retain(|i| i.package().is_some_and(|p| inputs.packages.contains(p)));
    }
    let cache_path = scratch.join("doctests.json");
    let cache = ListCache::load(&cache_path);
    let keys: Vec<String> = (invocations.iter())
        .map(|i| cache::key(i, &rustdoc))
        .collect();
    let lists: Vec<std::io::Result<Listed>> = std::thread::scope(|s| {
        let handles: Vec<_> = (invocations.iter().zip(&keys))
            .map(|(inv, key)| {
                let (cached, rustdoc) = (cache.get(key).cloned(), &rustdoc);
                s.spawn(move || cached.map_or_else(|| list_both(inv, rustdoc), Ok))
            })
            .collect();
        (handles.into_iter())
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("a doctest lister panicked")))
            })
            .collect()
    });
    let mut kept = BTreeMap::new();
    let mut out = Vec::new();
    for ((inv, key), listed) in invocations.into_iter().zip(keys).zip(lists) {
        let content = match listed {
            Ok(listed) => {
                kept.insert(key, listed.clone());
                listed
            }
            Err(e) => {
                out.push(unlisted(inv, &rustdoc, e.to_string()));
                continue;
            }
        };
        if let Some(binary) = binary(inv, &rustdoc, content) {
            out.push(binary);
        }
    }
    ListCache::store(&cache_path, kept);
    Ok(out)
}

/// Every doctest of `inv`, and the ignored ones (asked only when there are doctests).
fn list_both(inv: &Invocation, rustdoc: &Path) -> std::io::Result<Listed> {
    let names = listed(inv, rustdoc, false)?;
    let ignored = if names.is_empty() {
        Vec::new()
    } else {
        listed(inv, rustdoc, true)?
    };
    Ok(Listed { names, ignored })
}

fn test_binary(inv: Invocation, rustdoc: &Path) -> TestBinary {
    let package = inv.package().unwrap_or_default().to_owned();
    TestBinary {
        id: binary_id(&package, BinaryKind::Doctest, ""),
        package,
        kind: BinaryKind::Doctest,
        path: rustdoc.to_owned(),
        cwd: inv.cwd,
        args: inv.args,
        timeout: None,
        env: inv.env.into_iter().collect(),
        no_listing: None,
        repeated: Vec::new(),
        runner: Vec::new(),
    }
}

/// A library rustdoc could not list: run whole, as one test.
fn unlisted(inv: Invocation, rustdoc: &Path, why: String) -> ListedBinary {
    ListedBinary {
        binary: test_binary(inv, rustdoc),
        content: BinaryContent::Opaque { reason: why },
        harness: Harness::Libtest,
    }
}

fn binary(inv: Invocation, rustdoc: &Path, listed: Listed) -> Option<ListedBinary> {
    if listed.names.is_empty() {
        return None;
    }
    let ignored: BTreeSet<String> = listed.ignored.into_iter().collect();
    let mut binary = test_binary(inv, rustdoc);
    let mut seen = BTreeSet::new();
    let mut tests = Vec::new();
    for name in listed.names {
        if seen.contains(&name) {
            binary.repeated.push(name);
            continue;
        }
        seen.insert(name.clone());
        tests.push(ListedTest {
            ignored: ignored.contains(&name),
            name,
            source_path: None,
            markers: Markers::default(),
        });
    }
    Some(ListedBinary {
        binary,
        content: BinaryContent::Tests(tests),
        harness: Harness::Libtest,
    })
}
