//! A built test binary and the id users know it by.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use xpar_metadata::BinaryId;

/// The id nextest gives a test binary (`crate`, `crate::bin/NAME`, `crate::TARGET`,
/// `crate::example/NAME`, `crate::bench/NAME`), kept identical so CI history carries over.
pub fn binary_id(package: &str, kind: BinaryKind, target: &str) -> BinaryId {
    BinaryId::new(match kind {
        BinaryKind::Lib | BinaryKind::ProcMacro => package.to_owned(),
        BinaryKind::Test => format!("{package}::{target}"),
        BinaryKind::Bin => format!("{package}::bin/{target}"),
        BinaryKind::Example => format!("{package}::example/{target}"),
        BinaryKind::Bench => format!("{package}::bench/{target}"),
        // No package name starts with `@`: a suite's id is never a target's.
        BinaryKind::Suite => format!("@suite/{target}"),
        BinaryKind::Doctest => format!("{}{package}", xpar_metadata::DOCTEST_PREFIX),
    })
}

/// What kind of cargo target a test binary was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryKind {
    Lib,
    ProcMacro,
    Bin,
    Test,
    Example,
    Bench,
    /// A command suite of the config file (`[[suite]]`), run as one opaque test.
    Suite,
    /// A library's doctests, run by rustdoc.
    Doctest,
}

impl TestBinary {
    /// Whether this is a library's doctests that rustdoc merges into one program
    /// (edition 2024 and later), compiled again by every process that runs any of them.
    pub fn merged_doctests(&self) -> bool {
        self.kind == BinaryKind::Doctest
            && (self.args.iter())
                .find_map(|a| a.strip_prefix("--edition="))
                .and_then(|e| e.parse::<u32>().ok())
                .is_some_and(|edition| edition >= 2024)
    }
}

impl BinaryKind {
    /// From cargo's `target.kind` list (`["lib"]`, `["rlib", "cdylib"]`, `["test"]`, ...).
    pub fn from_cargo_kinds<'a>(kinds: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let mut lib = None;
        for kind in kinds {
            match kind {
                "test" => return Some(BinaryKind::Test),
                "bin" => return Some(BinaryKind::Bin),
                "example" => return Some(BinaryKind::Example),
                "bench" => return Some(BinaryKind::Bench),
                "proc-macro" => return Some(BinaryKind::ProcMacro),
                "lib" | "rlib" | "dylib" | "cdylib" | "staticlib" => lib = Some(BinaryKind::Lib),
                _ => {}
            }
        }
        lib
    }
}

/// A test executable, where to run it and what environment it expects.
#[derive(Clone, Debug)]
pub struct TestBinary {
    pub id: BinaryId,
    pub package: String,
    pub kind: BinaryKind,
    pub path: PathBuf,
    /// The package root: `cargo test` runs tests there.
    pub cwd: PathBuf,
    /// Arguments it always gets first (a suite's command line after the program).
    pub args: Vec<String>,
    /// The time limit of an opaque binary's one test, instead of `--timeout` (a suite's
    /// `timeout`).
    pub timeout: Option<std::time::Duration>,
    /// `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `CARGO_BIN_EXE_*`, the dylib search path.
    pub env: Vec<(String, String)>,
    /// Why this binary is run whole, as one opaque test, without asking it for a list
    /// (a `harness = false` target that would run its tests when asked).
    pub no_listing: Option<String>,
    /// Names its list holds more than once, each once for every listing after the
    /// first: a doctest generated twice on one line runs twice under one name, and is
    /// one test here, decided by both runs.
    pub repeated: Vec<String>,
    /// The program and arguments it runs under (`--target`'s runner, such as `wine`);
    /// empty: it runs itself.
    pub runner: Vec<String>,
}

impl TestBinary {
    /// The command that starts it, under its runner if it has one, before any argument.
    pub fn process(&self) -> crate::process::ProcessBuilder {
        match self.runner.split_first() {
            Some((program, args)) => {
                let mut p = crate::process::ProcessBuilder::new(program);
                p.args(args).arg(&self.path);
                p
            }
            None => crate::process::ProcessBuilder::new(&self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_nextest() {
        let cases = [
            (BinaryKind::Lib, "my-crate", "my_crate", "my-crate"),
            (BinaryKind::ProcMacro, "mac", "mac", "mac"),
            (
                BinaryKind::Test,
                "my-crate",
                "integration",
                "my-crate::integration",
            ),
            (BinaryKind::Bin, "my-crate", "tool", "my-crate::bin/tool"),
            (
                BinaryKind::Example,
                "my-crate",
                "demo",
                "my-crate::example/demo",
            ),
            (
                BinaryKind::Bench,
                "my-crate",
                "speed",
                "my-crate::bench/speed",
            ),
        ];
        for (kind, pkg, target, want) in cases {
            assert_eq!(crate::discover::binary_id(pkg, kind, target).as_str(), want);
        }
    }

    #[test]
    fn kinds_from_cargo() {
        assert_eq!(
            BinaryKind::from_cargo_kinds(["rlib", "cdylib"]),
            Some(BinaryKind::Lib)
        );
        assert_eq!(
            BinaryKind::from_cargo_kinds(["test"]),
            Some(BinaryKind::Test)
        );
        assert_eq!(
            BinaryKind::from_cargo_kinds(["proc-macro"]),
            Some(BinaryKind::ProcMacro)
        );
        assert_eq!(BinaryKind::from_cargo_kinds(["custom-build"]), None);
    }
}
