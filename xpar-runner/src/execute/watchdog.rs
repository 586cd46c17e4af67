//! The watchdog: what each worker's test process is doing and for how long, and what to
//! do about it: a SLOW line after `--slow-timeout`, SIGTERM to the test's process group
//! after `--timeout`, SIGKILL after the grace period. It also remembers why the
//! dispatcher killed a process (a timeout, `--maxfail N:immediate`, a signal), so the
//! death of the test it was running is reported for what it was, not as a crash.
//! Pure: the dispatcher passes the time in and carries the actions out.

use std::time::{Duration, Instant};

use crate::ids::TestId;

/// The timers of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeouts {
    pub slow: Option<Duration>,
    pub test: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Why the dispatcher ended a test process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillReason {
    /// `--timeout`: the running test took this long.
    Timeout(Duration),
    /// `--run-timeout`: the whole run took too long.
    RunTimeout,
    /// `--maxfail N:immediate`.
    MaxFail,
    /// The runner got this signal (SIGINT, SIGTERM, SIGHUP).
    Signal(i32),
    /// A caller cancelled the run (`CancelReason::Requested`).
    Cancelled,
}

/// Something the dispatcher must do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Print that a test is still running.
    Slow {
        worker: usize,
        test: TestId,
        elapsed: Duration,
    },
    /// Send `signal` to the process group `pid`.
    Signal { pid: u32, signal: i32 },
}

#[derive(Clone, Debug)]
struct Current {
    test: TestId,
    started: Instant,
    /// The test's own time limit, instead of `--timeout`.
    limit: Option<Duration>,
    slow_reported: u32,
}

#[derive(Clone, Debug)]
struct Killing {
    reason: KillReason,
    /// The test that was running when the kill began.
    test: Option<String>,
    /// When SIGKILL follows, if the process is still there.
    kill_at: Option<Instant>,
}

#[derive(Clone, Debug, Default)]
struct WorkerState {
    pid: Option<u32>,
    current: Option<Current>,
    killing: Option<Killing>,
}

#[derive(Debug)]
pub struct Watchdog {
    timeouts: Timeouts,
    workers: Vec<WorkerState>,
}

/// The signals the watchdog sends (numbers, so the module stays portable).
pub const SIGTERM: i32 = 15;
pub const SIGKILL: i32 = 9;

impl Watchdog {
    pub fn new(workers: usize, timeouts: Timeouts) -> Self {
        Watchdog {
            timeouts,
            workers: vec![WorkerState::default(); workers],
        }
    }

    /// Whether anything here needs the clock (the dispatcher may then sleep less).
    pub fn needs_ticks(&self) -> bool {
        self.timeouts.slow.is_some()
            || self.timeouts.test.is_some()
            || self
                .workers
                .iter()
                .any(|w| w.current.as_ref().is_some_and(|c| c.limit.is_some()))
            || self.workers.iter().any(|w| w.killing.is_some())
    }

    /// A worker started a test process.
    pub fn spawned(&mut self, worker: usize, pid: u32) {
        let w = &mut self.workers[worker];
        w.pid = Some(pid);
        w.current = None;
        // A process started after a kill began (the rest of a batch) is not killed.
        if w.killing.as_ref().is_some_and(|k| k.kill_at.is_none()) {
            w.killing = None;
        }
    }

    /// A worker's process started a test.
    #[cfg(test)]
    pub fn started(&mut self, worker: usize, test: &TestId, now: Instant) {
        self.started_with_limit(worker, test, now, None);
    }

    /// A worker's process started a test that has a time limit of its own (`limit`),
    /// which replaces `--timeout` for it.
    pub fn started_with_limit(
        &mut self,
        worker: usize,
        test: &TestId,
        now: Instant,
        limit: Option<Duration>,
    ) {
        self.workers[worker].current = Some(Current {
            test: test.clone(),
            started: now,
            limit,
            slow_reported: 0,
        });
    }

