//! The manifest at the head of an archive: everything a machine that builds nothing needs
//! to run the archived tests (their ids, where they ran, their environment and their
//! listing), with paths relative to the build machine's workspace root or target dir so
//! that they can be placed anew. Versioned: an archive of another version is refused as
//! such, before any of its fields is read.

use serde::{Deserialize, Serialize};

use xpar_protocol::Serial;

/// The version of [`Manifest`] this runner writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// The manifest's name inside the archive (its first entry).
pub const MANIFEST_PATH: &str = "xpar-archive.json";

/// Where the archived files of the target dir go inside the archive.
pub const TARGET_PREFIX: &str = "target";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Manifest {
    pub format_version: u32,
    /// The build identity of the archived binaries (`discover::build_identity`): checked
    /// again on the extracted files, so that a corrupt archive is refused.
    pub build_identity: String,
    /// The id of the build the shards of a run share (the build identity, so that two
    /// archives of the same binaries have the same one).
    pub build_id: String,
    /// Where the workspace and the target dir were on the build machine.
    pub workspace_root: String,
    pub target_dir: String,
    /// The binaries were built with coverage instrumentation (`archive --coverage`).
    pub coverage: bool,
    pub binaries: Vec<ManifestBinary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ManifestBinary {
    pub id: String,
    pub package: String,
    /// `lib`, `proc-macro`, `bin`, `test`, `example`, `bench`.
    pub kind: String,
    /// Relative to the target dir.
    pub path: String,
    /// Relative to the workspace root.
    pub cwd: String,
    pub env: Vec<EnvVar>,
    /// The directories of the loader path inside the target dir, relative to it (the
    /// rest of the build machine's loader path means nothing elsewhere).
    pub lib_dirs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_listing: Option<String>,
    /// `libtest` or `stable`.
    pub harness: String,
    pub content: ManifestContent,
}

/// A variable of a test's environment; a path under the workspace root or target dir is
/// kept relative to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    Workspace,
    Target,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ManifestContent {
    Tests { tests: Vec<ManifestTest> },
    Opaque { reason: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ManifestTest {
    pub name: String,
    pub ignored: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    #[serde(default)]
    pub serial: Serial,
    #[serde(default)]
    pub parallel_safe: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_slots: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Why a manifest could not be read.
#[derive(Debug)]
pub enum ManifestError {
    Json(serde_json::Error),
    Version(u32),
}

impl Manifest {
    /// Reads a manifest, its `format-version` first.
    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            #[serde(rename = "format-version")]
            format_version: u32,
        }
        let found = serde_json::from_str::<VersionOnly>(text)
            .map_err(ManifestError::Json)?
            .format_version;
        if found != FORMAT_VERSION {
            return Err(ManifestError::Version(found));
        }
        serde_json::from_str(text).map_err(ManifestError::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            build_identity: "00ff".into(),
            build_id: "00ff".into(),
            workspace_root: "/build/ws".into(),
            target_dir: "/build/ws/target".into(),
            coverage: false,
            binaries: vec![ManifestBinary {
                id: "alpha".into(),
                package: "alpha".into(),
                kind: "lib".into(),
                path: "debug/deps/alpha-1234".into(),
                cwd: "alpha".into(),
                env: vec![EnvVar {
                    name: "CARGO_MANIFEST_DIR".into(),
                    value: "alpha".into(),
                    base: Some(Base::Workspace),
                }],
                lib_dirs: vec!["debug/deps".into()],
                no_listing: None,
                harness: "libtest".into(),
                content: ManifestContent::Tests {
                    tests: vec![ManifestTest {
                        name: "tests::a".into(),
                        ignored: false,
                        source_path: None,
                        serial: Serial::Keys(vec!["db".into()]),
                        parallel_safe: false,
                        resource_slots: Some(2),
                        group: None,
                    }],
                },
            }],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        let text = serde_json::to_string_pretty(&m).unwrap();
        assert!(text.contains("\"format-version\": 2"), "{text}");
        assert_eq!(Manifest::from_json(&text).unwrap(), m);
    }

    #[test]
    fn another_version_is_refused_before_its_fields_are_read() {
        let text = r#"{"format-version": 99, "something": "else"}"#;
        assert!(matches!(
            Manifest::from_json(text),
            Err(ManifestError::Version(99))
        ));
        // Version 1 hashed binaries whole: its build identities are not this version's.
        let text = r#"{"format-version": 1, "build-identity": "0"}"#;
        assert!(matches!(
            Manifest::from_json(text),
            Err(ManifestError::Version(1))
        ));
        assert!(matches!(
            Manifest::from_json("not json"),
            Err(ManifestError::Json(_))
        ));
    }
}
