//! Builds the test binaries with `cargo test --no-run` and reads cargo's JSON messages
//! (with `cargo metadata` alongside, for the package facts tests see in their environment).
//! Cargo refusing the command line is a usage error, told from a failed build by
//! [`cargo_stderr`](super::cargo_stderr).

use std::collections::{BTreeSet, HashMap};
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Stdio;

use cargo_metadata::{
    Artifact, BuildScript, Message, Metadata, MetadataCommand, Package, PackageId,
};

use super::binary::{BinaryKind, TestBinary};
use super::cargo_stderr;
use super::env::{sysroot_libs, test_env};
use super::harness::Unlistable;
use crate::cargo::CargoOptions;
use crate::errors::BuildError;
use crate::process::{describe_status, ProcessBuilder};

/// The test binaries of a build, in the order cargo reported them.
#[derive(Debug)]
pub struct BuildOutput {
    pub binaries: Vec<TestBinary>,
    /// The workspace's target directory (where cargo xpar keeps its own files, under
    /// `xpar/`); under `--coverage` still the usual one, not the instrumented build's.
    pub target_dir: PathBuf,
    pub workspace_root: PathBuf,
    /// The libraries with doctests to run, and what cargo's doctest commands depend on;
    /// `None` when nothing was built (`--doc`).
    pub doctest_inputs: Option<DoctestInputs>,
}

/// What a build says of the doctests cargo test would run.
#[derive(Clone, Debug, Default)]
pub struct DoctestInputs {
    /// The packages whose library cargo built for its doctests (workspace members with
    /// `doctest = true`, as cargo test without `--doc` chooses them).
    pub packages: BTreeSet<String>,
    /// What the commands cargo gives rustdoc for them depend on: those libraries, the
    /// members' manifests, `Cargo.lock` and cargo's config files (which may set
    /// `rustdocflags`), in a fixed order.
    pub files: Vec<PathBuf>,
}

/// What the build adds to the user's RUSTFLAGS: instrumentation, `cfg(coverage)` for
/// code that wants to know, and counters kept in the profile file as they change
/// (continuous mode), so a test that aborts or segfaults does not take the counts of the
/// tests before it in its process.
pub const COVERAGE_RUSTFLAGS: &[&str] = &[
    "-C",
    "instrument-coverage",
    "--cfg",
    "coverage",
    "-C",
    "llvm-args=-runtime-counter-relocation",
];

/// Where `--coverage` builds, beside the usual build so that switching coverage on and
/// off rebuilds neither.
pub fn coverage_target_dir(target_dir: &std::path::Path) -> PathBuf {
    target_dir.join("xpar").join("coverage-target")
}

/// How the coverage flags reach rustc, added to the user's own.
enum CoverageFlags {
    /// The variable cargo reads, with the user's flags and ours: `CARGO_ENCODED_RUSTFLAGS`
    /// when the user set that (cargo then ignores `RUSTFLAGS`), else `RUSTFLAGS`. Cargo
    /// ignores its config's rustflags when either is set, so the user's config had none
    /// in effect anyway.
    Env(&'static str, String),
    /// `--config build.rustflags=[...]`, when neither variable is set: cargo joins the
    /// array to the `build.rustflags` of its config files, keeping the user's.
    Config(String),
}

fn coverage_rustflags() -> CoverageFlags {
    let flags = COVERAGE_RUSTFLAGS;
    if let Ok(enc) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        if !enc.is_empty() {
            let mut all: Vec<&str> = enc.split('\x1f').collect();
            all.extend(flags);
            return CoverageFlags::Env("CARGO_ENCODED_RUSTFLAGS", all.join("\x1f"));
        }
    }
    match std::env::var("RUSTFLAGS") {
        Ok(user) if !user.trim().is_empty() => {
            CoverageFlags::Env("RUSTFLAGS", format!("{user} {}", flags.join(" ")))
        }
        // A JSON array of plain strings is a TOML array too.
        _ => CoverageFlags::Config(format!(
            "build.rustflags={}",
            serde_json::to_string(flags).unwrap_or_default()
        )),
    }
}