    /// A test ended (`crashed`: with its process). Returns why the dispatcher killed its
    /// process, when it did. A kill that began before the dispatcher heard which test
    /// started is the cause of the first crash that follows.
    pub fn finished(&mut self, worker: usize, name: &str, crashed: bool) -> Option<KillReason> {
        let w = &mut self.workers[worker];
        if w.current.as_ref().is_some_and(|c| c.test.name == name) {
            w.current = None;
        }
        // The test the kill was meant for ended by itself (its verdict came first): the
        // kill lands on the test the process went on to, whose crash it then explains.
        if let Some(k) = w.killing.as_mut() {
            if !crashed && k.test.as_deref() == Some(name) {
                k.test = None;
                return None;
            }
        }
        let killed = w
            .killing
            .as_ref()
            .filter(|k| match &k.test {
                Some(test) => test == name,
                None => crashed,
            })
            .map(|k| k.reason.clone());
        if killed.is_some() {
            w.killing = None;
            w.pid = None;
        }
        killed
    }

    /// Whether the dispatcher is ending `worker`'s process.
    pub fn is_killing(&self, worker: usize) -> bool {
        self.workers[worker].killing.is_some()
    }

    /// The worker asks for work: its process is gone.
    pub fn idle(&mut self, worker: usize) {
        self.workers[worker] = WorkerState::default();
    }

    /// Ends every running process, for `reason`: `signal` first, SIGKILL after the grace
    /// period (at once when `signal` is SIGKILL).
    pub fn kill_all(&mut self, reason: KillReason, signal: i32, now: Instant) -> Vec<Action> {
        (0..self.workers.len())
            .filter_map(|w| self.kill(w, reason.clone(), signal, now))
            .collect()
    }

    /// Ends `worker`'s process, as [`Watchdog::kill_all`] does.
    pub fn kill(
        &mut self,
        worker: usize,
        reason: KillReason,
        signal: i32,
        now: Instant,
    ) -> Option<Action> {
        let grace = self.timeouts.grace;
        let w = &mut self.workers[worker];
        let pid = w.pid?;
        let test = w.current.as_ref().map(|c| c.test.name.clone());
        // A second, harder kill keeps the first reason.
        let reason = w.killing.as_ref().map_or(reason, |k| k.reason.clone());
        w.killing = Some(Killing {
            reason,
            test,
            kill_at: (signal != SIGKILL).then(|| now + grace),
        });
        Some(Action::Signal { pid, signal })
    }

    /// What the passing of time asks for.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        for worker in 0..self.workers.len() {
            let w = &mut self.workers[worker];
            if let (Some(k), Some(pid)) = (&mut w.killing, w.pid) {
                if k.kill_at.is_some_and(|at| now >= at) {
                    k.kill_at = None;
                    actions.push(Action::Signal {
                        pid,
                        signal: SIGKILL,
                    });
                }
                continue;
            }
            let Some(c) = &mut w.current else { continue };
            let elapsed = now.saturating_duration_since(c.started);
            if let Some(slow) = self.timeouts.slow {
                // Once per multiple of the slow timeout, as nextest does.
                let due = slow.saturating_mul(c.slow_reported + 1);
                if elapsed >= due && !slow.is_zero() {
                    c.slow_reported += 1;
                    actions.push(Action::Slow {
                        worker,
                        test: c.test.clone(),
                        elapsed,
                    });
                }
            }
            if c.limit.or(self.timeouts.test).is_some_and(|t| elapsed >= t) {
                actions.extend(self.kill(worker, KillReason::Timeout(elapsed), SIGTERM, now));
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;

    fn id(name: &str) -> TestId {
        TestId::new(crate::discover::binary_id("a", BinaryKind::Lib, "a"), name)
    }

    #[test]
    fn a_test_limit_of_its_own_replaces_the_timeout() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut w = Watchdog::new(
            2,
            Timeouts {
                test: Some(Duration::from_secs(10)),
                ..Timeouts::default()
            },
        );
        w.spawned(0, 7);
        w.spawned(1, 8);
        w.started_with_limit(0, &id("short"), t0, Some(Duration::from_secs(2)));
        w.started_with_limit(1, &id("long"), t0, Some(Duration::from_secs(20)));
        assert!(w.tick(s(1)).is_empty());
        let term = |pid| Action::Signal {
            pid,
            signal: SIGTERM,
        };
        assert_eq!(w.tick(s(2)), vec![term(7)]);
        assert!(
            !w.tick(s(10)).contains(&term(8)),
            "the longer own limit replaces --timeout"
        );
        assert!(w.tick(s(20)).contains(&term(8)));
        let mut bare = Watchdog::new(1, Timeouts::default());
        assert!(!bare.needs_ticks());
        bare.spawned(0, 9);
        bare.started_with_limit(0, &id("t"), t0, Some(Duration::from_secs(1)));
        assert!(bare.needs_ticks());
    }

