//! The environment `cargo test` gives a test process, rebuilt for each binary: package
//! facts (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`), `CARGO_BIN_EXE_*` as nextest sets it, and the
//! dynamic library search path.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;

/// The variable the platform's loader searches for shared libraries.
pub(crate) const DYLIB_PATH_VAR: &str = if cfg!(windows) {
    "PATH"
} else if cfg!(target_os = "macos") {
    "DYLD_FALLBACK_LIBRARY_PATH"
} else {
    "LD_LIBRARY_PATH"
};

pub fn test_env(
    package: Option<&Package>,
    manifest_path: &Utf8Path,
    target_name: &str,
    binary: &Path,
    bin_exes: &[(String, PathBuf)],
    lib_dirs: &[PathBuf],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| env.push((k.to_owned(), v));
    let manifest_dir = manifest_path.parent().unwrap_or(manifest_path);
    set("CARGO_MANIFEST_DIR", manifest_dir.to_string());
    set("CARGO_MANIFEST_PATH", manifest_path.to_string());
    set("CARGO_CRATE_NAME", target_name.replace('-', "_"));
    if let Some(cargo) = std::env::var_os("CARGO") {
        set("CARGO", cargo.to_string_lossy().into_owned());
    }
    if let Some(p) = package {
        let v = &p.version;
        set("CARGO_PKG_NAME", p.name.to_string());
        set("CARGO_PKG_VERSION", v.to_string());
        set("CARGO_PKG_VERSION_MAJOR", v.major.to_string());
        set("CARGO_PKG_VERSION_MINOR", v.minor.to_string());
        set("CARGO_PKG_VERSION_PATCH", v.patch.to_string());
        set("CARGO_PKG_VERSION_PRE", v.pre.to_string());
        set("CARGO_PKG_AUTHORS", p.authors.join(":"));
        set(
            "CARGO_PKG_DESCRIPTION",
            p.description.clone().unwrap_or_default(),
        );
        set("CARGO_PKG_HOMEPAGE", p.homepage.clone().unwrap_or_default());
        set(
            "CARGO_PKG_REPOSITORY",
            p.repository.clone().unwrap_or_default(),
        );
        set("CARGO_PKG_LICENSE", p.license.clone().unwrap_or_default());
        let opt_path = |p: &Option<cargo_metadata::camino::Utf8PathBuf>| {
            p.as_ref().map(|p| p.to_string()).unwrap_or_default()
        };
        set("CARGO_PKG_LICENSE_FILE", opt_path(&p.license_file));
        set("CARGO_PKG_README", opt_path(&p.readme));
        set(
            "CARGO_PKG_RUST_VERSION",
            p.rust_version
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
    }
    for (name, exe) in bin_exes {
        set(
            &format!("CARGO_BIN_EXE_{name}"),
            exe.to_string_lossy().into_owned(),
        );
    }

    // Where cargo points the loader: the deps dir (dylib dependencies), the profile dir,
    // the build scripts' link-search dirs in the target dir and the toolchain's libraries
    // (for `-C prefer-dynamic` builds), then the user's own.
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(deps) = binary.parent() {
        dirs.push(deps.to_owned());
        if let Some(profile) = deps.parent() {
            dirs.push(profile.to_owned());
        }
    }
    dirs.extend(lib_dirs.iter().cloned());
    if let Some(existing) = std::env::var_os(DYLIB_PATH_VAR) {
        dirs.extend(std::env::split_paths(&existing));
    }
    if let Ok(joined) = std::env::join_paths(dirs) {
        set(DYLIB_PATH_VAR, lossy(joined));
    }
    env
}

fn lossy(s: OsString) -> String {
    s.to_string_lossy().into_owned()
}

/// The toolchain's library directories: `lib` under the sysroot, and the target's
/// libdir, where the `libstd-*.so` that proc-macro crates' test binaries link against
/// lives (`rustc --print sysroot --print target-libdir`; empty if rustc cannot be asked).
pub fn sysroot_libs() -> Vec<PathBuf> {
    let out = std::process::Command::new(rustc_program())
        .args(["--print", "sysroot", "--print", "target-libdir"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut lines = text.lines().map(|l| PathBuf::from(l.trim()));
            let mut dirs = Vec::new();
            if let Some(root) = lines.next() {
                dirs.push(root.join("lib"));
            }
            dirs.extend(lines);
            dirs
        }
        _ => Vec::new(),
    }
}

/// The rustc cargo builds with: `RUSTC` when set, else the `rustc` beside the cargo that
/// started us (`CARGO`, which cargo sets for its subcommands: a toolchain's own, where
/// a `rustc` on `PATH` is often rustup's proxy, which costs a process start to pick the
/// same toolchain), else `rustc` on `PATH`.
pub fn rustc_program() -> std::ffi::OsString {
    if let Some(rustc) = std::env::var_os("RUSTC").filter(|r| !r.is_empty()) {
        return rustc;
    }
    let beside_cargo = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|cargo| {
            Some(
                cargo
                    .parent()?
                    .join(format!("rustc{}", std::env::consts::EXE_SUFFIX)),
            )
        })
        .filter(|rustc| rustc.is_file());
    match beside_cargo {
        Some(rustc) => rustc.into_os_string(),
        None => "rustc".into(),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A proc-macro crate's test binary links `libstd-*.so` dynamically; without its
    /// directory on the loader path it cannot even start.
    #[test]
    fn the_toolchain_libstd_is_on_the_library_path() {
        let has_libstd = |d: &PathBuf| {
            std::fs::read_dir(d).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.starts_with("libstd-") && name.ends_with(".so")
                })
            })
        };
        let dirs = sysroot_libs();
        assert!(dirs.iter().any(has_libstd), "no libstd-*.so in {dirs:?}");
    }
}
