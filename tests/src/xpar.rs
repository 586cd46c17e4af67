//! Owns the cargo-xpar binary under test and how it is started: built once per
//! process, run with an environment cleared of what would leak from the outer cargo.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;

use crate::junit::{parse_junit, JunitCase};

/// Variables removed from the runner's environment: they come from the `cargo test`
/// running these tests and would change how the fixture builds or runs.
const CLEARED_VARS: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_TERM_COLOR",
    "RUST_TEST_THREADS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_BOOTSTRAP",
    "XPAR_WORKER_ID",
    "XPAR_WORKER_COUNT",
    "XPAR_TESTRUN_UID",
    "XPAR_TMPDIR",
    "XPAR_RUN_DIR",
    "XPAR_SCHEDULED",
    "XPAR_MARKER_QUERY",
    // A profile of the outer run's config file is not the fixture's.
    "XPAR_PROFILE",
    "CARGO_PRIMARY_PACKAGE",
    // A CI's or Bazel's shard of the outer run would make `--partition auto` or Bazel
    // sharding apply to every fixture run; the tests that want them set them.
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CIRCLE_NODE_INDEX",
    "CIRCLE_NODE_TOTAL",
    "BUILDKITE_PARALLEL_JOB",
    "BUILDKITE_PARALLEL_JOB_COUNT",
    "JOB_COMPLETION_INDEX",
    "XPAR_PARTITION_TOTAL",
    "TEST_TOTAL_SHARDS",
    "TEST_SHARD_INDEX",
    "TEST_SHARD_STATUS_FILE",
    "XML_OUTPUT_FILE",
    "TEST_TMPDIR",
];

/// Prefixes of variables that cargo sets for the test binary it runs; the fixture's own
/// test binaries must see their own values, set by the runner, not ours.
const CLEARED_PREFIXES: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_BIN_EXE_",
    "CARGO_CRATE_",
];

/// The root of the cargo-xpar workspace (the parent of this crate).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
}

/// The `cargo-xpar` binary, built once per test process.
///
/// `CARGO_BIN_EXE_cargo-xpar` exists only for the `cargo-xpar` package's own tests, so
/// this crate builds it through cargo. It builds into the workspace's usual target dir
/// (no `--target-dir`, and no `--target`, which would put a second full build of every
/// dependency under `target/<triple>/`), so it reuses what `cargo build` already made.
pub fn xpar_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let run = escargot::CargoBuild::new()
            .package("cargo-xpar")
            .bin("cargo-xpar")
            .manifest_path(workspace_root().join("Cargo.toml"))
            .current_release()
            // escargot asks for plain `json`, which hides compiler errors in stdout;
            // this makes cargo render them to stderr, which escargot's error includes.
            .arg("--message-format=json-render-diagnostics")
            .run()
            .unwrap_or_else(|err| panic!("could not build cargo-xpar:\n{err}"));
        run.path().to_path_buf()
    })
}

/// Where runs in `dir` keep their temporary directories: inside `dir` (a fixture copy,
/// or a temp dir of the test), so they go when it goes, even those of a runner that was
/// killed before it could remove them (`robustness.rs` kills one with SIGKILL).
fn run_tmpdir(dir: &Path) -> PathBuf {
    dir.join(".xpar-test-tmp")
}

/// A command running `cargo xpar` in `dir`, as cargo would start the subcommand
/// (`cargo-xpar xpar ARGS...`), with the outer test run's variables cleared and the
/// system temp directory inside `dir` ([`run_tmpdir`]).
pub fn xpar(dir: &Path) -> Command {
    let mut cmd = Command::new(xpar_bin());
    cmd.arg("xpar");
    as_in_fixture(&mut cmd, dir);
    cmd
}

/// Makes `cmd` run in `dir` with the environment [`xpar`] gives the runner: for a
/// program that starts the runner itself (an MCP client) and passes its environment on.
pub fn as_in_fixture(cmd: &mut Command, dir: &Path) {
    let tmp = run_tmpdir(dir);
    std::fs::create_dir_all(&tmp)
        .unwrap_or_else(|err| panic!("could not create {}: {err}", tmp.display()));
    cmd.current_dir(dir).env("TMPDIR", &tmp);
    for var in CLEARED_VARS {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if CLEARED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(name);
        }
    }
}

/// Runs `cargo xpar ARGS...` in `dir` and waits for it.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = xpar(dir);
    cmd.args(args);
    Run::of(&mut cmd)
}

/// Runs `cargo xpar --junit DIR/junit.xml ARGS...` in `dir` and reads the report.
pub fn run_junit(dir: &Path, args: &[&str]) -> JunitRun {
    let path = dir.join("junit.xml");
    let mut cmd = xpar(dir);
    cmd.arg("--junit").arg(&path).args(args);
    let run = Run::of(&mut cmd);
    let xml = std::fs::read_to_string(&path)
        .map_err(|err| format!("could not read the JUnit report {}: {err}", path.display()));
    JunitRun { run, xml }
}

/// A run that was asked for a JUnit report, and the report's text.
#[derive(Debug, Clone)]
pub struct JunitRun {
    pub run: Run,
    /// The report, or why it could not be read.
    pub xml: Result<String, String>,
}

impl JunitRun {
    /// The report's text; panics, showing the run, if there is none.
    pub fn xml(&self) -> &str {
        match &self.xml {
            Ok(xml) => xml,
            Err(err) => panic!("{err}\n\n{}", self.run),
        }
    }

    /// The report's test cases; panics, showing the run, if there is no valid report.
    pub fn cases(&self) -> Vec<JunitCase> {
        let xml = self.xml();
        parse_junit(xml)
            .unwrap_or_else(|err| panic!("bad JUnit report: {err}\n{xml}\n\n{}", self.run))
    }
}

/// What a finished run of the runner left: its status and its whole output.
#[derive(Debug, Clone)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to completion, capturing its output.
    pub fn of(cmd: &mut Command) -> Run {
        let command = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let out = cmd
            .output()
            .unwrap_or_else(|err| panic!("could not start `{command}`: {err}"));
        Run {
            command,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The exit code, or `None` if a signal ended the runner.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout and stderr together, for checks that do not care which one.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Shows everything about the run, for assertion messages.
impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "status: {}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}
