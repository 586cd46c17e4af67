//! What every test process of one run shares, beyond what `cargo test` gives it: the
//! run's id and its temporary directories (pytest-xdist's `testrun_uid` and `tmp_path`):
//! one directory per worker, given as `XPAR_TMPDIR` and `TMPDIR`, and one shared by all
//! workers (`XPAR_RUN_DIR`, where `once_per_run` keeps its markers).

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use xpar_protocol::env;

use crate::process::ProcessBuilder;
use crate::report::worker_name;

/// The run's id and directories; the directories are removed on drop unless kept.
#[derive(Debug)]
pub struct RunEnv {
    uid: String,
    dir: Option<tempfile::TempDir>,
    kept: Option<PathBuf>,
    /// `--coverage`: where the profiles go.
    profile_dir: Option<PathBuf>,
}

impl RunEnv {
    /// Creates the run's directory (under the system temp dir) with one directory per
    /// worker and a shared one.
    pub fn create(
        workers: usize,
        keep: bool,
        profile_dir: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        // Random enough to tell runs apart; the pid and the time make it unique here.
        let uid = format!(
            "{:016x}",
            std::collections::hash_map::RandomState::new()
                .hash_one((std::process::id(), std::time::SystemTime::now()))
        );
        let prefix = format!("xpar-{}-", &uid[..8]);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        // Under Bazel, the test's own temp dir.
        let dir = match std::env::var_os("TEST_TMPDIR") {
            Some(root) => builder.tempdir_in(root)?,
            None => builder.tempdir()?,
        };
        std::fs::create_dir(dir.path().join("shared"))?;
        for w in 0..workers {
            std::fs::create_dir(dir.path().join(worker_name(w)))?;
        }
        let (dir, kept) = if keep {
            (None, Some(dir.keep()))
        } else {
            (Some(dir), None)
        };
        Ok(RunEnv {
            uid,
            dir,
            kept,
            profile_dir,
        })
    }

    fn root(&self) -> &Path {
        match (&self.dir, &self.kept) {
            (Some(d), _) => d.path(),
            (None, Some(p)) => p,
            (None, None) => Path::new("."),
        }
    }

    /// Where batch processes' result log files go where a pipe cannot be passed
    /// (`test_process::LogVia::File`): the run's own, removed with it.
    pub fn log_dir(&self) -> PathBuf {
        self.root().join("logs")
    }

    /// The directory kept after the run (`--keep-tmp`).
    pub fn kept(&self) -> Option<&Path> {
        self.kept.as_deref()
    }

    /// Sets the run's variables on a test process of `worker` out of `workers`.
    pub fn apply(&self, p: &mut ProcessBuilder, worker: usize, workers: usize) {
        let tmp = self.root().join(worker_name(worker));
        p.env(env::WORKER_ID, worker_name(worker))
            .env(env::WORKER_COUNT, workers.to_string())
            .env(env::TESTRUN_UID, &self.uid)
            .env(env::TMPDIR, &tmp)
            .env("TMPDIR", &tmp)
            .env(env::RUN_DIR, self.root().join("shared"))
            // The schedule keeps marked tests apart, so the harness need not lock files.
            .env(env::SCHEDULED, "1");
        if let Some(dir) = &self.profile_dir {
            let pattern = crate::coverage::profile_pattern(dir, &worker_name(worker));
            p.env("LLVM_PROFILE_FILE", pattern);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_per_worker_and_removed_unless_kept() {
        let run = RunEnv::create(2, false, None).unwrap();
        let root = run.root().to_owned();
        assert!(root.join("gw0").is_dir() && root.join("gw1").is_dir());
        assert!(root.join("shared").is_dir());
        let mut p = ProcessBuilder::new("true");
        run.apply(&mut p, 1, 2);
        let shown = format!("{:?}", p);
        assert!(shown.contains(&run.uid) && shown.contains("gw1"), "{shown}");
        drop(run);
        assert!(!root.exists());

        let kept = RunEnv::create(1, true, None).unwrap();
        let root = kept.kept().unwrap().to_owned();
        drop(kept);
        assert!(root.join("gw0").is_dir());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn each_run_has_its_own_uid() {
        let a = RunEnv::create(1, false, None).unwrap();
        let b = RunEnv::create(1, false, None).unwrap();
        assert_ne!(a.uid, b.uid);
        assert_eq!(a.uid.len(), 16);
    }
}
