//! The options forwarded to cargo, as `cargo test` spells them, and the command lines
//! built from them.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Options forwarded to cargo, spelled as `cargo test` spells them.
#[derive(Debug, Default, Clone)]
pub struct CargoOptions {
    /// Package to test (may be given more than once).
    pub packages: Vec<String>,
    /// Test all packages in the workspace.
    pub workspace: bool,
    /// Exclude packages from the test (with --workspace).
    pub exclude: Vec<String>,
    /// Test only this package's library.
    pub lib: bool,
    /// Test all binaries.
    pub bins: bool,
    /// Test only the named binary.
    pub bin: Vec<String>,
    /// Test all integration tests.
    pub tests: bool,
    /// Test only the named integration test.
    pub test: Vec<String>,
    /// Test all examples.
    pub examples: bool,
    /// Test only the named example.
    pub example: Vec<String>,
    /// Test all targets (lib, bins, tests, examples, benches).
    pub all_targets: bool,
    /// Test only the libraries' documentation (doctests).
    pub doc: bool,
    /// Space or comma separated list of features to activate.
    pub features: Vec<String>,
    /// Activate all available features.
    pub all_features: bool,
    /// Do not activate the `default` feature.
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations.
    pub release: bool,
    /// Build artifacts with the specified profile.
    pub profile: Option<String>,
    /// Directory for all generated artifacts.
    pub target_dir: Option<PathBuf>,
    /// Build for this target triple (`--target`); its tests run through the target's
    /// runner, `CARGO_TARGET_<TRIPLE>_RUNNER`, as cargo runs them.
    pub target: Option<String>,
    /// Path to Cargo.toml.
    pub manifest_path: Option<PathBuf>,
    /// Assert that `Cargo.lock` will remain unchanged.
    pub locked: bool,
    /// Run without accessing the network.
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline.
    pub frozen: bool,
    /// Do not print cargo log messages, nor passing tests.
    pub quiet: bool,
    /// Use verbose output (-vv very verbose).
    pub verbose: u8,
    /// Coloring: auto, always, never.
    pub color: ColorChoice,
    /// Where cargo's own stderr (progress, warnings, rendered diagnostics) goes as it
    /// arrives; nowhere by default.
    pub build_output: BuildOutput,
    /// Cargo's stderr is a pipe: with a width, cargo is asked for the progress bar it
    /// would show on a terminal that wide.
    pub progress_width: Option<u16>,
    /// Stops the build when cancelled (an MCP client cancelling its call): cargo and the
    /// compilers it started are ended. `None` on the command line, where Ctrl-C reaches
    /// cargo itself.
    pub cancel: Option<crate::execute::CancelHandle>,
}

/// A writer for cargo's stderr, shared with the thread that copies it.
#[derive(Clone, Default)]
pub struct BuildOutput(Option<Arc<Mutex<dyn Write + Send>>>);

impl BuildOutput {
    pub fn to(out: impl Write + Send + 'static) -> Self {
        BuildOutput(Some(Arc::new(Mutex::new(out))))
    }

    /// Best effort, as cargo's own writes to a closed stderr would be.
    pub fn write(&self, bytes: &[u8]) {
        if let Some(Ok(mut out)) = self.0.as_ref().map(|o| o.lock()) {
            let _ = out.write_all(bytes);
        }
    }
}

impl fmt::Debug for BuildOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "BuildOutput(to a writer)"
        } else {
            "BuildOutput(nowhere)"
        })
    }
}

impl CargoOptions {
    /// The flags that select and build targets, for `cargo test --no-run`.
    pub fn to_cli_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
        let mut flag = |on: bool, name: &str| {
            if on {
                out.push(name.into());
            }
        };
        flag(self.workspace, "--workspace");
        flag(self.lib, "--lib");
        flag(self.bins, "--bins");
        flag(self.tests, "--tests");
        flag(self.examples, "--examples");
        flag(self.all_targets, "--all-targets");
        flag(self.doc, "--doc");
        flag(self.all_features, "--all-features");
        flag(self.no_default_features, "--no-default-features");
        flag(self.release, "--release");
        flag(self.quiet, "--quiet");
        out.extend(self.common_args());
        let mut valued = |name: &str, values: &[String]| {
            for v in values {
                out.push(name.into());
                out.push(v.into());
            }
        };
        valued("--package", &self.packages);
        valued("--exclude", &self.exclude);
        valued("--bin", &self.bin);
        valued("--test", &self.test);
        valued("--example", &self.example);
        valued("--features", &self.features);
        if let Some(profile) = &self.profile {
            out.extend(["--profile".into(), profile.into()]);
        }
        if let Some(dir) = &self.target_dir {
            out.extend(["--target-dir".into(), dir.into()]);
        }
        if let Some(target) = &self.target {
            out.extend(["--target".into(), target.into()]);
        }
        for _ in 0..self.verbose {
            out.push("--verbose".into());
        }
        out.push("--color".into());
        out.push(self.color.as_str().into());
        out
    }

    /// The flags `cargo metadata` shares with `cargo test`.
    pub fn common_args(&self) -> Vec<OsString> {
        let mut out: Vec<OsString> = Vec::new();
        if let Some(path) = &self.manifest_path {
            out.extend(["--manifest-path".into(), path.into()]);
        }
        for (on, name) in [
            (self.locked, "--locked"),
            (self.offline, "--offline"),
            (self.frozen, "--frozen"),
        ] {
            if on {
                out.push(name.into());
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }
    }
}
