//! How cargo would run each library's doctests, learnt without running them: `cargo test
//! --doc` with `RUSTDOC` set to this executable, which, told so by [`RECORD_ENV`], writes
//! down each rustdoc invocation cargo makes (its arguments, working directory and the
//! variables cargo sets for it) and compiles nothing. The runner then calls rustdoc
//! itself with those arguments, plus the test arguments it chooses.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Set to a file: this process is cargo's rustdoc, and records its invocation there.
pub const RECORD_ENV: &str = "XPAR_RUSTDOC_RECORD";
/// The rustdoc to run for what is not a doctest invocation (`rustdoc -vV`).
pub const REAL_RUSTDOC_ENV: &str = "XPAR_RUSTDOC_REAL";

/// One rustdoc invocation of `cargo test --doc`: a library's doctests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub cwd: PathBuf,
    pub args: Vec<String>,
    /// The variables cargo set for it (`CARGO_*`, the loader path, `OUT_DIR`).
    pub env: BTreeMap<String, String>,
}

impl Invocation {
    /// The crate whose doctests these are (`--crate-name`).
    pub fn crate_name(&self) -> Option<&str> {
        let at = self.args.iter().position(|a| a == "--crate-name")?;
        self.args.get(at + 1).map(String::as_str)
    }

    /// The package (cargo's `CARGO_PKG_NAME`).
    pub fn package(&self) -> Option<&str> {
        self.env.get("CARGO_PKG_NAME").map(String::as_str)
    }
}

/// The variables cargo set for its rustdoc process: those whose value differs from
/// this process's (`base`), which started cargo. That is cargo's own (`CARGO_*`, the
/// loader path, `OUT_DIR`), what build scripts set with `cargo:rustc-env` and the
/// `[env]` of cargo's config; the recording's own are left out.
fn set_by_cargo(
    vars: impl Iterator<Item = (String, String)>,
    base: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    vars.filter(|(k, v)| base.get(k) != Some(v))
        .filter(|(k, _)| !matches!(k.as_str(), RECORD_ENV | REAL_RUSTDOC_ENV | "RUSTDOC"))
        .collect()
}

/// Acting as cargo's rustdoc: records this invocation in `record` (one JSON line) and
/// returns the exit code; a version query goes to the real rustdoc.
pub fn act_as_rustdoc(record: &Path, args: Vec<OsString>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if !args.iter().any(|a| a == "--test") {
        let real = std::env::var_os(REAL_RUSTDOC_ENV).unwrap_or_else(|| "rustdoc".into());
        return match std::process::Command::new(real).args(&args).status() {
            Ok(s) => s.code().unwrap_or(1),
            Err(e) => {
                eprintln!("error: cannot run rustdoc: {e}");
                1
            }
        };
    }
    let invocation = Invocation {
        cwd: std::env::current_dir().unwrap_or_default(),
        args,
        // Everything: what cargo added is told apart when the record is read.
        env: std::env::vars().collect(),
    };
    let written = serde_json::to_string(&invocation).map(|line| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(record)
            .and_then(|mut f| writeln!(f, "{line}"))
    });
    match written {
        Ok(Ok(())) => 0,
        _ => {
            eprintln!(
                "error: cannot record the rustdoc invocation in {}",
                record.display()
            );
            1
        }
    }
}

/// The invocations recorded in `record`, in the order cargo made them, each with the
/// variables cargo set for it (see [`set_by_cargo`]): this process must be the one that
/// had cargo record them.
pub fn read(record: &Path) -> std::io::Result<Vec<Invocation>> {
    let text = match std::fs::read_to_string(record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let base: BTreeMap<String, String> = std::env::vars().collect();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut inv: Invocation = serde_json::from_str(l).map_err(std::io::Error::other)?;
            inv.env = set_by_cargo(std::mem::take(&mut inv.env).into_iter(), &base);
            Ok(inv)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cargo_set_is_kept_and_the_rest_is_not() {
        let base = BTreeMap::from([
            ("PATH".to_owned(), "/bin".to_owned()),
            ("HOME".to_owned(), "/h".to_owned()),
        ]);
        let vars = [
            ("PATH", "/bin"),
            ("HOME", "/h"),
            ("LD_LIBRARY_PATH", "/t/deps"),
            ("BUILD_VALUE", "42"),
            ("CARGO_PKG_NAME", "p"),
            (RECORD_ENV, "/t/rec"),
            ("RUSTDOC", "/x/cargo-xpar"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let kept = set_by_cargo(vars.into_iter(), &base);
        assert_eq!(
            kept.keys().map(String::as_str).collect::<Vec<_>>(),
            ["BUILD_VALUE", "CARGO_PKG_NAME", "LD_LIBRARY_PATH"]
        );
    }

    #[test]
    fn an_invocation_is_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("rec.jsonl");
        let args: Vec<OsString> = [
            "--edition=2021",
            "--crate-name",
            "semver",
            "--test",
            "src/lib.rs",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(act_as_rustdoc(&record, args.clone()), 0);
        assert_eq!(act_as_rustdoc(&record, args), 0);
        let read = read(&record).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].crate_name(), Some("semver"));
        assert_eq!(read[0].args.last().map(String::as_str), Some("src/lib.rs"));
        // Nothing of this process's own environment, which cargo did not set.
        assert!(read[0].env.is_empty(), "{:?}", read[0].env);
        assert!(super::read(&dir.path().join("none")).unwrap().is_empty());
    }
}