/// Whether `binary` was built with coverage instrumentation: it has LLVM's counter
/// section. (`target.<triple>.rustflags` in cargo's config override `build.rustflags`.)
fn instrumented(binary: &std::path::Path) -> bool {
    std::fs::read(binary)
        .is_ok_and(|bytes| memchr::memmem::find(&bytes, b"__llvm_prf_cnts").is_some())
}

/// Runs `cargo test --no-run --message-format=json-render-diagnostics`, showing cargo's
/// progress and rendered diagnostics on stderr as cargo shows them; with `coverage`,
/// instrumented, into [`coverage_target_dir`]. Cargo refusing the command line before
/// building is [`BuildError::Refused`], a usage error.
pub fn build_test_binaries(opts: &CargoOptions, coverage: bool) -> Result<BuildOutput, BuildError> {
    // `cargo metadata --no-deps` is cheap and independent of the build: run it alongside.
    let metadata = spawn_metadata(opts);
    if opts.doc {
        // Only doctests: there are no test binaries, and cargo refuses `--doc --no-run`;
        // the libraries are built when their doctests are found.
        return finish(
            opts,
            (Vec::new(), Vec::new()),
            join_metadata(metadata)?,
            false,
        );
    }
    let mut build_opts = opts.clone();
    let mut build = ProcessBuilder::new(cargo_program());
    let mut metadata = Some(metadata);
    let mut known = None;
    let mut check_instrumented = false;
    if let (true, Some(handle)) = (coverage, metadata.take_if(|_| coverage)) {
        // The instrumented build goes beside the usual one, which metadata locates.
        let m = join_metadata(handle)?;
        check_instrumented = instrument(&mut build_opts, &mut build, &m.0);
        known = Some(m);
    }
    let (artifacts, scripts) = run_build(&build_opts, build)?;
    let known = match (known, metadata) {
        (Some(k), _) => k,
        (None, Some(handle)) => join_metadata(handle)?,
        (None, None) => return Err(BuildError::Metadata("no metadata".into())),
    };
    finish(opts, (artifacts, scripts), known, check_instrumented)
}

type MetadataThread = std::thread::JoinHandle<(cargo_metadata::Result<Metadata>, Vec<PathBuf>)>;

/// `cargo metadata --no-deps` and the rustc sysroot probe, on a thread.
fn spawn_metadata(opts: &CargoOptions) -> MetadataThread {
    let cmd = metadata_command(opts);
    std::thread::spawn(move || {
        // Asking rustc costs as much as cargo metadata: both at once.
        let sysroot = std::thread::spawn(sysroot_libs);
        let metadata = cmd.exec();
        (metadata, sysroot.join().unwrap_or_default())
    })
}

/// The cargo that started us (`CARGO`, set for subcommands), else `cargo` on `PATH`.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo metadata --no-deps` for the workspace `opts` selects.
fn metadata_command(opts: &CargoOptions) -> MetadataCommand {
    let mut cmd = MetadataCommand::new();
    cmd.cargo_path(cargo_program()).no_deps().other_options(
        opts.common_args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    );
    cmd
}

fn join_metadata(handle: MetadataThread) -> Result<(Metadata, Vec<PathBuf>), BuildError> {
    match handle.join() {
        Ok((Ok(m), sysroot)) => Ok((m, sysroot)),
        Ok((Err(e), _)) => Err(metadata_error(e)),
        Err(_) => Err(BuildError::Metadata("the metadata thread panicked".into())),
    }
}

