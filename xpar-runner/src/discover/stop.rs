//! Stopping a build from outside: while cargo builds, a thread watches the build's
//! [`CancelHandle`] and, once it is cancelled, ends cargo's process group (cargo and the
//! compilers it started).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::execute::CancelHandle;
use crate::process::os;

/// How often the handle is looked at: a cancel ends the build within this. The handle
/// has nothing to wait on, and a build takes seconds: a look costs nothing beside it.
const POLL: Duration = Duration::from_millis(50);

/// SIGTERM: cargo and rustc end at once, removing what they were writing.
const SIGTERM: i32 = 15;

/// Watches a handle for the build of process group `pgid`, until [`finish`]ed or dropped.
///
/// [`finish`]: StopOnCancel::finish
pub(crate) struct StopOnCancel {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<bool>>,
}

impl StopOnCancel {
    pub(crate) fn start(cancel: CancelHandle, pgid: u32) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let watching = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("xpar-build-cancel".into())
            .spawn(move || {
                while !watching.load(Ordering::Relaxed) {
                    if cancel.is_cancelled() {
                        os::kill_group(pgid, SIGTERM);
                        return true;
                    }
                    std::thread::sleep(POLL);
                }
                false
            })
            // Without the thread the build cannot be stopped, only the run after it.
            .ok();
        StopOnCancel { done, thread }
    }

    /// Stops watching (call it before cargo is reaped, so that the group it would end
    /// is still cargo's); whether the build was ended.
    pub(crate) fn finish(mut self) -> bool {
        self.done.store(true, Ordering::Relaxed);
        (self.thread.take()).is_some_and(|t| t.join().unwrap_or(false))
    }
}

impl Drop for StopOnCancel {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::execute::CancelReason;

    #[test]
    fn a_cancel_ends_the_process_group() {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("600");
        os::own_process_group(&mut cmd);
        let mut child = cmd.spawn().expect("start sleep");
        let cancel = CancelHandle::new();
        let stopper = StopOnCancel::start(cancel.clone(), child.id());
        cancel.cancel(CancelReason::Requested("test".into()));
        let status = child.wait().expect("wait for sleep");
        assert_eq!(os::signal(status), Some(SIGTERM), "{status:?}");
        assert!(stopper.finish());
    }

    #[test]
    fn no_cancel_leaves_it_alone() {
        let mut cmd = std::process::Command::new("true");
        os::own_process_group(&mut cmd);
        let mut child = cmd.spawn().expect("start true");
        let stopper = StopOnCancel::start(CancelHandle::new(), child.id());
        let status = child.wait().expect("wait for true");
        assert!(!stopper.finish());
        assert!(status.success());
    }
}
