//! The signals that stop a run (SIGINT, SIGTERM, SIGHUP), turned into requests on the
//! run's [`CancelHandle`] while the tests run, so that the dispatcher can stop
//! scheduling, pass them on to the tests' process groups and still write its reports.
//! Before the test phase they keep their default meaning. After it, on Unix, they are
//! ignored until the process exits (signal-hook leaves its handler in place, and the
//! default action is not put back); a long server (`cargo xpar mcp`) listens for them
//! its whole life instead. On Windows the console's events get their default back.

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

/// Windows: the console's Ctrl-C, Ctrl-Break and close events, through
/// `SetConsoleCtrlHandler` (windows-sys; std has no console events). Each is passed on as
/// the signal the C runtime gives it (SIGINT 2, SIGBREAK 21; SIGHUP 1 for a closing
/// console), so the run stops and its reports are written as on Unix.
#[cfg(windows)]
pub struct Listener;

#[cfg(windows)]
mod console {
    use std::sync::{Mutex, PoisonError};

    use windows_sys::core::BOOL;
    use windows_sys::Win32::System::Console::{
        SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT,
    };

    use super::super::cancel::{CancelHandle, CancelReason};

    /// The run that console events stop; `None` outside the test phase, where they keep
    /// their default meaning (the handler says it did not handle them).
    static RUN: Mutex<Option<CancelHandle>> = Mutex::new(None);

    unsafe extern "system" fn handler(event: u32) -> BOOL {
        let sig = match event {
            CTRL_C_EVENT => 2,
            CTRL_BREAK_EVENT => 21,
            CTRL_CLOSE_EVENT => 1,
            _ => return 0,
        };
        match &*RUN.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(cancel) => cancel.cancel(CancelReason::Signal(sig)),
            None => return 0,
        }
        if event == CTRL_CLOSE_EVENT {
            // Windows ends the process when this returns, and 5 s after the event in
            // any case: the time left goes to stopping the tests and writing reports.
            std::thread::sleep(std::time::Duration::from_millis(4500));
        }
        1
    }

    pub fn listen(cancel: CancelHandle) -> std::io::Result<()> {
        *RUN.lock().unwrap_or_else(PoisonError::into_inner) = Some(cancel);
        // SAFETY: `handler` is a valid handler routine for the process's whole life.
        if unsafe { SetConsoleCtrlHandler(Some(handler), 1) } == 0 {
            close();
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn close() {
        // SAFETY: removing a handler that was added, or one that was not, is harmless.
        unsafe { SetConsoleCtrlHandler(Some(handler), 0) };
        *RUN.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(windows)]
pub fn listen(cancel: CancelHandle) -> std::io::Result<Listener> {
    console::listen(cancel)?;
    Ok(Listener)
}

#[cfg(windows)]
impl Listener {
    /// Gives the console events their default meaning back.
    pub fn close(self) {
        console::close();
    }
}