/// Makes `build` an instrumented build into [`coverage_target_dir`]. Returns whether
/// the flags went through cargo's config, whose target-specific rustflags may override
/// them: the first binary is then checked.
fn instrument(build_opts: &mut CargoOptions, build: &mut ProcessBuilder, m: &Metadata) -> bool {
    let target = build_opts
        .target_dir
        .clone()
        .unwrap_or_else(|| m.target_directory.clone().into_std_path_buf());
    let cov_target = coverage_target_dir(&target);
    build_opts.target_dir = Some(cov_target.clone());
    let check = match coverage_rustflags() {
        CoverageFlags::Env(var, flags) => {
            build.env(var, flags);
            false
        }
        CoverageFlags::Config(config) => {
            build.args(["--config", &config]);
            true
        }
    };
    // Build scripts are instrumented too: keep their profiles out of the report.
    let scratch = cov_target
        .join("xpar")
        .join("build-profraw")
        .join("%m.profraw");
    build.env("LLVM_PROFILE_FILE", scratch);
    check
}

/// Runs `cargo test --no-run` and collects its artifacts and what its build scripts
/// said; cargo's stderr goes where `build_opts` says, its tail kept to tell a refusal
/// from a failed build.
fn run_build(
    build_opts: &CargoOptions,
    mut build: ProcessBuilder,
) -> Result<(Vec<Artifact>, Vec<BuildScript>), BuildError> {
    cargo_stderr::progress(build_opts, &mut build);
    build
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(build_opts.to_cli_args());
    let mut command = build.command();
    if build_opts.cancel.is_some() {
        // A group of its own, so that a cancel ends the compilers cargo started too.
        crate::process::os::own_process_group(&mut command);
    }
    let mut child = command
        // Not the caller's: under `cargo xpar mcp` stdin is the protocol's input, which
        // cargo and build scripts must not read from.
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            command: build.to_string(),
            source,
        })?;
    let stderr_tail = match child.stderr.take() {
        Some(stderr) => Some(
            cargo_stderr::tee(stderr, build_opts.build_output.clone()).map_err(BuildError::Read)?,
        ),
        None => None,
    };
    let mut artifacts = Vec::new();
    let mut scripts = Vec::new();
    // Cargo says the build finished only once it started one.
    let mut built = false;
    if build_opts.cancel.is_some() {
        // Windows: the job a cancel ends (without one, cargo alone is ended).
        let _ = crate::process::os::adopt(&child);
    }
    let stopper =
        (build_opts.cancel.clone()).map(|c| super::stop::StopOnCancel::start(c, child.id()));
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            match message.map_err(BuildError::Read)? {
                Message::CompilerArtifact(artifact) => artifacts.push(artifact),
                Message::BuildScriptExecuted(script) => scripts.push(script),
                Message::BuildFinished(_) => built = true,
                _ => {}
            }
        }
    }
    // Stopped before cargo is reaped: its process group cannot be another's yet.
    let stopped = stopper.is_some_and(super::stop::StopOnCancel::finish);
    let status = child.wait().map_err(BuildError::Read);
    crate::process::os::release(child.id());
    let status = status?;
    if stopped {
        return Err(BuildError::Cancelled);
    }
    let stderr_tail = stderr_tail.and_then(|t| t.join().ok()).unwrap_or_default();
    if status.success() {
        return Ok((artifacts, scripts));
    }
    Err(cargo_failed(build.to_string(), status, &stderr_tail, built))
}

/// The test binaries of the build, and where the workspace and its target dir are.
fn finish(
    opts: &CargoOptions,
    (artifacts, scripts): (Vec<Artifact>, Vec<BuildScript>),
    (metadata, sysroot): (Metadata, Vec<PathBuf>),
    check_instrumented: bool,
) -> Result<BuildOutput, BuildError> {
    // `cargo metadata` knows CARGO_TARGET_DIR and config files, not our flag.
    let target_dir = opts
        .target_dir
        .clone()
        .unwrap_or_else(|| metadata.target_directory.clone().into_std_path_buf());
    let scripts = BuildScripts::new(&scripts, &target_dir, &sysroot);
    let mut binaries = test_binaries(&artifacts, &metadata, &scripts);
    // Built for the target: under `target/<triple>/`. Cargo builds a proc-macro
    // crate's tests for the host, and runs them without the target's runner.
    let runner = target_runner(opts);
    if let Some(triple) = opts.target.as_deref().map(target_name) {
        let for_target = |b: &TestBinary| {
            b.path
                .strip_prefix(&target_dir)
                .is_ok_and(|rel| rel.starts_with(&triple))
        };
        for b in binaries.iter_mut().filter(|b| for_target(b)) {
            b.runner.clone_from(&runner);
        }
    }
    // The config's rustflags reach every binary alike: one tells (reading them all
    // would cost a tenth of a second on a large workspace).
    if let (true, Some(b)) = (check_instrumented, binaries.first()) {
        if !instrumented(&b.path) {
            return Err(BuildError::NotInstrumented {
                binary: b.id.to_string(),
            });
        }
    }
    Ok(BuildOutput {
        binaries,
        target_dir,
        workspace_root: metadata.workspace_root.clone().into_std_path_buf(),
        doctest_inputs: (!opts.doc).then(|| doctest_inputs(&artifacts, &metadata)),
    })
}

