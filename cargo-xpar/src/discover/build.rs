//! Builds the test binaries with `cargo test --no-run` and reads cargo's JSON messages
//! (with `cargo metadata` alongside, for the package facts tests see in their environment).

use std::collections::HashMap;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Stdio;

use cargo_metadata::{Artifact, Message, Metadata, MetadataCommand, Package, PackageId};

use super::binary::{BinaryId, BinaryKind, TestBinary};
use super::env::{sysroot_libs, test_env};
use crate::cli::CargoOptions;
use crate::errors::BuildError;
use crate::process::{describe_status, ProcessBuilder};

/// The test binaries of a build, in the order cargo reported them.
#[derive(Debug)]
pub struct BuildOutput {
    pub binaries: Vec<TestBinary>,
    /// The workspace's target directory (where cargo xpar keeps its own files, under
    /// `xpar/`).
    pub target_dir: PathBuf,
}

/// Runs `cargo test --no-run --message-format=json-render-diagnostics`, showing cargo's
/// progress and rendered diagnostics on stderr as cargo shows them.
pub fn build_test_binaries(opts: &CargoOptions) -> Result<BuildOutput, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    // `cargo metadata --no-deps` is cheap and independent of the build: run it alongside.
    let metadata_opts = opts.clone();
    let metadata_cargo = cargo.clone();
    let metadata = std::thread::spawn(move || {
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(metadata_cargo).no_deps();
        cmd.other_options(
            metadata_opts
                .common_args()
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
        );
        (cmd.exec(), sysroot_libs())
    });

    let mut build = ProcessBuilder::new(&cargo);
    build
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .args(opts.to_cli_args());
    let mut child = build
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| BuildError::Spawn {
            command: build.to_string(),
            source,
        })?;

    let mut artifacts = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            if let Message::CompilerArtifact(artifact) = message.map_err(BuildError::Read)? {
                artifacts.push(artifact);
            }
        }
    }
    let status = child.wait().map_err(BuildError::Read)?;
    if !status.success() {
        return Err(BuildError::Failed {
            command: build.to_string(),
            status: describe_status(status),
        });
    }

    let (metadata, sysroot) = match metadata.join() {
        Ok((Ok(m), sysroot)) => (m, sysroot),
        Ok((Err(e), _)) => return Err(BuildError::Metadata(e.to_string())),
        Err(_) => return Err(BuildError::Metadata("the metadata thread panicked".into())),
    };
    Ok(BuildOutput {
        binaries: test_binaries(&artifacts, &metadata, &sysroot),
        // `cargo metadata` knows CARGO_TARGET_DIR and config files, not our flag.
        target_dir: opts
            .target_dir
            .clone()
            .unwrap_or_else(|| metadata.target_directory.clone().into_std_path_buf()),
    })
}

/// The test executables among cargo's artifacts, with the environment each one expects.
fn test_binaries(
    artifacts: &[Artifact],
    metadata: &Metadata,
    sysroot: &[PathBuf],
) -> Vec<TestBinary> {
    let packages: HashMap<&PackageId, &Package> =
        metadata.packages.iter().map(|p| (&p.id, p)).collect();

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
        out.push(TestBinary {
            id: BinaryId::new(&package_name, kind, &a.target.name),
            env: test_env(
                package,
                &a.manifest_path,
                &a.target.name,
                &path,
                bins,
                sysroot,
            ),
            package: package_name,
            kind,
            path,
            cwd,
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
    fn package_names_from_ids() {
        assert_eq!(package_name_from_id("path+file:///x/alpha#0.1.0"), "alpha");
        assert_eq!(
            package_name_from_id("path+file:///x/dir#alpha-b@0.1.0"),
            "alpha-b"
        );
    }
}