    #[test]
    fn slow_then_term_then_kill() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut w = Watchdog::new(
            1,
            Timeouts {
                slow: Some(Duration::from_secs(2)),
                test: Some(Duration::from_secs(5)),
                grace: Duration::from_secs(1),
            },
        );
        w.spawned(0, 42);
        w.started(0, &id("t"), t0);
        assert!(w.tick(s(1)).is_empty());
        assert!(matches!(w.tick(s(2))[..], [Action::Slow { .. }]));
        assert!(w.tick(s(3)).is_empty());
        assert!(matches!(w.tick(s(4))[..], [Action::Slow { .. }]));
        let term = w.tick(s(5));
        assert!(
            term.contains(&Action::Signal {
                pid: 42,
                signal: SIGTERM
            }),
            "{term:?}"
        );
        assert!(w.tick(s(5)).is_empty());
        assert_eq!(
            w.tick(s(6)),
            [Action::Signal {
                pid: 42,
                signal: SIGKILL
            }]
        );
        assert!(w.tick(s(7)).is_empty());
        assert_eq!(
            w.finished(0, "t", true),
            Some(KillReason::Timeout(Duration::from_secs(5)))
        );
        assert!(w.tick(s(20)).is_empty());
    }

    #[test]
    fn a_test_that_ends_in_time_is_not_killed() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(
            1,
            Timeouts {
                test: Some(Duration::from_secs(5)),
                ..Timeouts::default()
            },
        );
        w.spawned(0, 7);
        w.started(0, &id("t"), t0);
        assert_eq!(w.finished(0, "t", false), None);
        assert!(w.tick(t0 + Duration::from_secs(9)).is_empty());
    }

    /// A run timeout that struck as a test ended, before the dispatcher heard the next
    /// one start: the crash of the next one is the kill's, not a crash of its own.
    #[test]
    fn a_kill_meant_for_a_test_that_ended_explains_the_next_crash() {
        let now = Instant::now();
        let mut w = Watchdog::new(1, Timeouts::default());
        w.spawned(0, 42);
        w.started(0, &id("a"), now);
        assert_eq!(w.kill_all(KillReason::RunTimeout, SIGTERM, now).len(), 1);
        assert_eq!(w.finished(0, "a", false), None);
        assert_eq!(w.finished(0, "b", true), Some(KillReason::RunTimeout));
    }

    #[test]
    fn kill_all_reaches_every_running_process_and_keeps_its_reason() {
        let t0 = Instant::now();
        let mut w = Watchdog::new(3, Timeouts::default());
        w.spawned(0, 10);
        w.started(0, &id("a"), t0);
        w.spawned(2, 12);
        let actions = w.kill_all(KillReason::Signal(2), 2, t0);
        assert_eq!(
            actions,
            [
                Action::Signal { pid: 10, signal: 2 },
                Action::Signal { pid: 12, signal: 2 }
            ]
        );
        // The hard kill follows at once with no grace, for the same reason.
        w.kill_all(KillReason::MaxFail, SIGKILL, t0);
        assert_eq!(w.finished(0, "a", true), Some(KillReason::Signal(2)));
        // Worker 2's process was killed before the dispatcher heard of its test: the
        // first test that then ends with the process is the one the kill ended; one
        // that ended on its own is not.
        assert_eq!(w.finished(2, "b", false), None);
        assert_eq!(w.finished(2, "c", true), Some(KillReason::Signal(2)));
    }
}