/// The runner of `--target`'s binaries, from `CARGO_TARGET_<TRIPLE>_RUNNER` (the triple
/// upper-cased, `-` and `.` as `_`), split on whitespace as cargo splits it; empty
/// without `--target` or without the variable. A runner set in a cargo config file
/// (`[target.<triple>] runner`) is not read: the binary is then started itself, and
/// one the system cannot start fails to list, with the system's error.
pub(crate) fn target_runner(opts: &CargoOptions) -> Vec<String> {
    let Some(target) = &opts.target else {
        return Vec::new();
    };
    let var = format!(
        "CARGO_TARGET_{}_RUNNER",
        target_name(target).to_uppercase().replace(['-', '.'], "_")
    );
    let mut runner: Vec<String> = std::env::var(var)
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    // A relative path is the invoking directory's, as for cargo; the tests start in
    // their package's root.
    if let Some(program) = runner.first_mut() {
        let path = std::path::Path::new(program.as_str());
        if path.is_relative() && path.components().count() > 1 {
            if let Ok(cwd) = std::env::current_dir() {
                *program = cwd.join(path).to_string_lossy().into_owned();
            }
        }
    }
    runner
}

/// The name cargo gives a `--target`: the triple, or a target spec file's stem
/// (`--target specs/my-target.json` builds into `target/my-target/`).
fn target_name(target: &str) -> String {
    match target.strip_suffix(".json") {
        Some(_) => std::path::Path::new(target)
            .file_stem()
            .map_or_else(|| target.to_owned(), |s| s.to_string_lossy().into_owned()),
        None => target.to_owned(),
    }
}

/// See [`BuildOutput::doctest_inputs`].
fn doctest_inputs(artifacts: &[Artifact], metadata: &Metadata) -> DoctestInputs {
    let libs: Vec<&Artifact> = (artifacts.iter())
        .filter(|a| a.target.doctest && !a.profile.test)
        .filter(|a| metadata.workspace_members.contains(&a.package_id))
        .collect();
    let names: HashMap<&PackageId, &str> = (metadata.packages.iter())
        .map(|p| (&p.id, p.name.as_str()))
        .collect();
    let packages = (libs.iter())
        .filter_map(|a| names.get(&a.package_id).map(|n| (*n).to_owned()))
        .collect();
    let mut files: Vec<PathBuf> = (libs.iter())
        .flat_map(|a| a.filenames.iter().map(|f| f.clone().into_std_path_buf()))
        .chain(
            (metadata.workspace_packages().into_iter())
                .map(|p| p.manifest_path.clone().into_std_path_buf()),
        )
        .chain([metadata
            .workspace_root
            .join("Cargo.lock")
            .into_std_path_buf()])
        .chain(cargo_configs())
        .collect();
    // In an order of their own: cargo reports fresh artifacts in any order.
    files.sort();
    files.dedup();
    DoctestInputs { packages, files }
}

