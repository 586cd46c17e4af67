//! How a run is stopped before its end, and why: the [`CancelHandle`] every stop goes
//! through, and the [`CancelReason`]s. The dispatcher alone stops the run; the workers
//! read that it did, and report the tests they then do not run with its reason.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};

use super::messages::WorkerMsg;
pub use super::reason::CancelReason;
use crate::report::TestStatus;

/// The one way a run is stopped: a cloneable handle, which the caller may make before
/// the run starts ([`ExecuteOptions::cancel`]) and keep, to stop the run from outside.
/// The signals the runner receives, `--maxfail`, `--max-worker-restart` and
/// `--run-timeout` stop the run through it alike: a request goes to the dispatcher,
/// which alone stops the run (scheduling nothing more, reporting what was never handed
/// out not run, ending the running tests as the reason asks) and records why. The
/// workers go by what the dispatcher recorded. A handle serves one run.
///
/// [`ExecuteOptions::cancel`]: super::ExecuteOptions::cancel
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Set by the dispatcher once it stopped the run.
    stopped: AtomicBool,
    /// Why it stopped it (the first reason it acted on).
    reason: OnceLock<CancelReason>,
    /// Set by every request, before the dispatcher acts on it.
    requested: AtomicBool,
    inbox: Mutex<Inbox>,
}

/// Where requests go.
#[derive(Debug, Default)]
struct Inbox {
    /// Requests made before the run started, handed to its dispatcher when it does.
    pending: Vec<CancelReason>,
    /// The running dispatcher's messages.
    dispatcher: Option<Sender<WorkerMsg>>,
}

impl CancelHandle {
    pub fn new() -> Self {
        CancelHandle::default()
    }

    /// Asks the run to stop for `reason`. The first reason the dispatcher acts on is the
    /// run's; a later one still ends the tests as it asks (a second signal kills them).
    /// Made before the run starts, the run stops as soon as it starts.
    pub fn cancel(&self, reason: CancelReason) {
        self.shared.requested.store(true, Ordering::Relaxed);
        let mut inbox = self.inbox();
        match &inbox.dispatcher {
            // A dispatcher that is gone has finished the run: nothing left to stop.
            Some(tx) => drop(tx.send(WorkerMsg::Cancel(reason))),
            None => inbox.pending.push(reason),
        }
    }

    /// Whether the run was asked to stop (it may still be stopping).
    pub fn is_cancelled(&self) -> bool {
        self.shared.requested.load(Ordering::Relaxed) || self.stopped()
    }

    /// Why the run stopped, once it did.
    pub fn reason(&self) -> Option<CancelReason> {
        self.shared.reason.get().cloned()
    }

    /// Whether the dispatcher stopped the run: what the workers go by.
    pub(super) fn stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Relaxed)
    }

    /// Stops the run for `reason`; false if it was already stopped. Only the dispatcher
    /// stops it.
    pub(super) fn stop(&self, reason: CancelReason) -> bool {
        let first = self.shared.reason.set(reason).is_ok();
        self.shared.stopped.store(true, Ordering::Relaxed);
        first
    }

    /// The status of a test the stop left unrun.
    pub(super) fn not_run(&self) -> TestStatus {
        TestStatus::NotRun(match self.shared.reason.get() {
            Some(reason) => reason.to_string(),
            None => "the run stopped".into(),
        })
    }

    /// From now on requests go to the dispatcher at `tx`, those made before first.
    pub(super) fn attach(&self, tx: Sender<WorkerMsg>) {
        let mut inbox = self.inbox();
        for reason in std::mem::take(&mut inbox.pending) {
            let _ = tx.send(WorkerMsg::Cancel(reason));
        }
        inbox.dispatcher = Some(tx);
    }

    /// The run is over: requests go nowhere (and its messages' channel may close).
    pub(super) fn detach(&self) {
        self.inbox().dispatcher = None;
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        // A panic while holding the lock left the inbox whole: a push or a send.
        self.shared
            .inbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::BinaryKind;
    use std::time::Duration;

    /// The texts reach the output and the reports: they stay as they were.
    #[test]
    fn reasons_read_as_before() {
        let table = [
            (
                CancelReason::MaxFail {
                    count: 1,
                    immediate: false,
                },
                "the run stopped after a failure (--no-fail-fast runs everything)",
            ),
            (
                CancelReason::MaxFail {
                    count: 1,
                    immediate: true,
                },
                "the run stopped after 1 failures (--maxfail)",
            ),
            (
                CancelReason::MaxFail {
                    count: 3,
                    immediate: false,
                },
                "the run stopped after 3 failures (--maxfail)",
            ),
            (
                CancelReason::TooManyCrashes {
                    crashes: 5,
                    last: crate::discover::binary_id("a", BinaryKind::Test, "t"),
                    max: 4,
                },
                "test processes crashed 5 times, the last of a::t (--max-worker-restart 4)",
            ),
            (
                CancelReason::RunTimeout(Duration::from_millis(1500)),
                "the run reached --run-timeout (1.500s)",
            ),
        ];
        for (reason, text) in table {
            assert_eq!(reason.to_string(), text);
        }
        #[cfg(unix)]
        assert_eq!(
            CancelReason::Signal(2).to_string(),
            "the run was interrupted by SIGINT"
        );
    }

    /// A request made before the run reaches its dispatcher when it starts; the run has
    /// stopped (for the workers) only once the dispatcher says so.
    #[test]
    fn requests_go_to_the_dispatcher_which_alone_stops_the_run() {
        let handle = CancelHandle::new();
        let caller = handle.clone();
        caller.cancel(CancelReason::Requested("early".into()));
        assert!(handle.is_cancelled());
        assert!(!handle.stopped());
        let (tx, rx) = std::sync::mpsc::channel();
        handle.attach(tx);
        caller.cancel(CancelReason::Signal(15));
        let got: Vec<_> = rx.try_iter().collect();
        assert!(
            matches!(
                &got[..],
                [
                    WorkerMsg::Cancel(CancelReason::Requested(_)),
                    WorkerMsg::Cancel(CancelReason::Signal(15))
                ]
            ),
            "{got:?}"
        );
        assert!(handle.stop(CancelReason::Requested("early".into())));
        assert!(!handle.stop(CancelReason::Signal(15)));
        assert!(handle.stopped());
        assert_eq!(
            caller.reason(),
            Some(CancelReason::Requested("early".into()))
        );
        assert_eq!(
            handle.not_run(),
            TestStatus::NotRun("the run was cancelled (early)".into())
        );
        handle.detach();
        caller.cancel(CancelReason::Signal(2));
        assert!(rx.try_recv().is_err());
    }
}
