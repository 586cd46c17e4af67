//! The doctest lists of earlier runs, kept in `target/xpar/doctests.json` so that a run
//! lists again only the libraries that changed: listing an edition 2024 library's
//! doctests compiles all of them (rustdoc merges them into one program, even for
//! `--list`), which costs as much as running them.
//!
//! A list is kept under a key of everything it came from: the rustdoc that lists, the
//! invocation cargo made (arguments, variables, directory) and the size and
//! modification time of each file the invocation names (the crate's source and every
//! `--extern` library, its own among them) and of every file of the package (a file
//! included only under `cfg(doctest)` changes no library cargo builds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::record::Invocation;

/// A library's doctests as rustdoc lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// Every doctest, in rustdoc's order.
    pub names: Vec<String>,
    /// Those marked `ignore`.
    pub ignored: Vec<String>,
}

/// The lists kept from earlier runs, by key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ListCache {
    lists: BTreeMap<String, Listed>,
}

impl ListCache {
    /// The cache at `path`; an absent or unreadable one is empty (every list is made
    /// again).
    pub fn load(path: &Path) -> ListCache {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, key: &str) -> Option<&Listed> {
        self.lists.get(key)
    }

    /// Keeps exactly `lists` (the libraries of this run), so the file never grows past
    /// one entry per library. A cache that cannot be written only costs the next run
    /// its lists.
    pub fn store(path: &Path, lists: BTreeMap<String, Listed>) {
        write_atomically(path, &ListCache { lists });
    }
}

/// The invocations cargo made last time, and the key they were recorded under.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RecordCache {
    pub key: String,
    pub invocations: Vec<Invocation>,
}

impl RecordCache {
    /// The invocations recorded under `key`, if those at `path` were.
    pub fn load(path: &Path, key: &str) -> Option<Vec<Invocation>> {
        let bytes = std::fs::read(path).ok()?;
        let cache: RecordCache = serde_json::from_slice(&bytes).ok()?;
        (cache.key == key).then_some(cache.invocations)
    }

    pub fn store(path: &Path, key: String, invocations: &[Invocation]) {
        let cache = RecordCache {
            key,
            invocations: invocations.to_vec(),
        };
        write_atomically(path, &cache);
    }
}

/// The key of the invocations cargo makes for `cargo_args` when the build's doctest
/// inputs are `inputs` (see `BuildOutput::doctest_inputs`): the arguments, the current
/// directory, the variables that change rustdoc's command, and each input's size and
/// time.
pub fn record_key(cargo_args: &[std::ffi::OsString], inputs: &[PathBuf]) -> String {
    let mut h = Xxh3::new();
    let mut put = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for a in cargo_args {
        put(a.as_encoded_bytes());
    }
    // Which packages cargo picks without `-p` depends on where it is run.
    let cwd = std::env::current_dir().unwrap_or_default();
    put(cwd.as_os_str().as_encoded_bytes());
    for var in RUSTDOC_VARS {
        put(var.as_bytes());
        put(std::env::var_os(var).unwrap_or_default().as_encoded_bytes());
    }
    for file in inputs {
        put(file.as_os_str().as_encoded_bytes());
        put(&stamp(file));
    }
    format!("{:032x}", h.digest128())
}

/// The variables that change the command cargo gives rustdoc for doctests.
const RUSTDOC_VARS: &[&str] = &[
    "RUSTDOC",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTDOC",
    "RUSTC",
    "CARGO_BUILD_RUSTC",
    "CARGO_TARGET_DIR",
];

