//! Finds `llvm-profdata` and `llvm-cov` that match rustc's LLVM: the rustup `llvm-tools`
//! component first, then versioned tools on PATH (`llvm-cov-22`) of the same major
//! version, then unversioned ones that report it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::errors::CoverageError;

/// The two tools a coverage report needs.
#[derive(Clone, Debug)]
pub struct LlvmTools {
    pub profdata: PathBuf,
    pub cov: PathBuf,
}

/// What rustc says about itself: its sysroot, host and LLVM major version.
struct Rustc {
    sysroot: PathBuf,
    host: String,
    llvm_major: Option<u32>,
}

fn rustc_facts() -> Option<Rustc> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
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
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(Rustc {
        sysroot,
        host,
        llvm_major,
    })
}

/// The tools, or one error that says how to get them.
pub fn find() -> Result<LlvmTools, CoverageError> {
    let rustc = rustc_facts();
    if let Some(r) = &rustc {
        let bin = r.sysroot.join("lib/rustlib").join(&r.host).join("bin");
        let tools = LlvmTools {
            profdata: bin.join(exe("llvm-profdata")),
            cov: bin.join(exe("llvm-cov")),
        };
        if tools.profdata.is_file() && tools.cov.is_file() {
            return Ok(tools);
        }
    }
    let major = rustc.as_ref().and_then(|r| r.llvm_major);
    if let Some(m) = major {
        let versioned = |name: &str| on_path(&format!("{name}-{m}"));
        if let (Some(profdata), Some(cov)) = (versioned("llvm-profdata"), versioned("llvm-cov")) {
            return Ok(LlvmTools { profdata, cov });
        }
        let plain = |name: &str| on_path(name).filter(|p| reports_major(p, m));
        if let (Some(profdata), Some(cov)) = (plain("llvm-profdata"), plain("llvm-cov")) {
            return Ok(LlvmTools { profdata, cov });
        }
    }
    Err(CoverageError::ToolsMissing {
        llvm: major.map_or_else(|| "rustc's".to_owned(), |m| m.to_string()),
    })
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
    fn tools_found_match_rustcs_llvm() {
        // The CI installs the rustup component; the tools it finds must run.
        let tools = find().expect("llvm-tools: rustup component add llvm-tools-preview");
        for t in [&tools.profdata, &tools.cov] {
            let out = Command::new(t).arg("--version").output().unwrap();
            assert!(out.status.success(), "{}", t.display());
        }
        let major = rustc_facts().unwrap().llvm_major.unwrap();
        assert!(reports_major(&tools.cov, major));
    }
}
