//! A command line that can be shown to the user exactly as it runs (cargo-llvm-cov's
//! `ProcessBuilder` idea): every failed subprocess is reported with its command, its exit
//! status and the tail of its output.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub use xpar_metadata::exit_code_text;

/// A program, its arguments, extra environment and working directory.
#[derive(Clone, Debug)]
pub struct ProcessBuilder {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    cwd: Option<PathBuf>,
}

impl ProcessBuilder {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            cwd: None,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env_remove.push(key.as_ref().to_owned());
        self
    }

    pub fn cwd(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// A copy whose first argument equal to `from` is `to`.
    pub fn with_first_arg_replaced(&self, from: &str, to: impl AsRef<OsStr>) -> Self {
        let mut copy = self.clone();
        if let Some(arg) = copy.args.iter_mut().find(|a| *a == from) {
            *arg = to.as_ref().to_owned();
        }
        copy
    }

    /// A `std::process::Command` with everything set; stdio is left to the caller.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }
}

impl fmt::Display for ProcessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}", self.program.to_string_lossy())?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " '{arg}'")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        write!(f, "`")
    }
}

/// How a process ended, in words: `exit status 3`, `signal 11 (SIGSEGV)`.
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {}", exit_code_text(code));
    }
    match os::signal(status) {
        Some(sig) => format!("signal {sig} ({})", os::signal_name(sig)),
        None => "an unknown status".to_owned(),
    }
}

/// The last `max_lines` lines of `text`, for error messages.
pub fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    lines[start..].join("\n")
}

#[cfg(unix)]
pub mod os {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    pub fn signal(status: ExitStatus) -> Option<i32> {
        status.signal()
    }

    pub const SIGKILL: i32 = libc::SIGKILL;

    /// Lets the pipe `fd` hold up to a mebibyte (Linux; elsewhere, and where the system's
    /// limit is lower, it stays as it is). The reader of a test's output pauses for a
    /// millisecond after a short read, to take the writes of thousands of tiny tests a
    /// few at a time; with a 64 KiB pipe, a test printing hundreds of megabytes would
    /// then be held to 64 KiB a millisecond.
    pub fn widen_pipe(fd: &impl std::os::fd::AsRawFd) {
        #[cfg(target_os = "linux")]
        // SAFETY: F_SETPIPE_SZ only resizes the pipe's buffer; failing, it changes nothing.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = fd;
    }

    /// Puts the process `cmd` starts in a process group of its own, so that it and every
    /// child it starts can be signalled together, and a Ctrl-C at the terminal reaches
    /// only the runner, which decides what the tests get.
    pub fn own_process_group(cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // On Linux the kernel kills the test process if the runner dies without cleaning
        // up (SIGKILL, a crash): a process group of its own no longer gets the terminal's
        // signals, so nothing else would.
        #[cfg(target_os = "linux")]
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// The process group holds a test's processes here: nothing to do once started
    /// (see the Windows `adopt`, which puts them in a job).
    pub fn adopt(_child: &std::process::Child) -> std::io::Result<()> {
        Ok(())
    }

    /// Nothing is kept per process here (see the Windows `release`).
    pub fn release(_pid: u32) {}

    /// Sends `signal` to the process group `pgid`; one that is gone is not an error.
    pub fn kill_group(pgid: u32, signal: i32) {
        if let Ok(pgid) = libc::pid_t::try_from(pgid) {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe { libc::killpg(pgid, signal) };
        }
    }

    /// Gives the process `cmd` starts `fd` as its file descriptor `target` (and only it:
    /// the runner's own descriptor stays close-on-exec, so other test processes started
    /// meanwhile do not inherit it).
    pub fn pass_fd(
        cmd: &mut std::process::Command,
        fd: &impl std::os::fd::AsRawFd,
        target: i32,
    ) -> std::io::Result<()> {
        use std::os::unix::process::CommandExt;
        let raw = fd.as_raw_fd();
        // SAFETY: dup2 and fcntl are async-signal-safe and touch no memory of the parent.
        unsafe {
            cmd.pre_exec(move || {
                let ok = if raw == target {
                    libc::fcntl(raw, libc::F_SETFD, 0) != -1
                } else {
                    libc::dup2(raw, target) != -1
                };
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Ok(())
    }

    /// Makes orphaned descendants of this process its children (Linux), so that what a
    /// test leaves running, daemons in their own session included, can be found and
    /// ended. False where that is not available.
    pub fn become_subreaper() -> bool {
        #[cfg(target_os = "linux")]
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer and no pointers.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) == 0
        }
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// This process's children (every thread's), from `/proc` (Linux).
    fn children() -> Vec<u32> {
        let mut out = Vec::new();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return out;
        };
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
        out
    }

    /// The value of `XPAR_PROCESS_TOKEN` in `pid`'s environment.
    fn token_of(pid: u32) -> Option<String> {
        let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        env.split(|&b| b == 0).find_map(|kv| {
            kv.strip_prefix(b"XPAR_PROCESS_TOKEN=")
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    }

    fn command_line(pid: u32) -> String {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                let parts: Vec<String> = b
                    .split(|&c| c == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                parts.join(" ")
            })
            .unwrap_or_default()
    }

    /// Ends (SIGKILL) and reaps every child of the runner whose `XPAR_PROCESS_TOKEN`
    /// `matches`: what test processes left running, found because orphans come to the
    /// runner (see [`become_subreaper`]). Returns their ids and command lines.
    pub fn end_leftovers(matches: &dyn Fn(&str) -> bool) -> Vec<(u32, String)> {
        let mut ended = Vec::new();
        // Ending one may orphan its own children, which come to the runner in turn.
        for _ in 0..32 {
            let mut found = false;
            for pid in children() {
                let Some(token) = token_of(pid) else { continue };
                if !matches(&token) {
                    continue;
                }
                let command = command_line(pid);
                let Ok(raw) = libc::pid_t::try_from(pid) else {
                    continue;
                };
                // SAFETY: kill and waitpid on a child of this process, which nothing
                // else tracks (tracked test processes are reaped before this runs).
                unsafe {
                    libc::kill(raw, libc::SIGKILL);
                    libc::waitpid(raw, std::ptr::null_mut(), 0);
                }
                ended.push((pid, command));
                found = true;
            }
            if !found {
                break;
            }
        }
        ended
    }

    /// Reaps children that already exited and that nothing tracks (orphans that ended
    /// on their own). Only safe once no tracked child is left.
    pub fn reap_exited_orphans() {
        for pid in children() {
            let Ok(raw) = libc::pid_t::try_from(pid) else {
                continue;
            };
            // SAFETY: waitpid with WNOHANG on a child; nothing else waits for it.
            unsafe { libc::waitpid(raw, std::ptr::null_mut(), libc::WNOHANG) };
        }
    }

    /// The logical CPUs online, whatever this process's affinity (std only offers the
    /// affinity- and quota-limited count).
    pub fn logical_cpus() -> Option<usize> {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        usize::try_from(n).ok().filter(|&n| n > 0)
    }

    /// The conventional name of a signal; std has no table, and pulling in `libc` or `nix`
    /// for a dozen numbers that are the same on every Unix is not worth a dependency.
    pub fn signal_name(sig: i32) -> &'static str {
        match sig {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            5 => "SIGTRAP",
            6 => "SIGABRT",
            #[cfg(target_os = "linux")]
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            14 => "SIGALRM",
            15 => "SIGTERM",
            _ => "unknown signal",
        }
    }
}

#[cfg(windows)]
#[path = "process/windows.rs"]
pub mod os;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_arguments_with_spaces() {
        let mut p = ProcessBuilder::new("cargo");
        p.args(["test", "--no-run", "a b", ""]);
        assert_eq!(p.to_string(), "`cargo test --no-run 'a b' ''`");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