fn write_atomically(path: &Path, value: &impl Serialize) {
    if let Ok(bytes) = serde_json::to_vec(value) {
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

/// The key of `invocation`'s list when `rustdoc` makes it.
pub fn key(invocation: &Invocation, rustdoc: &Path) -> String {
    let mut h = Xxh3::new();
    let mut put = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put(rustdoc.as_os_str().as_encoded_bytes());
    put(invocation.cwd.as_os_str().as_encoded_bytes());
    for a in &invocation.args {
        put(a.as_bytes());
    }
    for (k, v) in &invocation.env {
        put(k.as_bytes());
        put(v.as_bytes());
    }
    for file in named_files(invocation)
        .into_iter()
        .chain(package_files(invocation))
    {
        put(file.as_os_str().as_encoded_bytes());
        put(&stamp(&file));
    }
    format!("{:032x}", h.digest128())
}

/// Every file of the package (`CARGO_MANIFEST_DIR`) but its build output, hidden
/// directories and packages inside it: a file that only rustdoc reads
/// (`#[cfg(doctest)] #[doc = include_str!(...)]`) changes no library cargo builds.
fn package_files(invocation: &Invocation) -> Vec<PathBuf> {
    let Some(root) = invocation.env.get("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Vec::new();
    };
    let walk = walkdir::WalkDir::new(&root).sort_by_file_name().into_iter();
    walk.filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        let is_dir = e.file_type().is_dir();
        e.depth() == 0
            || !is_dir
            || !(name.starts_with('.') || name == "target" || e.path().join("Cargo.toml").exists())
    })
    .filter_map(Result::ok)
    .filter(|e| e.file_type().is_file())
    .map(walkdir::DirEntry::into_path)
    .collect()
}

/// The files `invocation` reads that cargo rebuilds or rewrites when they change: the
/// crate's source (`--test FILE`) and each `--extern NAME=PATH`.
fn named_files(invocation: &Invocation) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut args = invocation.args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--test" => {}
            "--extern" => {
                if let Some((_, path)) = args.next().and_then(|v| v.split_once('=')) {
                    out.push(PathBuf::from(path));
                }
            }
            // The crate's source: the one argument that is a `.rs` file.
            other if other.ends_with(".rs") && !other.starts_with('-') => {
                out.push(invocation.cwd.join(other));
            }
            _ => {}
        }
    }
    out
}

/// A file's size and modification time (nanoseconds), or nothing for a file that is not
/// there: it still counts in the key, and its appearing changes the key.
fn stamp(path: &Path) -> Vec<u8> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut out = meta.len().to_le_bytes().to_vec();
    out.extend(nanos.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(dir: &Path, rlib: &Path) -> Invocation {
        Invocation {
            cwd: dir.to_owned(),
            args: vec![
                "--edition=2021".into(),
                "--test".into(),
                "src/lib.rs".into(),
                "--extern".into(),
                format!("lib={}", rlib.display()),
            ],
            env: BTreeMap::from([("CARGO_PKG_NAME".into(), "lib".into())]),
        }
    }

    #[test]
    fn the_key_changes_with_the_library_and_the_source_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let src = dir.path().join("src/lib.rs");
        let rlib = dir.path().join("liblib.rlib");
        std::fs::write(&src, "/// doc").unwrap();
        std::fs::write(&rlib, "one").unwrap();
        let inv = invocation(dir.path(), &rlib);
        let rustdoc = Path::new("rustdoc");
        let first = key(&inv, rustdoc);
        assert_eq!(first, key(&inv, rustdoc), "the same inputs, the same key");

        std::fs::write(&rlib, "rebuilt").unwrap();
        let rebuilt = key(&inv, rustdoc);
        assert_ne!(first, rebuilt, "a rebuilt library");

        std::fs::write(&src, "/// another doc").unwrap();
        assert_ne!(rebuilt, key(&inv, rustdoc), "a changed source");

        let mut other = inv.clone();
        other.args.push("--cfg=feature=\"x\"".into());
        assert_ne!(key(&inv, rustdoc), key(&other, rustdoc), "other arguments");
        assert_ne!(
            key(&inv, rustdoc),
            key(&inv, Path::new("/other/rustdoc")),
            "another rustdoc"
        );
    }

    #[test]
    fn the_cache_keeps_only_what_it_was_given_and_survives_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doctests.json");
        assert!(ListCache::load(&path).get("k").is_none(), "no file: empty");
        let listed = Listed {
            names: vec!["src/lib.rs - f (line 3)".into()],
            ignored: vec![],
        };
        ListCache::store(&path, BTreeMap::from([("k".to_owned(), listed.clone())]));
        assert_eq!(ListCache::load(&path).get("k"), Some(&listed));
        ListCache::store(&path, BTreeMap::new());
        assert!(
            ListCache::load(&path).get("k").is_none(),
            "old keys dropped"
        );
        std::fs::write(&path, "{not json").unwrap();
        assert!(
            ListCache::load(&path).get("k").is_none(),
            "a bad file is empty"
        );
    }
}
