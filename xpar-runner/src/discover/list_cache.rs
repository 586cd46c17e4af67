//! The listings of earlier runs, kept under `target/xpar/lists/` so that a run lists again
//! only the binaries cargo rebuilt: listing a binary of 20,000 tests costs a process and
//! a parse of 20,000 JSON lines on every run (about 60 ms), for a list that only a new
//! build can change.
//!
//! Only libtest's JSON listing is kept: a libtest binary's tests are fixed when it is
//! linked, and so are the markers its harness reports. Another harness (libtest-mimic,
//! a custom `main`) may list tests it finds at run time (files in a directory), so it is
//! asked every time.
//!
//! A binary's file is named after its id and directory (one file per binary and build
//! profile, overwritten when the binary changes) and holds the key of the binary it came
//! from: its path, size, modification time and inode. Cargo writes a rebuilt binary as a
//! new file, which changes all of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::binary::TestBinary;
use super::list::{ListedTest, Markers};

/// Raised when what the files hold changes meaning; a file of another version is a miss.
const FORMAT_VERSION: u32 = 1;

/// Where the listings of the workspace whose target dir is `target_dir` are kept.
pub fn dir(target_dir: &Path) -> PathBuf {
    target_dir.join("xpar").join("lists")
}

/// A binary's listing as kept: the tests in a compact form (each source file once), and
/// the harness's marker report as it wrote it.
#[derive(Serialize, Deserialize)]
struct Kept {
    version: u32,
    key: String,
    /// The source files of the tests, each once.
    sources: Vec<String>,
    /// (name, ignored, index into `sources`), in libtest's order.
    tests: Vec<(String, bool, Option<u32>)>,
    /// The marker report's JSON, when the harness wrote one.
    markers: Option<String>,
}

/// A listing found in the cache: the tests (without markers), and the marker report's
/// JSON, if there was one.
pub struct Cached {
    pub tests: Vec<ListedTest>,
    pub markers: Option<String>,
}

/// The key of the binary at `binary.path` as it is now; `None` when it cannot be read.
fn key(binary: &TestBinary) -> Option<String> {
    let meta = std::fs::metadata(&binary.path).ok()?;
    let nanos = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    let mut h = Xxh3::new();
    h.update(binary.path.as_os_str().as_encoded_bytes());
    h.update(&[0]);
    h.update(&meta.len().to_le_bytes());
    h.update(&nanos.to_le_bytes());
    #[cfg(unix)]
    h.update(&std::os::unix::fs::MetadataExt::ino(&meta).to_le_bytes());
    Some(format!("{:032x}", h.digest128()))
}

/// The file that keeps `binary`'s listing in `dir`.
fn file(dir: &Path, binary: &TestBinary) -> PathBuf {
    let parent = binary.path.parent().unwrap_or(Path::new(""));
    let mut name = binary.id.as_str().as_bytes().to_vec();
    name.push(0);
    name.extend(parent.as_os_str().as_encoded_bytes());
    dir.join(format!("{:016x}.json", xxh3_64(&name)))
}

/// The listing kept for `binary`, if it was made from the binary as it is now.
pub fn load(dir: &Path, binary: &TestBinary) -> Option<Cached> {
    let key = key(binary)?;
    let bytes = std::fs::read(file(dir, binary)).ok()?;
    let kept: Kept = serde_json::from_slice(&bytes).ok()?;
    if kept.version != FORMAT_VERSION || kept.key != key {
        return None;
    }
    let mut tests = Vec::with_capacity(kept.tests.len());
    for (name, ignored, source) in kept.tests {
        let source_path = match source {
            Some(i) => Some(kept.sources.get(usize::try_from(i).ok()?)?.clone()),
            None => None,
        };
        tests.push(ListedTest {
            name,
            ignored,
            source_path,
            markers: Markers::default(),
        });
    }
    Some(Cached {
        tests,
        markers: kept.markers,
    })
}

/// Keeps `tests` and `markers` as `binary`'s listing. A listing that cannot be kept only
/// costs the next run a listing.
pub fn store(dir: &Path, binary: &TestBinary, tests: &[ListedTest], markers: Option<&str>) {
    let Some(key) = key(binary) else { return };
    let mut sources: Vec<String> = Vec::new();
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut kept_tests = Vec::with_capacity(tests.len());
    for t in tests {
        let source = match t.source_path.as_deref() {
            Some(s) => match index.get(s) {
                Some(&i) => Some(i),
                None => {
                    let Ok(i) = u32::try_from(sources.len()) else {
                        return;
                    };
                    index.insert(s, i);
                    sources.push(s.to_owned());
                    Some(i)
                }
            },
            None => None,
        };
        kept_tests.push((t.name.clone(), t.ignored, source));
    }
    let kept = Kept {
        version: FORMAT_VERSION,
        key,
        sources,
        tests: kept_tests,
        markers: markers.map(str::to_owned),
    };
    let Ok(bytes) = serde_json::to_vec(&kept) else {
        return;
    };
    let path = file(dir, binary);
    // Written aside and renamed, so that a run reading it at the same time sees the old
    // listing or the new, never half of one.
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::create_dir_all(dir).is_ok()
        && std::fs::write(&tmp, bytes).is_ok()
        && std::fs::rename(&tmp, &path).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::ListedBinary;

    fn binary(dir: &Path, content: &str) -> TestBinary {
        let path = dir.join("deps").join("crate-0123");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        let mut b = ListedBinary::fake_lib("crate", vec![]).binary;
        b.path = path;
        b
    }

    fn test(name: &str, ignored: bool, source: Option<&str>) -> ListedTest {
        ListedTest {
            name: name.into(),
            ignored,
            source_path: source.map(Into::into),
            markers: Markers::default(),
        }
    }

    #[test]
    fn a_listing_is_found_again_until_the_binary_is_rebuilt() {
        let target = tempfile::tempdir().unwrap();
        let cache = dir(target.path());
        let b = binary(target.path(), "one build");
        assert!(load(&cache, &b).is_none(), "nothing kept yet");
        let tests = vec![
            test("a::one", false, Some("src/a.rs")),
            test("a::two", true, Some("src/a.rs")),
            test("b", false, None),
            test("c::three", false, Some("tests/c.rs")),
        ];
        let markers = r#"{"format_version":1,"tests":[]}"#;
        store(&cache, &b, &tests, Some(markers));
        let found = load(&cache, &b).expect("kept");
        assert_eq!(found.tests, tests);
        assert_eq!(found.markers.as_deref(), Some(markers));

        // Cargo writes a rebuilt binary as a new file.
        std::fs::remove_file(&b.path).unwrap();
        std::fs::write(&b.path, "another build").unwrap();
        assert!(
            load(&cache, &b).is_none(),
            "a rebuilt binary is listed again"
        );
        std::fs::remove_file(&b.path).unwrap();
        assert!(load(&cache, &b).is_none(), "a binary that is gone");
    }

    #[test]
    fn a_damaged_file_is_a_miss() {
        let target = tempfile::tempdir().unwrap();
        let cache = dir(target.path());
        let b = binary(target.path(), "build");
        store(&cache, &b, &[test("t", false, None)], None);
        std::fs::write(file(&cache, &b), "{\"version\":1,").unwrap();
        assert!(load(&cache, &b).is_none());
    }
}
