//! One test process: spawned in a process group of its own with stdout and stderr on one
//! pipe (and, for a batch, libtest's result log on a second pipe at fd 3), read by
//! threads that hand every chunk to the worker with the time it arrived, and reaped by a
//! thread of its own. The worker decides how long to wait for what.

use std::io::Read;
use std::path::PathBuf;
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogVia {
    /// No result log (a test run alone, an opaque binary).
    None,
    /// A pipe at `LOG_FD` (Unix only).
    Pipe,
    /// A file in this directory (the run's own), read as it grows.
    File(PathBuf),
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
    #[cfg(unix)]
    let log_pipe = if log == LogVia::Pipe {
        Some(std::io::pipe()?)
    } else {
        None
    };
    let log_file = match &log {
        LogVia::File(dir) => Some(log_file::LogFile::create(dir, &token)?),
        _ => None,
    };
    let replaced;
    let p = match &log_file {
        Some(file) => {
            // The first: the runner's own `--logfile` value comes before the user's
            // arguments (`-- ARGS`), which may say anything.
            replaced = p.with_first_arg_replaced(LOG_ARG, file.path());
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
    let log_reader = match log_file {
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
            let mut child = child;
            #[cfg(not(unix))]
            let (status, usage) = (
                child.wait(),
                os::usage(&child).map(|(cpu, max_rss)| ChildUsage { cpu, max_rss }),
            );
            // Whatever the test left in its process group would keep pipes open.
            os::kill_group(pid, os::SIGKILL);
            os::release(pid);
            // Only now: on Windows the open handle keeps the pid from being reused (by
            // another worker's process, whose job `release` would otherwise end). On
            // Unix the child was waited for by pid: dropping it does nothing more.
            drop(child);
            // The process is gone: what its libtest wrote is all in the log file, and is
            // read to its end (every result, then `LogEnd`) before `Exited` is sent.
            if let Some(reader) = log_reader {
                reader.finish();
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

    /// How long the reader waits for more when it reached the file's end: a millisecond
    /// at first, backing off to this while nothing comes.
    const MAX_POLL: Duration = Duration::from_millis(10);

    /// How long the reaper waits for the reader to read to the end once the process is
    /// gone (the file is complete then: a single read's work).
    const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

    /// The file, removed when this is dropped (by the reader when it is done, or at
    /// once if the process could not be started).
    pub struct LogFile {
        path: PathBuf,
        file: std::fs::File,
    }

    impl LogFile {
        /// A new empty file in `dir` (the run's own directory), named by the process's
        /// token, open for reading; libtest truncates and writes it, std sharing files
        /// for both.
        pub fn create(dir: &Path, token: &str) -> std::io::Result<LogFile> {
            std::fs::create_dir_all(dir)?;
            let path = dir.join(format!("log-{token}.txt"));
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            let file = std::fs::File::open(&path)?;
            Ok(LogFile { path, file })
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// Reads the file as it grows, in a thread, until [`Reader::finish`] says the
        /// process is gone and all it wrote was read.
        pub fn read_in_thread(
            mut self,
            tx: mpsc::Sender<(Input, Instant)>,
        ) -> std::io::Result<Reader> {
            let exited = Arc::new(AtomicBool::new(false));
            let done = Arc::clone(&exited);
            let (drained_tx, drained) = mpsc::channel();
            std::thread::Builder::new()
                .name("xpar-log-reader".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut poll = Duration::from_millis(1);
                    loop {
                        // The flag is looked at before the read: once it is seen, a
                        // read that finds nothing means nothing more will come.
                        let gone = done.load(Ordering::Acquire);
                        match self.file.read(&mut buf) {
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Ok(0) if gone => break,
                            Ok(0) => {
                                std::thread::sleep(poll);
                                poll = (poll * 2).min(MAX_POLL);
                            }
                            Ok(n) => {
                                poll = Duration::from_millis(1);
                                let chunk = buf[..n].to_vec();
                                if tx.send((Input::Log(chunk), Instant::now())).is_err() {
                                    break;
                                }
                            }
                            Err(_) => break,
                        }
                    }
                    let _ = tx.send((Input::LogEnd, Instant::now()));
                    drop(self);
                    let _ = drained_tx.send(());
                })?;
            Ok(Reader { exited, drained })
        }
    }

    impl Drop for LogFile {
        /// Removes the file, still open here: Unix unlinks it, and Windows deletes it
        /// once closed (std opens files shared for deletion).
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// The reader of a log file, told by the reaper when the process is gone.
    pub struct Reader {
        exited: Arc<AtomicBool>,
        drained: mpsc::Receiver<()>,
    }

    impl Reader {
        /// The process is gone: waits until the reader read the file to its end.
        pub fn finish(self) {
            self.exited.store(true, Ordering::Release);
            let _ = self.drained.recv_timeout(DRAIN_TIMEOUT);
        }
    }
}
