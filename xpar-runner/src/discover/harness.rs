//! Which `harness = false` targets to run whole without asking them for a list first.
//!
//! A target built with `harness = false` has a `main` of its own. Most ignore their
//! arguments: asking one for `--list` runs all its tests, and the run then starts it a
//! second time. Cargo's metadata does not say which targets have no harness, so the
//! package's manifest is read for it. A target without libtest's harness is still listed
//! when its package depends on a harness that speaks libtest's command line
//! ([`LISTING_HARNESSES`]), directly or through a package of the workspace.

use std::collections::HashMap;
use std::path::Path;

use cargo_metadata::{Metadata, Package};
use serde::Deserialize;

use super::binary::BinaryKind;

/// Crates that give a `harness = false` target libtest's command line, `--list` included.
pub const LISTING_HARNESSES: &[&str] = &["libtest-mimic", "datatest-stable", "criterion"];

/// The targets a manifest declares, as far as their harness goes. Everything else in the
/// manifest is ignored.
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    lib: Option<Declared>,
    #[serde(default)]
    bin: Vec<Declared>,
    #[serde(default)]
    test: Vec<Declared>,
    #[serde(default)]
    bench: Vec<Declared>,
    #[serde(default)]
    example: Vec<Declared>,
}

#[derive(Debug, Deserialize)]
struct Declared {
    name: Option<String>,
    path: Option<String>,
    harness: Option<bool>,
}

impl Declared {
    /// Whether this declaration is of the target cargo calls `target`: by its name, or by
    /// its path's file stem when it has no name (cargo infers the name so).
    fn is(&self, target: &str) -> bool {
        match (&self.name, &self.path) {
            (Some(name), _) => name == target,
            (None, Some(path)) => Path::new(path)
                .file_stem()
                .is_some_and(|stem| stem.to_string_lossy() == target),
            (None, None) => false,
        }
    }
}

/// The `harness = false` targets of the workspace's packages that will not answer a
/// listing, read from their manifests once per run.
#[derive(Debug, Default)]
pub struct Unlistable {
    /// Per package manifest: the targets declared without a harness, or `None` when the
    /// package depends on a harness that lists.
    by_manifest: HashMap<std::path::PathBuf, Option<Manifest>>,
}

impl Unlistable {
    pub fn read(metadata: &Metadata) -> Self {
        let by_name: HashMap<&str, &Package> = metadata
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        let mut by_manifest = HashMap::new();
        for package in &metadata.packages {
            let path = package.manifest_path.as_std_path();
            // Most manifests have no `harness` key at all: no parse for them.
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            if !text.contains("harness") {
                continue;
            }
            // A manifest cargo accepted but this cannot read leaves its targets listed,
            // as every target was before.
            let Ok(manifest) = toml::from_str::<Manifest>(&text) else {
                continue;
            };
            let lists = depends_on_listing_harness(package, &by_name);
            by_manifest.insert(path.to_owned(), (!lists).then_some(manifest));
        }
        Unlistable { by_manifest }
    }

    /// Why the target `target` of kind `kind` in the package at `manifest` is run whole
    /// without a listing, or `None` when it is to be listed.
    pub fn reason(&self, manifest: &Path, kind: BinaryKind, target: &str) -> Option<String> {
        let manifest = self.by_manifest.get(manifest)?.as_ref()?;
        let declared = match kind {
            BinaryKind::Lib | BinaryKind::ProcMacro => manifest.lib.as_ref(),
            BinaryKind::Bin => manifest.bin.iter().find(|d| d.is(target)),
            BinaryKind::Test => manifest.test.iter().find(|d| d.is(target)),
            BinaryKind::Bench => manifest.bench.iter().find(|d| d.is(target)),
            BinaryKind::Example => manifest.example.iter().find(|d| d.is(target)),
            BinaryKind::Suite | BinaryKind::Doctest => None,
        }?;
        (declared.harness == Some(false)).then(|| {
            format!(
                "`harness = false` and its package depends on no harness that lists tests ({})",
                LISTING_HARNESSES.join(", ")
            )
        })
    }
}

/// Whether `package` depends on a harness that lists, itself or through one of the
/// workspace's packages it depends on (a harness of the workspace's own).
fn depends_on_listing_harness(package: &Package, by_name: &HashMap<&str, &Package>) -> bool {
    let direct = |p: &Package| {
        p.dependencies
            .iter()
            .any(|d| LISTING_HARNESSES.contains(&d.name.as_str()))
    };
    direct(package)
        || package.dependencies.iter().any(|d| {
            by_name
                .get(d.name.as_str())
                .is_some_and(|member| direct(member))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlistable(manifest: &str) -> Unlistable {
        let manifest: Manifest = toml::from_str(manifest).unwrap();
        Unlistable {
            by_manifest: [("/w/p/Cargo.toml".into(), Some(manifest))].into(),
        }
    }

    #[test]
    fn targets_without_harness_are_found_by_name_or_path() {
        let u = unlistable(
            r#"
            [package]
            name = "p"
            [lib]
            harness = false
            [[test]]
            name = "own"
            path = "tests/own.rs"
            harness = false
            [[test]]
            path = "tests/nameless.rs"
            harness = false
            [[test]]
            name = "usual"
            [[bench]]
            name = "speed"
            harness = true
            "#,
        );
        let m = Path::new("/w/p/Cargo.toml");
        assert!(u.reason(m, BinaryKind::Test, "own").is_some());
        assert!(u.reason(m, BinaryKind::Test, "nameless").is_some());
        assert!(u.reason(m, BinaryKind::Lib, "p").is_some());
        assert!(u.reason(m, BinaryKind::Test, "usual").is_none());
        assert!(u.reason(m, BinaryKind::Test, "undeclared").is_none());
        assert!(u.reason(m, BinaryKind::Bench, "speed").is_none());
        assert!(u.reason(m, BinaryKind::Bin, "own").is_none());
        assert!(u
            .reason(Path::new("/w/other/Cargo.toml"), BinaryKind::Test, "own")
            .is_none());
    }

    #[test]
    fn a_package_with_a_listing_harness_is_listed() {
        let u = Unlistable {
            by_manifest: [("/w/p/Cargo.toml".into(), None)].into(),
        };
        assert!(u
            .reason(Path::new("/w/p/Cargo.toml"), BinaryKind::Test, "own")
            .is_none());
    }
}
