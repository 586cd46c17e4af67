//! Which sources a coverage report leaves out: crates.io and git dependencies (under
//! `$CARGO_HOME`), the toolchain (`$RUSTUP_HOME`, rustc's sysroot) and the standard
//! library as rustc remaps it (`/rustc/<hash>/`), found where they really are rather than
//! where they are by default.

use std::path::{Path, PathBuf};

/// The standard library's sources as rustc's own build remaps them.
const REMAPPED_STD: &str = "^/rustc/";

/// The directories whose sources are not the workspace's, for this environment:
/// `$CARGO_HOME` (else `~/.cargo`) `registry/` and `git/`, `$RUSTUP_HOME` (else
/// `~/.rustup`) `toolchains/`, and `sysroot`.
pub fn foreign_roots(sysroot: &Path) -> Vec<PathBuf> {
    let home_or = |var: &str, dot_dir: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::home_dir().map(|h| h.join(dot_dir)))
    };
    let mut roots = Vec::new();
    if let Some(cargo) = home_or("CARGO_HOME", ".cargo") {
        roots.push(cargo.join("registry"));
        roots.push(cargo.join("git"));
    }
    if let Some(rustup) = home_or("RUSTUP_HOME", ".rustup") {
        roots.push(rustup.join("toolchains"));
    }
    roots.push(sysroot.to_owned());
    with_real_paths(roots)
}

/// `roots` made absolute (cargo reads a relative `CARGO_HOME` from the current
/// directory), each followed by its canonical form where that differs: rustc is given
/// the paths as cargo spells them, while a symlinked home (or macOS's `/tmp`) has a
/// second spelling.
fn with_real_paths(roots: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for root in roots {
        let root = std::path::absolute(&root).unwrap_or(root);
        let real = root.canonicalize().ok();
        for p in std::iter::once(root).chain(real) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The `-ignore-filename-regex` for llvm-cov that matches every file under `roots` and
/// the remapped standard library. Paths are escaped with `regex::escape`, whose `\x` for
/// a punctuation character `x` LLVM's regex reads as a literal `x` too.
pub fn ignore_regex(roots: &[PathBuf]) -> String {
    let mut alternatives = vec![REMAPPED_STD.to_owned()];
    alternatives.extend(roots.iter().map(|root| {
        let root = root.to_string_lossy();
        let root = root.trim_end_matches(['/', '\\']);
        format!(r"^{}[/\\]", regex::escape(root))
    }));
    format!("({})", alternatives.join("|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(roots: &[&str], file: &str) -> bool {
        let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
        regex::Regex::new(&ignore_regex(&roots))
            .unwrap()
            .is_match(file)
    }

    #[test]
    fn files_under_any_root_are_ignored_wherever_the_homes_are() {
        let roots = [
            "/usr/local/cargo/registry",
            "/usr/local/cargo/git",
            "/usr/local/rustup/toolchains",
        ];
        for file in [
            "/usr/local/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/itoa-1.0.18/src/lib.rs",
            "/usr/local/cargo/git/checkouts/dep-0123abcd/4567ef0/src/lib.rs",
            "/usr/local/rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/fmt/mod.rs",
            "/rustc/59807616e4b8c0a1e1c2d1f0b1a2b3c4d5e6f7a8/library/std/src/panicking.rs",
        ] {
            assert!(matches(&roots, file), "{file} is not ignored");
        }
    }

    #[test]
    fn the_workspace_is_kept_even_beside_or_inside_a_home_of_that_name() {
        let roots = ["/usr/local/cargo/registry", "/home/me/.rustup/toolchains"];
        for file in [
            // The default locations are not special once the homes are elsewhere.
            "/home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/itoa-1.0.18/src/lib.rs",
            // A sibling whose name starts like a root.
            "/usr/local/cargo/registry-mirror/src/lib.rs",
            // A root's path further down another path.
            "/work/usr/local/cargo/registry/src/lib.rs",
            "/work/shop/src/rustc/lib.rs",
            "/work/shop/src/lib.rs",
        ] {
            assert!(!matches(&roots, file), "{file} is ignored");
        }
    }

    #[test]
    fn paths_with_regex_characters_match_only_themselves() {
        let roots = [r"/opt/c++ (x86)/cargo.home+1/registry"];
        assert!(matches(
            &roots,
            "/opt/c++ (x86)/cargo.home+1/registry/src/a/lib.rs"
        ));
        // Unescaped, `+` and `.` would let these through.
        assert!(!matches(&roots, "/opt/c (x86)/cargo.home+1/registry/a.rs"));
        assert!(!matches(
            &roots,
            "/opt/c++ (x86)/cargoXhome+1/registry/a.rs"
        ));
        assert!(!matches(
            &roots,
            "/opt/c++ (x86)/cargo.homee1/registry/a.rs"
        ));
    }

    #[test]
    fn windows_separators_and_trailing_separators() {
        assert!(matches(
            &[r"C:\Users\me\.cargo\registry\"],
            r"C:\Users\me\.cargo\registry\src\index\itoa-1.0.18\src\lib.rs"
        ));
        assert!(matches(
            &["/usr/local/cargo/registry/"],
            "/usr/local/cargo/registry/src/lib.rs"
        ));
    }

    #[test]
    fn roots_come_with_their_canonical_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real-home");
        std::fs::create_dir(&real).unwrap();
        #[cfg(unix)]
        {
            let link = dir.path().join("link-home");
            std::os::unix::fs::symlink(&real, &link).unwrap();
            let roots = with_real_paths(vec![link.clone()]);
            assert_eq!(roots[0], link);
            assert!(roots.contains(&real.canonicalize().unwrap()), "{roots:?}");
        }
        let roots = with_real_paths(vec![real.clone(), real.clone()]);
        assert_eq!(roots.iter().filter(|r| **r == real).count(), 1, "{roots:?}");
    }
}
