//! Packs a build into an archive: the manifest first, then every file of the target dir
//! the tests need (the test binaries, the executables they spawn, the build scripts'
//! output dirs and link-search dirs, the shared libraries of the deps dir they link to).
//! Nothing of the workspace's sources goes in: the machine that runs the archive has a
//! checkout of the same commit.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::manifest::{
    Base, EnvVar, Manifest, ManifestBinary, ManifestContent, ManifestTest, FORMAT_VERSION,
    MANIFEST_PATH, TARGET_PREFIX,
};
use crate::discover::{self, BinaryContent, Harness, ListedBinary, TestList, DYLIB_PATH_VAR};
use crate::errors::ArchiveCreateError;

/// The build an archive is made of, beside its test list.
#[derive(Clone, Debug)]
pub struct ArchiveBuild {
    pub workspace_root: PathBuf,
    /// The target dir every archived file is under (an instrumented build's is inside it).
    pub target_dir: PathBuf,
    pub coverage: bool,
}

/// What went into an archive.
#[derive(Clone, Debug)]
pub struct ArchiveSummary {
    pub binaries: usize,
    /// Files archived beside the manifest, the binaries among them.
    pub files: usize,
    /// The archive's size on disk.
    pub bytes: u64,
    pub build_id: String,
}

/// Writes the archive of `list` to `path` (replacing any file there).
pub fn create(
    list: &TestList,
    build: &ArchiveBuild,
    path: &Path,
) -> Result<ArchiveSummary, ArchiveCreateError> {
    let identity =
        discover::build_identity(list).map_err(|e| ArchiveCreateError::Identity(e.to_string()))?;
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        build_identity: identity.clone(),
        build_id: identity.clone(),
        workspace_root: build.workspace_root.to_string_lossy().into_owned(),
        target_dir: build.target_dir.to_string_lossy().into_owned(),
        coverage: build.coverage,
        binaries: Vec::new(),
    };
    let mut files = Files::default();
    for lb in &list.binaries {
        manifest.binaries.push(binary_entry(lb, build, &mut files)?);
    }
    let written = write(path, &manifest, &files, &build.target_dir)?;
    Ok(ArchiveSummary {
        binaries: list.binaries.len(),
        files: written,
        bytes: std::fs::metadata(path).map_or(0, |m| m.len()),
        build_id: identity,
    })
}

