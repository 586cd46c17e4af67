//! Copies of the fixture workspaces in temp dirs, so that runs never share a target dir
//! or see each other's edits.

use std::fs;
use std::io;
use std::path::Path;

use tempfile::TempDir;

use crate::xpar::workspace_root;

/// A copy of `fixtures/<name>` in a temp dir, removed on drop.
#[derive(Debug)]
pub struct FixtureCopy {
    dir: TempDir,
}

impl FixtureCopy {
    /// Copies `fixtures/<name>`, leaving out any `target/` dir left by a manual build.
    pub fn new(name: &str) -> FixtureCopy {
        Self::new_in(name, &std::env::temp_dir())
    }

    /// A copy in `parent`: for a copy held in a `static`, which is never dropped, a
    /// parent inside the target dir (`CARGO_TARGET_TMPDIR`), emptied of earlier copies of
    /// the same fixture first, keeps it out of the system's temp dir.
    pub fn new_in(name: &str, parent: &Path) -> FixtureCopy {
        let src = workspace_root().join("fixtures").join(name);
        assert!(src.is_dir(), "no fixture at {}", src.display());
        if parent != std::env::temp_dir() {
            let prefix = format!("xpar-{name}-");
            for old in fs::read_dir(parent).into_iter().flatten().flatten() {
                if old.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_dir_all(old.path());
                }
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("xpar-{name}-"))
            .tempdir_in(parent)
            .expect("create a temp dir for the fixture");
        copy_dir(&src, dir.path())
            .unwrap_or_else(|err| panic!("could not copy fixture {name}: {err}"));
        FixtureCopy { dir }
    }

    /// The root of the copied workspace.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn copy_dir(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            fs::create_dir(&to)?;
            copy_dir(&from, &to)?;
        } else if entry.file_name() == "Cargo.toml" {
            // Fixtures depend on this workspace's crates by relative path, which a copy
            // elsewhere must spell out in full.
            let root = workspace_root().display().to_string();
            let text = fs::read_to_string(&from)?.replace("\"../../", &format!("\"{root}/"));
            fs::write(&to, text)?;
        } else {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}
