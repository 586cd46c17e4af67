//! Runs one `#[ignore]`d test of the current test binary in a process of its own, the way
//! nextest does, so that tests can check behaviour across processes.

use std::ffi::OsStr;
use std::process::{Child, Command, Output, Stdio};

/// Starts `test` (an exact name) in a new process with `env` added (a `None` value
/// removes the variable).
pub fn spawn(test: &str, env: &[(&str, Option<&OsStr>)]) -> Child {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.spawn().expect("spawning the test binary")
}

/// Waits for `child` and returns its output, failing the test if it failed.
pub fn success(child: Child) -> Output {
    let out = child.wait_with_output().expect("waiting for the child");
    assert!(
        out.status.success(),
        "child failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no test: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}
