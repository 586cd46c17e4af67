//! Opens an archive on a machine that builds nothing: extracts it, checks its manifest's
//! version and that the extracted binaries are the ones it lists (their build identity),
//! and rebuilds the test list with the binaries and their files in the extraction and
//! the working directories in the workspace (the original one, or `--workspace-remap`).
//! The binaries are not listed again: their listing is the manifest's.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::manifest::{
    Base, Manifest, ManifestBinary, ManifestContent, ManifestError, FORMAT_VERSION, MANIFEST_PATH,
    TARGET_PREFIX,
};
use crate::discover::{
    self, BinaryContent, BinaryId, BinaryKind, Harness, ListedBinary, ListedTest, Markers,
    TestBinary, TestList, DYLIB_PATH_VAR,
};
use crate::errors::ArchiveOpenError;
use crate::session::Discovered;

/// Where a run takes its tests from instead of building them (`--archive-file`).
#[derive(Clone, Debug)]
pub struct ArchiveSource {
    pub file: PathBuf,
    /// The checkout the tests run in (`--workspace-remap`); the build machine's
    /// workspace root when not given, if it exists here.
    pub workspace_remap: Option<PathBuf>,
    /// Where to extract it (`--extract-to`), kept; a temporary dir removed after the run
    /// when not given.
    pub extract_to: Option<PathBuf>,
}

/// An extracted archive, ready to run.
pub struct OpenedArchive {
    /// The tests, their binaries in the extraction; the target dir is the workspace's
    /// `target`, for the run's history, records and coverage.
    pub discovered: Discovered,
    pub info: ArchiveInfo,
}

/// What a run from an archive keeps beside its tests.
pub struct ArchiveInfo {
    /// The build's id, the same on every machine that runs this archive: the build
    /// identity of its binaries, which `discover::build_identity` gives for a build too.
    pub build_id: String,
    /// The binaries were built instrumented (`archive --coverage`).
    pub coverage: bool,
    pub extraction: Extraction,
}

/// Where an archive was extracted: a temporary dir is removed when this is dropped, so it
/// must live as long as the run.
pub struct Extraction(Option<tempfile::TempDir>);

impl Extraction {
    /// The temporary dir, if the archive was extracted to one.
    pub fn temp_dir(&self) -> Option<&Path> {
        self.0.as_ref().map(|t| t.path())
    }
}

/// The tests of a run from an archive. With `coverage`, the archive must have been made
/// instrumented.
pub fn open_for_run(
    source: &ArchiveSource,
    coverage: bool,
) -> Result<OpenedArchive, ArchiveOpenError> {
    let opened = open(source)?;
    if coverage && !opened.info.coverage {
        return Err(ArchiveOpenError::NotInstrumented {
            path: source.file.clone(),
        });
    }
    Ok(opened)
}

/// zstd's frame magic number, little-endian.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Extracts and checks `source`.
pub fn open(source: &ArchiveSource) -> Result<OpenedArchive, ArchiveOpenError> {
    let path = &source.file;
    let err_path = || path.clone();
    if !path.is_file() {
        return Err(ArchiveOpenError::NotAFile { path: err_path() });
    }
    check_magic(path)?;
    // The workspace is checked before a possibly long extraction.
    let (temp, dir) = extraction_dir(source)?;
    let manifest = extract(path, &dir)?;
    let workspace = workspace_root(source, &manifest)?;
    let target = dir.join(TARGET_PREFIX);
    // The run's own files (history, records, coverage) go where a build here would put
    // them, not into an extraction that may be removed after the run.
    let run_target_dir = workspace.join("target");
    let list = TestList {
        binaries: manifest
            .binaries
            .iter()
            .map(|b| listed_binary(b, &target, &workspace))
            .collect::<Result<_, _>>()
            .map_err(|reason| ArchiveOpenError::BadManifest {
                path: err_path(),
                reason,
            })?,
    };
    let found = discover::build_identity(&list).map_err(|e| ArchiveOpenError::Corrupt {
        path: err_path(),
        reason: format!("a file it lists is missing: {e}"),
    })?;
    if found != manifest.build_identity {
        return Err(ArchiveOpenError::IdentityMismatch {
            path: err_path(),
            expected: manifest.build_identity,
            found,
        });
    }
    Ok(OpenedArchive {
        discovered: Discovered {
            list,
            target_dir: run_target_dir,
            workspace_root: workspace,
        },
        info: ArchiveInfo {
            build_id: manifest.build_id,
            coverage: manifest.coverage,
            extraction: Extraction(temp),
        },
    })
}

