//! The signals that stop a run (SIGINT, SIGTERM, SIGHUP), turned into requests on the
//! run's [`CancelHandle`] while the tests run, so that the dispatcher can stop
//! scheduling, pass them on to the tests' process groups and still write its reports.
//! Outside the test phase they keep their default meaning.

use super::cancel::CancelHandle;
#[cfg(unix)]
use super::cancel::CancelReason;

#[cfg(unix)]
pub struct Listener {
    handle: signal_hook::iterator::Handle,
    thread: std::thread::JoinHandle<()>,
}

#[cfg(unix)]
pub fn listen(cancel: CancelHandle) -> std::io::Result<Listener> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("xpar-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                cancel.cancel(CancelReason::Signal(sig));
            }
        })?;
    Ok(Listener { handle, thread })
}

#[cfg(unix)]
impl Listener {
    /// Gives the signals their default meaning back.
    pub fn close(self) {
        self.handle.close();
        let _ = self.thread.join();
    }
}

#[cfg(not(unix))]
pub struct Listener;

#[cfg(not(unix))]
pub fn listen(_cancel: CancelHandle) -> std::io::Result<Listener> {
    Ok(Listener)
}

#[cfg(not(unix))]
impl Listener {
    pub fn close(self) {}
}
