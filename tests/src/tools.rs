//! The programs some tests need beyond a Rust toolchain (genhtml, pycobertura,
//! cargo-nextest, redis-server, chromium, the Python MCP client), found where
//! `.ci/setup` installs them or on PATH. Where one is missing, the part of a test that
//! needs it is skipped with a note saying what to install, unless `XPAR_REQUIRE_TOOLS=1` (set by `.ci/run`) makes that a failure: CI
//! always runs every part.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use crate::xpar::workspace_root;

/// The virtualenv `.ci/setup` installs the PyPI tools into (pycobertura, the MCP client
/// `mcp`, and cargo-nextest's prebuilt binary), because Debian's python3 refuses
/// `pip install` outside one (PEP 668).
fn ci_venv_bin() -> PathBuf {
    workspace_root().join("target").join("ci-venv").join("bin")
}

/// `PATH` with [`ci_venv_bin`] first: for commands that look programs up themselves, as
/// `cargo nextest` looks up `cargo-nextest`.
pub fn path_with_ci_tools() -> OsString {
    let mut dirs = vec![ci_venv_bin()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A command running `name` (from the CI venv or PATH), or `None` when it is not
/// installed and the caller is to skip what needs it (see [`missing`]). `install` says
/// where it comes from: `Debian's lcov`.
pub fn optional_tool(test: &str, name: &str, install: &str) -> Option<Command> {
    let venv = ci_venv_bin().join(name);
    let program = if venv.is_file() {
        venv
    } else {
        PathBuf::from(name)
    };
    let runs = Command::new(&program)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        Some(Command::new(program))
    } else {
        missing(test, name, install);
        None
    }
}

/// The CI venv's python (else `python3` on PATH) when it has the distribution `module`
/// at version `min` (major, minor) or newer, below the next major version, or `None`
/// when it has not and the caller is to skip what needs it (see [`missing`]).
/// `install` says where the module comes from: `mcp from PyPI`.
pub fn ci_python_with(test: &str, module: &str, min: (u32, u32), install: &str) -> Option<Command> {
    let venv = ci_venv_bin().join("python");
    let program = if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let (major, minor) = min;
    // An older version passes `import` and then fails the test in ways that say nothing
    // of the version; an unreadable version counts as too old.
    let check = format!(
        "import importlib.metadata as m, sys\n\
         v = tuple(int(x) for x in m.version('{module}').split('.')[:2])\n\
         sys.exit(not ({major}, {minor}) <= v < ({next}, 0))",
        next = major + 1
    );
    let fits = Command::new(&program)
        .args(["-c", &check])
        .output()
        .is_ok_and(|o| o.status.success());
    if fits {
        Some(Command::new(program))
    } else {
        missing(
            test,
            &format!("the Python module {module} {major}.{minor} or a later {major}.x"),
            install,
        );
        None
    }
}

/// Whether `cargo nextest` runs (from the CI venv or PATH); when it does not, see
/// [`missing`].
pub fn nextest_or_skip(test: &str) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let found = Command::new(cargo)
        .args(["nextest", "--version"])
        .env("PATH", path_with_ci_tools())
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        missing(test, "cargo-nextest", "a prebuilt cargo-nextest from PyPI");
    }
    found
}

/// A tool `test` needs is missing: a failure under `XPAR_REQUIRE_TOOLS=1`, else a note
/// where `cargo test` shows it (libtest captures `eprintln!` of a passing test, not
/// writes to stderr itself) and the caller skips that part.
pub(crate) fn missing(test: &str, name: &str, install: &str) {
    let required = std::env::var_os("XPAR_REQUIRE_TOOLS").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{test}: {name} is needed (XPAR_REQUIRE_TOOLS=1): run .ci/setup, which installs \
         {install}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "note: {test}: skipped the part that needs {name}, which is not installed (run \
         .ci/setup, which installs {install})"
    );
}
