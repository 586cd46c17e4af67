//! What a test used of the machine: CPU time (user + system) and peak resident memory.
//!
//! - A test in a process of its own: CPU from `wait4`, exact (with the children it
//!   waited for). Peak memory: `wait4`'s `ru_maxrss` when it is above what the runner
//!   itself had when it started the process. Linux carries the parent's peak into a
//!   child it starts (a process's peak survives `exec`, and a child starts as a copy of
//!   the runner), so a figure at or below the runner's own says nothing of the test;
//!   then the highest peak read from `/proc/PID/status` (`VmHWM`, which starts afresh
//!   with the test's program) while it ran stands, read whenever the test wrote output
//!   or a result came.
//! - Tests sharing a batch process: the process's CPU clock is read whenever results
//!   arrive; what it used since the last reading goes to the tests that ended, shared
//!   by their durations, and what it used between tests (libtest's own work) to no one.
//!   `VmHWM` is read at the same moments and then reset (`/proc/PID/clear_refs`), so each
//!   test gets the peak of the span it ended in. Results arrive together when tests are
//!   shorter than the reader's coalescing (a millisecond): such tests share their
//!   span's figures.
//!
//! Only Linux has the per-process clock of another process and `/proc`; elsewhere a test
//! in a process of its own gets `wait4`'s figures (on Windows, the ended process's times
//! and peak working set) and a batch's tests get none.

use std::time::Duration;

use crate::report::Resources;

/// What `wait4` said of an ended process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildUsage {
    pub cpu: Duration,
    /// `ru_maxrss` in bytes.
    pub max_rss: u64,
}

/// The runner's own peak resident memory, in bytes: a child started now reports at
/// least this much as its peak.
pub fn own_peak_rss() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } == 0 {
            return max_rss_bytes(&ru);
        }
    }
    0
}

#[cfg(unix)]
fn max_rss_bytes(ru: &libc::rusage) -> u64 {
    let raw = u64::try_from(ru.ru_maxrss).unwrap_or(0);
    // Linux and the BSDs count kilobytes; macOS counts bytes.
    if cfg!(target_os = "macos") {
        raw
    } else {
        raw * 1024
    }
}

/// Waits for child `pid` (which nothing else may wait for): its status and usage.
#[cfg(unix)]
pub fn wait_with_usage(pid: u32) -> std::io::Result<(std::process::ExitStatus, ChildUsage)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = pid as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 fills the status and the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let usage = ChildUsage {
        cpu: time(ru.ru_utime) + time(ru.ru_stime),
        max_rss: max_rss_bytes(&ru),
    };
    Ok((std::process::ExitStatus::from_raw(status), usage))
}

/// A test process's own figures, for a test that had it to itself: `usage` from
/// `wait4`, `inherited` the runner's peak when it started the process, `sampled` the
/// highest `VmHWM` read while it ran.
pub fn own_process(usage: ChildUsage, inherited: u64, sampled: Option<u64>) -> Resources {
    let peak_rss = if usage.max_rss > inherited {
        Some(usage.max_rss.max(sampled.unwrap_or(0)))
    } else {
        sampled
    };
    Resources {
        cpu: usage.cpu,
        peak_rss,
    }
}

/// Readings of a live process: its CPU clock and its memory peak.
pub struct Meter {
    #[cfg(target_os = "linux")]
    linux: Option<linux::Live>,
    /// The CPU clock at the last reading that was handed out or set aside.
    last_cpu: Duration,
    /// The highest peak read so far (for a process with one test).
    pub highest: Option<u64>,
}

impl Meter {
    pub fn new(pid: u32) -> Meter {
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
        Meter {
            #[cfg(target_os = "linux")]
            linux: linux::Live::open(pid),
            last_cpu: Duration::ZERO,
            highest: None,
        }
    }

