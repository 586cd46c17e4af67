//! The identity of a build: what makes two machines' test binaries the same build, so
//! that shards of one run can be merged and a shard of another build refused.
//!
//! It is a hash of every test binary's id and content, and of every executable its tests
//! may spawn (`CARGO_BIN_EXE_*`), so it is the same for a build and for an archive of it
//! (whose files are the build's, byte for byte), and differs as soon as one binary does.
//!
//! A file's content is stood for by the build id its linker wrote into it when it has one
//! (ELF's `.note.gnu.build-id`, a SHA-1 of the linked output that Debian's and most
//! distributions' toolchains add by default; Mach-O's `LC_UUID`): reading those few bytes
//! instead of hashing hundreds of megabytes of debug binaries takes a queue machine's
//! join from tens of milliseconds to a fraction of one. Files without one are hashed
//! whole.

use std::io::Read;
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use super::list::TestList;

/// The build identity of `list`'s binaries: 32 hex digits (xxh3-128). An unreadable file
/// is an error naming it.
pub fn build_identity(list: &TestList) -> std::io::Result<String> {
    let mut files: Vec<(String, &Path)> = Vec::new();
    for lb in &list.binaries {
        let b = &lb.binary;
        files.push((b.id.as_str().to_owned(), &b.path));
        for (k, v) in &b.env {
            if let Some(name) = k.strip_prefix("CARGO_BIN_EXE_") {
                files.push((format!("{}:bin/{name}", b.id.as_str()), Path::new(v)));
            }
        }
    }
    files.sort();
    files.dedup();
    let mut all = Xxh3::new();
    for (name, path) in files {
        all.update(name.as_bytes());
        all.update(&[0]);
        match linker_build_id(path) {
            Some(id) => {
                all.update(b"build-id:");
                all.update(&id);
            }
            None => all.update(&content_hash(path)?.to_le_bytes()),
        }
    }
    Ok(format!("{:032x}", all.digest128()))
}

/// The build id the linker wrote into the executable at `path`, if it is one and has one.
fn linker_build_id(path: &Path) -> Option<Vec<u8>> {
    use object::Object;
    let file = std::fs::File::open(path).ok()?;
    let cache = object::read::ReadCache::new(file);
    let parsed = object::read::File::parse(&cache).ok()?;
    let id = match parsed.build_id() {
        Ok(Some(id)) => id.to_vec(),
        _ => parsed.mach_uuid().ok().flatten()?.to_vec(),
    };
    (!id.is_empty()).then_some(id)
}

/// xxh3 of a file's content, read in blocks.
fn content_hash(path: &Path) -> std::io::Result<u64> {
    let add_path =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(add_path)?;
    let mut hash = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(add_path)?;
        if n == 0 {
            return Ok(hash.digest());
        }
        hash.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::ListedBinary;

    #[test]
    fn the_identity_follows_the_binaries_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpha-bin");
        std::fs::write(&path, b"first build").unwrap();
        let mut lb = ListedBinary::fake_lib("alpha", Vec::new());
        lb.binary.path = path.clone();
        let list = TestList { binaries: vec![lb] };
        let first = build_identity(&list).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(build_identity(&list).unwrap(), first);
        std::fs::write(&path, b"second build").unwrap();
        assert_ne!(build_identity(&list).unwrap(), first);
        std::fs::remove_file(&path).unwrap();
        let err = build_identity(&list).unwrap_err();
        assert!(err.to_string().contains("alpha-bin"), "{err}");
    }

    /// A linked executable is known by its linker's build id: the test binary itself (the
    /// toolchains this runs on add one), copied, then with one byte of the id changed.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_linked_binary_is_known_by_its_build_id() {
        let exe = std::env::current_exe().unwrap();
        let id = linker_build_id(&exe).expect("the test binary has a build id");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy");
        let mut bytes = std::fs::read(&exe).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let mut lb = ListedBinary::fake_lib("alpha", Vec::new());
        lb.binary.path = path.clone();
        let list = TestList { binaries: vec![lb] };
        let first = build_identity(&list).unwrap();
        let at = (bytes.windows(id.len()))
            .position(|w| w == id.as_slice())
            .unwrap();
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_ne!(linker_build_id(&path), Some(id));
        assert_ne!(build_identity(&list).unwrap(), first);
    }
}
