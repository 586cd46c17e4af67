//! One test process: spawned in a process group of its own with stdout and stderr on one
//! pipe (and, for a batch, libtest's result log on a second pipe at fd 3), read by
//! threads that hand every chunk to the worker with the time it arrived, and reaped by a
//! thread of its own. The worker decides how long to wait for what.

use std::io::Read;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::resources::{self, ChildUsage};
use crate::process::{os, ProcessBuilder};

/// The fd a batch process's libtest writes its result log to (`--logfile /dev/fd/3`).
pub const LOG_FD: i32 = 3;

/// How long the stream may stay open after the process exited: a child the test left
/// behind holds it (nextest waits as long before it reports a leak).
pub const LEAK_TIMEOUT: Duration = Duration::from_millis(200);

/// How long a reader lets a busy pipe gather bytes before it reads again.
const COALESCE: Duration = Duration::from_millis(1);

/// What arrives from a test process.
#[derive(Debug)]
pub enum Input {
    Stream(Vec<u8>),
    StreamEnd,
    Log(Vec<u8>),
    LogEnd,
    /// How it ended, and what `wait4` said it used (where there is `wait4`).
    Exited(std::io::Result<ExitStatus>, Option<ChildUsage>),
}

/// A running test process.
pub struct TestProcess {
    pub pid: u32,
    pub inputs: mpsc::Receiver<(Input, Instant)>,
    /// The value of `XPAR_PROCESS_TOKEN` it and everything it starts inherit.
    pub token: String,
    /// The runner's peak resident memory when it started the process, which the
    /// process's own peak starts from (see [`resources`](super::resources)).
    pub inherited_rss: u64,
}

/// The prefix of every `XPAR_PROCESS_TOKEN` of this run: the runner's process id.
pub fn run_token() -> u32 {
    std::process::id()
}

/// Starts `p` with its output (and, with `log`, the result log) read by threads.
pub fn spawn(p: &ProcessBuilder, log: bool, token: String) -> std::io::Result<TestProcess> {
    let (reader, writer) = std::io::pipe()?;
    os::widen_pipe(&reader);
    let log_pipe = if log { Some(std::io::pipe()?) } else { None };
    let mut cmd = p.command();
    cmd.env("XPAR_PROCESS_TOKEN", &token);
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    os::own_process_group(&mut cmd);
    if let Some((_, w)) = &log_pipe {
        os::pass_fd(&mut cmd, w, LOG_FD)?;
    }
    let inherited_rss = resources::own_peak_rss();
    let child = cmd.spawn()?;
    // Windows: a job of its own, which `kill_group` ends (without one, the process alone).
    let _ = os::adopt(&child);
    // `cmd` holds the write ends; dropping them lets the readers see the end when the
    // child (and whatever inherited them) is gone.
    drop(cmd);
    let (tx, rx) = mpsc::channel();
    let log_reader = log_pipe.map(|(r, w)| {
        drop(w);
        r
    });
    read_in_thread(reader, tx.clone(), Input::Stream, Input::StreamEnd)?;
    if let Some(r) = log_reader {
        read_in_thread(r, tx.clone(), Input::Log, Input::LogEnd)?;
    }
    let pid = child.id();
    std::thread::Builder::new()
        .name("xpar-reaper".into())
        .spawn(move || {
            #[cfg(unix)]
            let (status, usage) = match resources::wait_with_usage(pid) {
                Ok((status, usage)) => (Ok(status), Some(usage)),
                Err(e) => (Err(e), None),
            };
            #[cfg(not(unix))]
            let (status, usage) = {
                let mut child = child;
                (child.wait(), None)
            };
            // `child` is waited for (by pid on Unix): dropping it does nothing more.
            #[cfg(unix)]
            drop(child);
            // Whatever the test left in its process group would keep pipes open.
            os::kill_group(pid, os::SIGKILL);
            os::release(pid);
            let _ = tx.send((Input::Exited(status, usage), Instant::now()));
        })?;
    Ok(TestProcess {
        pid,
        inputs: rx,
        token,
        inherited_rss,
    })
}

fn read_in_thread(
    mut r: std::io::PipeReader,
    tx: mpsc::Sender<(Input, Instant)>,
    data: fn(Vec<u8>) -> Input,
    end: Input,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("xpar-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let mut last = Instant::now() - COALESCE;
            loop {
                match r.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let now = Instant::now();
                        if tx.send((data(buf[..n].to_vec()), now)).is_err() {
                            return;
                        }
                        // Thousands of tiny tests a second write a few bytes each: one
                        // wake-up of this thread and the worker per write would cost
                        // more than the tests. At such a rate, let the pipe gather a
                        // little; a test that takes longer is timed to the read.
                        if n < buf.len() && now.duration_since(last) < COALESCE {
                            std::thread::sleep(COALESCE);
                        }
                        last = now;
                    }
                }
            }
            let _ = tx.send((end, Instant::now()));
        })?;
    Ok(())
}