    /// Reads the process now: (its CPU time since the last reading, its peak since
    /// the last reading), and starts the next span. `None` once it has ended (or where
    /// this cannot be read).
    pub fn span(&mut self) -> Option<(Duration, Option<u64>)> {
        #[cfg(target_os = "linux")]
        {
            let live = self.linux.as_mut()?;
            let cpu = live.cpu()?;
            // A process that has ended (a zombie not yet waited for) still has its
            // clock but no memory: it is gone, and `wait4` will say the rest.
            let peak = Some(live.take_peak()?);
            let used = cpu.saturating_sub(self.last_cpu);
            self.last_cpu = cpu;
            if let Some(p) = peak {
                self.highest = Some(self.highest.map_or(p, |h| h.max(p)));
            }
            Some((used, peak))
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Whether the process could be read at all (on Linux, with `/proc`): a reading
    /// that fails then means it has ended.
    pub fn is_live(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.linux.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// Reads the process's peak without resetting it (for a process with one test,
    /// whose `wait4` peak a reset would cut short).
    pub fn peek(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(p) = self.linux.as_mut().and_then(|l| l.peak(false)) {
            self.highest = Some(self.highest.map_or(p, |h| h.max(p)));
        }
    }

    /// The CPU time of the process not yet handed out, from its total at the end.
    pub fn rest(&self, total: Duration) -> Duration {
        total.saturating_sub(self.last_cpu)
    }

    /// Shares `cpu` among tests that ran for `durations`, by duration (evenly when all
    /// are zero); each gets `peak`.
    pub fn share(cpu: Duration, peak: Option<u64>, durations: &[Duration]) -> Vec<Resources> {
        let total: Duration = durations.iter().sum();
        let n = durations.len().max(1) as u32;
        durations
            .iter()
            .map(|d| Resources {
                cpu: if total.is_zero() {
                    cpu / n
                } else {
                    cpu.mul_f64(d.as_secs_f64() / total.as_secs_f64())
                },
                peak_rss: peak,
            })
            .collect()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::time::Duration;

    /// The open handles of a live process: its CPU clock, its status file (kept open:
    /// reading it again costs less than opening it) and its `clear_refs`.
    pub struct Live {
        clock: libc::clockid_t,
        status: File,
        clear_refs: Option<File>,
        buf: Vec<u8>,
    }

    impl Live {
        pub fn open(pid: u32) -> Option<Live> {
            let mut clock: libc::clockid_t = 0;
            // SAFETY: clock_getcpuclockid writes the clock id it is given a place for.
            if unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) } != 0 {
                return None;
            }
            let status = File::open(format!("/proc/{pid}/status")).ok()?;
            let clear_refs = std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/{pid}/clear_refs"))
                .ok();
            Some(Live {
                clock,
                status,
                clear_refs,
                buf: Vec::with_capacity(2048),
            })
        }

        /// The process's CPU time (all its threads), or `None` once it is gone.
        pub fn cpu(&self) -> Option<Duration> {
            // SAFETY: clock_gettime writes the timespec it is given.
            let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
            if unsafe { libc::clock_gettime(self.clock, &mut ts) } != 0 {
                return None;
            }
            Some(
                Duration::from_secs(u64::try_from(ts.tv_sec).ok()?)
                    + Duration::from_nanos(u64::try_from(ts.tv_nsec).ok()?),
            )
        }

        /// Its peak resident memory since the last reset, in bytes, and a reset.
        pub fn take_peak(&mut self) -> Option<u64> {
            self.peak(true)
        }

        /// Its peak resident memory since the last reset, in bytes; with `reset`, the
        /// peak starts again from the current size.
        pub fn peak(&mut self, reset: bool) -> Option<u64> {
            self.buf.clear();
            self.status.seek(SeekFrom::Start(0)).ok()?;
            self.status.read_to_end(&mut self.buf).ok()?;
            let peak = vm_hwm(&self.buf)?;
            if let (true, Some(f)) = (reset, &mut self.clear_refs) {
                // 5: reset the peak to the current resident size (Linux 4.0).
                let _ = f.write_all(b"5");
            }
            Some(peak)
        }
    }

    /// `VmHWM:     1234 kB` of a status file, in bytes.
    pub fn vm_hwm(status: &[u8]) -> Option<u64> {
        let text = std::str::from_utf8(status).ok()?;
        let line = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
        let kb: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_shared_by_duration_and_evenly_without_durations() {
        let ms = Duration::from_millis;
        let shares = Meter::share(ms(30), Some(7), &[ms(10), ms(20)]);
        assert_eq!(shares[0].cpu, ms(10));
        assert_eq!(shares[1].cpu, ms(20));
        assert!(shares.iter().all(|r| r.peak_rss == Some(7)));
        let even = Meter::share(ms(30), None, &[Duration::ZERO; 3]);
        assert!(even.iter().all(|r| r.cpu == ms(10)));
    }

    #[test]
    fn an_inherited_peak_is_not_the_tests() {
        let usage = ChildUsage {
            cpu: Duration::from_millis(5),
            max_rss: 100 << 20,
        };
        let inherited = own_process(usage, 100 << 20, Some(3 << 20));
        assert_eq!(inherited.peak_rss, Some(3 << 20), "the sampled peak stands");
        let own = own_process(usage, 50 << 20, Some(3 << 20));
        assert_eq!(
            own.peak_rss,
            Some(100 << 20),
            "above the runner's: the test's own"
        );
        assert_eq!(own.cpu, Duration::from_millis(5));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_process_is_read_and_its_peak_reset() {
        assert_eq!(
            linux::vm_hwm(b"Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t 1 kB\n"),
            Some(2 << 20)
        );
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let mut meter = Meter::new(child.id());
        let (_, peak) = meter.span().expect("a live child is read");
        assert!(peak.is_some_and(|p| p > 0), "{peak:?}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(meter.span().is_none(), "a reaped child is gone");
    }
}
