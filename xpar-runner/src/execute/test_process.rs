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

/// The fd a batch process's libtest writes its result log to on Unix (`--logfile
/// /dev/fd/3`).
#[cfg(unix)]
pub const LOG_FD: i32 = 3;

/// The `--logfile` argument a batch process gets: on Unix the result log's pipe; where
/// a pipe cannot be passed as a path (Windows, or a binary run through a target runner
/// such as wine), it stands for a file of the process's own that [`spawn`] puts in its
/// place and reads as libtest writes it.
pub const LOG_ARG: &str = "/dev/fd/3";

/// How a process's result log reaches the runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogVia {
    /// No result log (a test run alone, an opaque binary).
    None,
    /// A pipe at [`LOG_FD`] (Unix), or else a file.
    Pipe,
    /// A file, read as it grows.
    File,
}

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
pub fn spawn(p: &ProcessBuilder, log: LogVia, token: String) -> std::io::Result<TestProcess> {
    let (reader, writer) = std::io::pipe()?;
    os::widen_pipe(&reader);
    let log = match log {
        LogVia::Pipe if cfg!(not(unix)) => LogVia::File,
        other => other,
    };
    #[cfg(unix)]
    let log_pipe = if log == LogVia::Pipe {
        Some(std::io::pipe()?)
    } else {
        None
    };
    let log_file = if log == LogVia::File {
        Some(log_file::LogFile::create(&token)?)
    } else {
        None
    };
    let replaced;
    let p = match &log_file {
        Some(file) => {
            replaced = p.with_arg_replaced(LOG_ARG, file.path());
            &replaced
        }
        None => p,
    };
    let mut cmd = p.command();
    cmd.env("XPAR_PROCESS_TOKEN", &token);
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    os::own_process_group(&mut cmd);
    #[cfg(unix)]
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
    read_in_thread(reader, tx.clone(), Input::Stream, Input::StreamEnd)?;
    #[cfg(unix)]
    if let Some((r, w)) = log_pipe {
        drop(w);
        read_in_thread(r, tx.clone(), Input::Log, Input::LogEnd)?;
    }
    let exited = match log_file {
        Some(file) => Some(file.read_in_thread(tx.clone())?),
        None => None,
    };
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
                let status = child.wait();
                let usage = os::usage(&child).map(|(cpu, max_rss)| ChildUsage { cpu, max_rss });
                (status, usage)
            };
            // `child` is waited for (by pid on Unix): dropping it does nothing more.
            #[cfg(unix)]
            drop(child);
            // Whatever the test left in its process group would keep pipes open.
            os::kill_group(pid, os::SIGKILL);
            os::release(pid);
            // The process is gone: what its libtest wrote is all in the log file.
            if let Some(exited) = &exited {
                exited.store(true, std::sync::atomic::Ordering::Release);
            }
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

/// libtest's result log in a file of the process's own, read as it grows (see
/// [`LogVia::File`]).
mod log_file {
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    use super::Input;

    /// How long the reader waits for more when it reached the file's end.
    const POLL: Duration = Duration::from_millis(1);

    pub struct LogFile {
        path: PathBuf,
        file: std::fs::File,
    }

    impl LogFile {
        /// An empty file in the temp directory, named by the process's token, open for
        /// reading (libtest truncates and writes it; std shares files for both).
        pub fn create(token: &str) -> std::io::Result<LogFile> {
            let path = std::env::temp_dir().join(format!("xpar-log-{token}.txt"));
            std::fs::File::create(&path)?;
            let file = std::fs::File::open(&path)?;
            Ok(LogFile { path, file })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Reads the file as it grows until the process has exited (the flag returned,
        /// which the reaper sets) and all it wrote was read; then removes it.
        pub fn read_in_thread(
            mut self,
            tx: mpsc::Sender<(Input, Instant)>,
        ) -> std::io::Result<Arc<AtomicBool>> {
            let exited = Arc::new(AtomicBool::new(false));
            let done = Arc::clone(&exited);
            std::thread::Builder::new()
                .name("xpar-log-reader".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        // Read before looking at the flag, so that what was written
                        // before the process ended is read after the flag is seen.
                        let gone = done.load(Ordering::Acquire);
                        match self.file.read(&mut buf) {
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Ok(0) if gone => break,
                            Ok(0) => std::thread::sleep(POLL),
                            Ok(n) => {
                                let chunk = buf[..n].to_vec();
                                if tx.send((Input::Log(chunk), Instant::now())).is_err() {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    let _ = tx.send((Input::LogEnd, Instant::now()));
                    drop(self.file);
                    let _ = std::fs::remove_file(&self.path);
                })?;
            Ok(exited)
        }
    }
}