/// The files and directories (whole) of the target dir that go in.
#[derive(Default)]
struct Files {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

/// `path` relative to `base`, `/`-separated, if it is under it.
fn relative(path: &Path, base: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn in_target(path: &Path, build: &ArchiveBuild) -> Result<String, ArchiveCreateError> {
    relative(path, &build.target_dir).ok_or_else(|| ArchiveCreateError::OutsideTarget {
        file: path.to_owned(),
        target_dir: build.target_dir.clone(),
    })
}

/// The manifest's entry for one binary; the files it needs are added to `files`.
fn binary_entry(
    lb: &ListedBinary,
    build: &ArchiveBuild,
    files: &mut Files,
) -> Result<ManifestBinary, ArchiveCreateError> {
    let b = &lb.binary;
    files.files.insert(b.path.clone());
    let deps = b.path.parent().unwrap_or(Path::new(""));
    let mut env = Vec::new();
    let mut lib_dirs = Vec::new();
    for (name, value) in &b.env {
        match name.as_str() {
            // The build machine's cargo; the runner's own is set in its place.
            "CARGO" => continue,
            n if n == DYLIB_PATH_VAR => {
                for dir in std::env::split_paths(value) {
                    let Some(rel) = relative(&dir, &build.target_dir) else {
                        continue;
                    };
                    // The deps and profile dirs hold far more than the tests load:
                    // only the libraries the binaries link go in (below).
                    if dir != deps && Some(dir.as_path()) != deps.parent() {
                        files.dirs.insert(dir.clone());
                    }
                    lib_dirs.push(rel);
                }
                continue;
            }
            "OUT_DIR" => {
                files.dirs.insert(PathBuf::from(value));
            }
            n if n.starts_with("CARGO_BIN_EXE_") => {
                files.files.insert(PathBuf::from(value));
            }
            _ => {}
        }
        env.push(env_var(name, value, build));
    }
    files.files.extend(linked_libraries(&b.path, deps)?);
    Ok(ManifestBinary {
        id: b.id.as_str().to_owned(),
        package: b.package.clone(),
        kind: kind_name(b.kind),
        path: in_target(&b.path, build)?,
        cwd: relative(&b.cwd, &build.workspace_root).unwrap_or_default(),
        env,
        lib_dirs,
        no_listing: b.no_listing.clone(),
        harness: match lb.harness {
            Harness::Libtest => "libtest".into(),
            Harness::Stable => "stable".into(),
        },
        content: content_entry(&lb.content),
    })
}

fn kind_name(kind: discover::BinaryKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "lib".into(),
    }
}

/// A variable, a path under the target dir or the workspace made relative to it.
fn env_var(name: &str, value: &str, build: &ArchiveBuild) -> EnvVar {
    let path = Path::new(value);
    let rebased = path
        .is_absolute()
        .then(|| {
            relative(path, &build.target_dir)
                .map(|r| (r, Base::Target))
                .or_else(|| relative(path, &build.workspace_root).map(|r| (r, Base::Workspace)))
        })
        .flatten();
    let (value, base) = match rebased {
        Some((rel, base)) => (rel, Some(base)),
        None => (value.to_owned(), None),
    };
    EnvVar {
        name: name.to_owned(),
        value,
        base,
    }
}

fn content_entry(content: &BinaryContent) -> ManifestContent {
    match content {
        BinaryContent::Opaque { reason } => ManifestContent::Opaque {
            reason: reason.clone(),
        },
        BinaryContent::Tests(tests) => ManifestContent::Tests {
            tests: tests
                .iter()
                .map(|t| ManifestTest {
                    name: t.name.clone(),
                    ignored: t.ignored,
                    source_path: t.source_path.clone(),
                    serial: t.markers.serial.clone(),
                    parallel_safe: t.markers.parallel_safe,
                    resource_slots: t.markers.resource_slots,
                    group: t.markers.group.clone(),
                })
                .collect(),
        },
    }
}

/// The shared libraries of `deps` that `binary` links to. A library a binary needs is
/// named in its dynamic section, so a file name that does not occur in the binary's
/// bytes is not loaded by it; this spares the proc-macro libraries, which only the
/// compiler loads, without parsing the object format.
fn linked_libraries(binary: &Path, deps: &Path) -> Result<Vec<PathBuf>, ArchiveCreateError> {
    let suffix = std::env::consts::DLL_SUFFIX;
    let Ok(entries) = std::fs::read_dir(deps) else {
        return Ok(Vec::new());
    };
    let candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let bytes = std::fs::read(binary).map_err(|e| ArchiveCreateError::Read {
        file: binary.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(candidates
        .into_iter()
        .filter(|lib| {
            lib.file_name().is_some_and(|name| {
                memchr::memmem::find(&bytes, name.to_string_lossy().as_bytes()).is_some()
            })
        })
        .collect())
}

/// Writes the manifest and the files; returns how many files went in.
fn write(
    path: &Path,
    manifest: &Manifest,
    files: &Files,
    target_dir: &Path,
) -> Result<usize, ArchiveCreateError> {
    let fail = |e: std::io::Error| ArchiveCreateError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let file = File::create(path).map_err(fail)?;
    let mut encoder = zstd::Encoder::new(BufWriter::new(file), 0).map_err(fail)?;
    // The frame checksum catches a corrupt archive: the build identity, taken from the
    // binaries' build ids, does not read them through.
    encoder.include_checksum(true).map_err(fail)?;
    let mut tar = tar::Builder::new(encoder);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| fail(e.into()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST_PATH, json.as_slice())
        .map_err(fail)?;
    let name = |p: &Path| -> Result<String, ArchiveCreateError> {
        let rel = relative(p, target_dir).ok_or_else(|| ArchiveCreateError::OutsideTarget {
            file: p.to_owned(),
            target_dir: target_dir.to_owned(),
        })?;
        Ok(format!("{TARGET_PREFIX}/{rel}"))
    };
    let mut count = 0;
    for file in &files.files {
        let mut f = File::open(file).map_err(|e| ArchiveCreateError::Read {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        tar.append_file(name(file)?, &mut f).map_err(fail)?;
        count += 1;
    }
    for dir in &files.dirs {
        if !dir.is_dir() {
            // An OUT_DIR the build script left empty may not exist: nothing to carry.
            continue;
        }
        tar.append_dir_all(name(dir)?, dir).map_err(fail)?;
        count += count_files(dir);
    }
    let encoder = tar.into_inner().map_err(fail)?;
    let mut out = encoder.finish().map_err(fail)?;
    out.flush().map_err(fail)?;
    Ok(count)
}

/// The files under `dir`, for the summary line.
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            _ => 1,
        })
        .sum()
}
