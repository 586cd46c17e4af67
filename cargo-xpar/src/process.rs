//! A command line that can be shown to the user exactly as it runs (cargo-llvm-cov's
//! `ProcessBuilder` idea): every failed subprocess is reported with its command, its exit
//! status and the tail of its output.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

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
        return format!("exit status {code}");
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

    /// Sends `signal` to the process group `pgid`; one that is gone is not an error.
    pub fn kill_group(pgid: u32, signal: i32) {
        if let Ok(pgid) = libc::pid_t::try_from(pgid) {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe { libc::killpg(pgid, signal) };
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

#[cfg(not(unix))]
pub mod os {
    use std::process::ExitStatus;

    pub fn signal(_status: ExitStatus) -> Option<i32> {
        None
    }

    pub fn logical_cpus() -> Option<usize> {
        None
    }

    pub const SIGKILL: i32 = 9;

    pub fn own_process_group(_cmd: &mut std::process::Command) {}

    /// Without process groups a test's children cannot be reached: not supported here.
    pub fn kill_group(_pgid: u32, _signal: i32) {}

    pub fn signal_name(_sig: i32) -> &'static str {
        "unknown signal"
    }
}

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
