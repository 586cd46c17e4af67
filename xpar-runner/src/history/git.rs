//! The git commit a run tested: `git rev-parse HEAD` in the workspace root, started while
//! the run plans and read before its tests start (the runner reaps orphaned children
//! while tests run, which could take this one's exit status). No git, or a workspace
//! outside a repository, is no commit, not an error.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `git rev-parse HEAD`, running.
pub struct CommitProbe(Option<Child>);

impl CommitProbe {
    /// Starts `git rev-parse HEAD` in `root`.
    pub fn start(root: &Path) -> CommitProbe {
        let child = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "--verify", "--quiet", "HEAD"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        CommitProbe(child.ok())
    }

    /// The commit, when git gave one.
    pub fn finish(mut self) -> Option<String> {
        let out = self.0.take()?.wait_with_output().ok()?;
        let commit = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        let hex = !commit.is_empty() && commit.chars().all(|c| c.is_ascii_hexdigit());
        (out.status.success() && hex).then_some(commit)
    }
}

/// A run that ends before it asks (a build that failed) leaves no process behind, nor a
/// zombie in a process that lives on (`cargo xpar mcp`).
impl Drop for CommitProbe {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
    }

    /// A repository gives no commit until it has one, then its HEAD.
    #[test]
    fn a_repository_gives_its_head_once_it_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let Ok(init) = git(dir.path(), &["init", "-q"]) else {
            eprintln!("git is not installed: nothing to check");
            return;
        };
        assert!(init.status.success(), "{init:?}");
        assert_eq!(CommitProbe::start(dir.path()).finish(), None);
        let commit = git(
            dir.path(),
            &["commit", "-q", "--allow-empty", "-m", "first"],
        )
        .unwrap();
        assert!(commit.status.success(), "{commit:?}");
        let head = git(dir.path(), &["rev-parse", "HEAD"]).unwrap();
        let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
        assert_eq!(head.len(), 40);
        assert_eq!(CommitProbe::start(dir.path()).finish(), Some(head));
    }
}