/// A file that does not start as zstd does is not an archive at all.
fn check_magic(path: &Path) -> Result<(), ArchiveOpenError> {
    let mut magic = [0u8; 4];
    let read = File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Ok(()) if magic == ZSTD_MAGIC => Ok(()),
        Ok(()) => Err(ArchiveOpenError::NotZstd {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(ArchiveOpenError::NotZstd {
            path: path.to_owned(),
        }),
        Err(e) => Err(ArchiveOpenError::Corrupt {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

fn extraction_dir(
    source: &ArchiveSource,
) -> Result<(Option<tempfile::TempDir>, PathBuf), ArchiveOpenError> {
    let fail = |dir: &Path, e: std::io::Error| ArchiveOpenError::Extract {
        path: source.file.clone(),
        dir: dir.to_owned(),
        reason: e.to_string(),
    };
    match &source.extract_to {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
            // The binaries are started from their packages' directories.
            let dir = std::path::absolute(dir).map_err(|e| fail(dir, e))?;
            Ok((None, dir))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("xpar-archive-")
                .tempdir()
                .map_err(|e| fail(&std::env::temp_dir(), e))?;
            let dir = temp.path().to_owned();
            Ok((Some(temp), dir))
        }
    }
}

/// Unpacks the target dir's files into `dir` and returns the manifest.
fn extract(path: &Path, dir: &Path) -> Result<Manifest, ArchiveOpenError> {
    let read_error = |e: std::io::Error| classify(path, e);
    let file = File::open(path).map_err(read_error)?;
    let decoder = zstd::Decoder::new(file).map_err(read_error)?;
    let mut archive = tar::Archive::new(decoder);
    archive.set_preserve_permissions(true);
    let mut manifest_text = None;
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        let name = entry.path().map_err(read_error)?.into_owned();
        if name == Path::new(MANIFEST_PATH) {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(read_error)?;
            manifest_text = Some(text);
        } else if name.starts_with(TARGET_PREFIX) {
            // `unpack_in` refuses paths that would leave `dir`.
            entry.unpack_in(dir).map_err(|e| {
                if is_read_error(&e) {
                    classify(path, e)
                } else {
                    ArchiveOpenError::Extract {
                        path: path.to_owned(),
                        dir: dir.to_owned(),
                        reason: e.to_string(),
                    }
                }
            })?;
        }
    }
    let text = manifest_text.ok_or_else(|| ArchiveOpenError::NoManifest {
        path: path.to_owned(),
        manifest: MANIFEST_PATH,
    })?;
    Manifest::from_json(&text).map_err(|e| match e {
        ManifestError::Version(found) => ArchiveOpenError::Version {
            path: path.to_owned(),
            found,
            expected: FORMAT_VERSION,
        },
        ManifestError::Json(e) => ArchiveOpenError::BadManifest {
            path: path.to_owned(),
            reason: e.to_string(),
        },
    })
}

/// The innermost error under `e` (tar wraps the read error in one that names the file
/// being unpacked, here a path in the extraction that would only confuse), and its kind
/// if it is an I/O error.
fn root_cause(e: &std::io::Error) -> (ErrorKind, String) {
    let mut kind = e.kind();
    let mut message = e.to_string();
    let mut next: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(inner) = next {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            kind = io.kind();
        }
        message = inner.to_string();
        next = inner.source();
    }
    (kind, message)
}

/// Whether an error of unpacking came from reading the archive rather than from writing
/// the extraction.
fn is_read_error(e: &std::io::Error) -> bool {
    let (kind, message) = root_cause(e);
    kind == ErrorKind::UnexpectedEof || message.contains("frame") || message.contains("block")
}

/// A read error of the archive: an end too early is a truncated copy, anything else
/// corruption.
fn classify(path: &Path, e: std::io::Error) -> ArchiveOpenError {
    let (kind, reason) = root_cause(&e);
    let reason = reason.lines().next().unwrap_or_default().to_owned();
    if kind == ErrorKind::UnexpectedEof || reason.contains("incomplete frame") {
        ArchiveOpenError::Truncated {
            path: path.to_owned(),
            reason,
        }
    } else {
        ArchiveOpenError::Corrupt {
            path: path.to_owned(),
            reason,
        }
    }
}

/// `--workspace-remap`, which must be a directory; else the build machine's workspace,
/// if it is here (nextest asks for the flag in the same case).
fn workspace_root(
    source: &ArchiveSource,
    manifest: &Manifest,
) -> Result<PathBuf, ArchiveOpenError> {
    match &source.workspace_remap {
        Some(dir) if dir.is_dir() => Ok(std::path::absolute(dir).unwrap_or_else(|_| dir.clone())),
        Some(dir) => Err(ArchiveOpenError::RemapMissing { dir: dir.clone() }),
        None => {
            let original = PathBuf::from(&manifest.workspace_root);
            if original.is_dir() {
                Ok(original)
            } else {
                Err(ArchiveOpenError::NoWorkspace {
                    path: source.file.clone(),
                    original,
                })
            }
        }
    }
}

/// A binary of the manifest, placed: its files in `target`, its working directory and
/// sources in `workspace`. `Err` is what of the manifest does not make sense.
fn listed_binary(
    b: &ManifestBinary,
    target: &Path,
    workspace: &Path,
) -> Result<ListedBinary, String> {
    let kind: BinaryKind = serde_json::from_value(serde_json::Value::String(b.kind.clone()))
        .map_err(|_| format!("unknown binary kind `{}` of {}", b.kind, b.id))?;
    // The manifest's paths are `/`-separated: joined a part at a time, they take this
    // system's separator (`target\debug\deps\x.exe` on Windows).
    let place = |base: &Path, rel: &str| {
        rel.split('/')
            .filter(|part| !part.is_empty())
            .fold(base.to_owned(), |path, part| path.join(part))
    };
    let mut env: Vec<(String, String)> = b
        .env
        .iter()
        .map(|v| {
            let value = match v.base {
                Some(Base::Target) => place(target, &v.value).to_string_lossy().into_owned(),
                Some(Base::Workspace) => place(workspace, &v.value).to_string_lossy().into_owned(),
                None => v.value.clone(),
            };
            (v.name.clone(), value)
        })
        .collect();
    if let Some(cargo) = std::env::var_os("CARGO") {
        env.push(("CARGO".into(), cargo.to_string_lossy().into_owned()));
    }
    // The archive's library dirs, then this machine's toolchain and the user's own.
    let mut dirs: Vec<PathBuf> = b.lib_dirs.iter().map(|d| place(target, d)).collect();
    dirs.extend(discover::sysroot_libs());
    if let Some(existing) = std::env::var_os(DYLIB_PATH_VAR) {
        dirs.extend(std::env::split_paths(&existing));
    }
    if let Ok(joined) = std::env::join_paths(dirs) {
        env.push((DYLIB_PATH_VAR.into(), joined.to_string_lossy().into_owned()));
    }
    let harness = match b.harness.as_str() {
        "libtest" => Harness::Libtest,
        "stable" => Harness::Stable,
        other => return Err(format!("unknown harness `{other}` of {}", b.id)),
    };
    Ok(ListedBinary {
        binary: TestBinary {
            id: BinaryId::new(b.id.clone()),
            package: b.package.clone(),
            kind,
            path: place(target, &b.path),
            cwd: place(workspace, &b.cwd),
            args: Vec::new(),
            timeout: None,
            env,
            no_listing: b.no_listing.clone(),
            repeated: Vec::new(),
            runner: Vec::new(),
        },
        content: listed_content(&b.content),
        harness,
    })
}

/// The listing the manifest recorded, as discovery gives it.
fn listed_content(content: &ManifestContent) -> BinaryContent {
    match content {
        ManifestContent::Opaque { reason } => BinaryContent::Opaque {
            reason: reason.clone(),
        },
        ManifestContent::Tests { tests } => BinaryContent::Tests(
            tests
                .iter()
                .map(|t| ListedTest {
                    name: t.name.clone(),
                    ignored: t.ignored,
                    source_path: t.source_path.clone(),
                    markers: Markers {
                        serial: t.serial.clone(),
                        parallel_safe: t.parallel_safe,
                        resource_slots: t.resource_slots,
                        group: t.group.clone(),
                        ..Markers::default()
                    },
                })
                .collect(),
        ),
    }
}
