//! Finds `llvm-profdata` and `llvm-cov` that match rustc's LLVM: the rustup `llvm-tools`
//! component first, then versioned tools on PATH (`llvm-cov-22`) of the same major
//! version, then unversioned ones that report it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::errors::CoverageError;

/// The two tools a coverage report needs, and the sysroot of the rustc they match (whose
/// sources are not the workspace's).
#[derive(Clone, Debug)]
pub struct LlvmTools {
    pub profdata: PathBuf,
    pub cov: PathBuf,
    pub sysroot: PathBuf,
}

/// What rustc says about itself: its sysroot, host and LLVM major version.
struct Rustc {
    sysroot: PathBuf,
    host: String,
    llvm_major: Option<u32>,
}

fn rustc_facts() -> Option<Rustc> {
    let rustc = crate::discover::rustc_program();
    let out = Command::new(&rustc).args(["-vV"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let host = field("host:")?;
    let llvm_major = field("LLVM version:").and_then(|v| v.split('.').next()?.parse().ok());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    // An empty sysroot would make every absolute path "the toolchain's".
    let sysroot = Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)?;
    Some(Rustc {
        sysroot,
        host,
        llvm_major,
    })
}

/// The tools, or one error that says how to get them.
pub fn find() -> Result<LlvmTools, CoverageError> {
    let unknown_llvm = || CoverageError::ToolsMissingUnknownLlvm {
        rustc: crate::discover::rustc_program()
            .to_string_lossy()
            .into_owned(),
    };
    let rustc = rustc_facts().ok_or_else(unknown_llvm)?;
    let tools = |profdata, cov| LlvmTools {
        profdata,
        cov,
        sysroot: rustc.sysroot.clone(),
    };
    let bin = rustc
        .sysroot
        .join("lib/rustlib")
        .join(&rustc.host)
        .join("bin");
    let (profdata, cov) = (bin.join(exe("llvm-profdata")), bin.join(exe("llvm-cov")));
    if profdata.is_file() && cov.is_file() {
        return Ok(tools(profdata, cov));
    }
    if let Some(m) = rustc.llvm_major {
        let versioned = |name: &str| on_path(&format!("{name}-{m}"));
        if let (Some(profdata), Some(cov)) = (versioned("llvm-profdata"), versioned("llvm-cov")) {
            return Ok(tools(profdata, cov));
        }
        let plain = |name: &str| on_path(name).filter(|p| reports_major(p, m));
        if let (Some(profdata), Some(cov)) = (plain("llvm-profdata"), plain("llvm-cov")) {
            return Ok(tools(profdata, cov));
        }
    }
    Err(rustc
        .llvm_major
        .map_or_else(unknown_llvm, |llvm| CoverageError::ToolsMissing { llvm }))
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(exe(name)))
        .find(|p| p.is_file())
}

/// Whether `tool --version` names LLVM version `major`.
fn reports_major(tool: &Path, major: u32) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.contains(&format!("LLVM version {major}.")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_found_match_rustcs_llvm_or_the_error_says_how_to_get_them() {
        match find() {
            Ok(tools) => {
                for t in [&tools.profdata, &tools.cov] {
                    let out = Command::new(t).arg("--version").output().unwrap();
                    assert!(out.status.success(), "{}", t.display());
                }
                let major = rustc_facts().unwrap().llvm_major.unwrap();
                assert!(reports_major(&tools.cov, major));
            }
            // A toolchain with only what rustup installs by default: these unit tests
            // need nothing more (.ci/setup installs the component for the coverage
            // integration tests, which do).
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("rustup component add llvm-tools-preview"), "{e}");
            }
        }
    }
}