/// Where cargo looks for its config: `.cargo/config.toml` (and `.cargo/config`) in the
/// current directory and each above it, and in `CARGO_HOME`. Absent ones count too: one
/// that appears changes what they say.
fn cargo_configs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::current_dir()
        .map(|d| d.ancestors().map(|a| a.join(".cargo")).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home));
    } else if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo"));
    }
    (dirs.into_iter())
        .flat_map(|d| [d.join("config.toml"), d.join("config")])
        .collect()
}

/// The target directory of the workspace `opts` selects (`--target-dir`, else cargo's
/// choice: `CARGO_TARGET_DIR`, its config, `<workspace>/target`), without building.
pub fn target_dir(opts: &CargoOptions) -> Result<PathBuf, BuildError> {
    if let Some(dir) = &opts.target_dir {
        return Ok(dir.clone());
    }
    let metadata = metadata_command(opts).exec().map_err(metadata_error)?;
    Ok(metadata.target_directory.into_std_path_buf())
}

/// `cargo` (the command `command` of `opts`) failing with `status`: a refusal of the
/// command line (cargo's stderr ends in `stderr_tail`) is a usage error, else a failed
/// build.
pub fn cargo_failed(
    command: String,
    status: std::process::ExitStatus,
    stderr_tail: &[u8],
    built: bool,
) -> BuildError {
    let refused = (!built)
        .then(|| cargo_stderr::refusal(&String::from_utf8_lossy(stderr_tail)))
        .flatten();
    match refused {
        // Cargo's own line is on stderr already: it is the whole message.
        Some(message) => BuildError::Refused {
            message,
            shown: true,
        },
        None => BuildError::Failed {
            command,
            status: describe_status(status),
        },
    }
}

/// `cargo metadata` failing: a refusal of the command line (no Cargo.toml) is a usage error
/// with cargo's line, which cargo_metadata kept rather than showed.
fn metadata_error(e: cargo_metadata::Error) -> BuildError {
    if let cargo_metadata::Error::CargoMetadata { stderr } = &e {
        if let Some(message) = cargo_stderr::refusal(stderr) {
            return BuildError::Refused {
                message,
                shown: false,
            };
        }
    }
    BuildError::Metadata(e.to_string())
}

/// What the build scripts of a build give the tests: each package's `OUT_DIR`, and the
/// loader path cargo gives `cargo test`'s processes.
struct BuildScripts {
    out_dirs: HashMap<PackageId, PathBuf>,
    /// The build scripts' `cargo::rustc-link-search` directories inside the target dir
    /// (cargo puts those, and only those, on the loader path of the tests it runs), then
    /// the toolchain's library directories.
    lib_dirs: Vec<PathBuf>,
}

impl BuildScripts {
    fn new(scripts: &[BuildScript], target_dir: &std::path::Path, sysroot: &[PathBuf]) -> Self {
        let mut lib_dirs: Vec<PathBuf> = Vec::new();
        for dir in scripts.iter().flat_map(|s| &s.linked_paths) {
            // `native=/path`, `all=/path` or a bare path.
            let path = dir
                .as_str()
                .split_once('=')
                .map_or(dir.as_str(), |(_, p)| p);
            let path = PathBuf::from(path);
            if path.starts_with(target_dir) && !lib_dirs.contains(&path) {
                lib_dirs.push(path);
            }
        }
        lib_dirs.extend(sysroot.iter().cloned());
        BuildScripts {
            out_dirs: scripts
                .iter()
                .map(|s| (s.package_id.clone(), s.out_dir.clone().into_std_path_buf()))
                .collect(),
            lib_dirs,
        }
    }
}

/// The test executables among cargo's artifacts, with the environment each one expects.
fn test_binaries(
    artifacts: &[Artifact],
    metadata: &Metadata,
    scripts: &BuildScripts,
) -> Vec<TestBinary> {
    let packages: HashMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();
    let unlistable = Unlistable::read(metadata);

    // Non-test binaries of each package, for `CARGO_BIN_EXE_<name>`.
    let mut bin_exes: HashMap<&PackageId, Vec<(String, PathBuf)>> = HashMap::new();
    for a in artifacts {
        let is_bin = a.target.kind.iter().any(|k| k.to_string() == "bin");
        if let (false, true, Some(exe)) = (a.profile.test, is_bin, &a.executable) {
            bin_exes
                .entry(&a.package_id)
                .or_default()
                .push((a.target.name.clone(), exe.clone().into_std_path_buf()));
        }
    }

    let mut out = Vec::new();
    for a in artifacts {
        let (true, Some(exe)) = (a.profile.test, &a.executable) else {
            continue;
        };
        let kinds: Vec<String> = a.target.kind.iter().map(|k| k.to_string()).collect();
        let Some(kind) = BinaryKind::from_cargo_kinds(kinds.iter().map(String::as_str)) else {
            continue;
        };
        let package = packages.get(&a.package_id).copied();
        let package_name = match package {
            Some(p) => p.name.to_string(),
            None => package_name_from_id(&a.package_id.repr),
        };
        let cwd = a
            .manifest_path
            .parent()
            .map(|p| p.as_std_path().to_owned())
            .unwrap_or_default();
        let path = exe.clone().into_std_path_buf();
        let bins = bin_exes
            .get(&a.package_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut env = test_env(
            package,
            &a.manifest_path,
            &a.target.name,
            &path,
            bins,
            &scripts.lib_dirs,
        );
        // Set at compile time by cargo; nextest sets it for the test processes too, so
        // that a test can read what its build script wrote at run time.
        if let Some(out_dir) = scripts.out_dirs.get(&a.package_id) {
            env.push(("OUT_DIR".to_owned(), out_dir.to_string_lossy().into_owned()));
        }
        out.push(TestBinary {
            id: crate::discover::binary_id(&package_name, kind, &a.target.name),
            env,
            no_listing: unlistable.reason(a.manifest_path.as_std_path(), kind, &a.target.name),
            repeated: Vec::new(),
            package: package_name,
            kind,
            path,
            cwd,
            args: Vec::new(),
            timeout: None,
            runner: Vec::new(),
        });
    }
    out
}

/// `path+file:///x/alpha#0.1.0` or `path+file:///x/alpha#alpha@0.1.0` -> `alpha`; used
/// only when `cargo metadata` does not know the package, which should not happen.
fn package_name_from_id(id: &str) -> String {
    let frag = id.rsplit('#').next().unwrap_or(id);
    match frag.split_once('@') {
        Some((name, _)) => name.to_owned(),
        None => id
            .split('#')
            .next()
            .and_then(|url| url.rsplit('/').next())
            .unwrap_or(id)
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_refusing_the_command_line_is_a_usage_error() {
        let refused = metadata_error(cargo_metadata::Error::CargoMetadata {
            stderr: "error: could not find `Cargo.toml` in `/tmp` or any parent directory\n"
                .to_owned(),
        });
        match refused {
            BuildError::Refused { message, shown } => {
                assert_eq!(
                    message,
                    "could not find `Cargo.toml` in `/tmp` or any parent directory"
                );
                // cargo_metadata kept cargo's stderr: it is for us to print.
                assert!(!shown);
            }
            other => panic!("{other:?}"),
        }
        let broken = metadata_error(cargo_metadata::Error::CargoMetadata {
            stderr: "error: failed to parse manifest at `/x/Cargo.toml`\n".to_owned(),
        });
        assert!(matches!(broken, BuildError::Metadata(_)), "{broken:?}");
    }

    #[test]
    fn package_names_from_ids() {
        assert_eq!(package_name_from_id("path+file:///x/alpha#0.1.0"), "alpha");
        assert_eq!(
            package_name_from_id("path+file:///x/dir#alpha-b@0.1.0"),
            "alpha-b"
        );
    }

    #[test]
    fn a_targets_name_is_its_triple_or_its_spec_files_stem() {
        assert_eq!(
            target_name("x86_64-pc-windows-gnu"),
            "x86_64-pc-windows-gnu"
        );
        assert_eq!(target_name("specs/my-target.json"), "my-target");
    }
}
