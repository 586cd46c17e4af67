//! The server's process: a tokio runtime for rmcp, the MCP session on stdin and stdout
//! until the client closes it (or a signal ends the server), then the run or build in
//! progress stopped and given time to end.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, ReadBuf};

use super::server::XparServer;
use crate::cli::McpConfig;
use crate::errors::Error;
use crate::exit_codes;
use xpar_runner::execute::CancelReason;

/// How long the server waits for a run or build it stopped to end: the runner's default
/// grace before it kills the tests (5 s), and time to write the run's record.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How long the runtime then waits for what is left on its blocking pool.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves the tools on stdin and stdout until the client closes stdin.
pub(crate) fn serve(cfg: &McpConfig) -> Result<i32, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Thread)?;
    let server = XparServer::new(cfg.clone());
    os::stop_on_signals(server.clone());
    let on_eof = server.clone();
    let input = EofAware {
        inner: tokio::io::stdin(),
        // rmcp waits up to 5 s for the calls in flight to answer once its input ends, and
        // only then cancels them: nobody reads their answers now, so they stop at once.
        on_eof: Some(Box::new(move || {
            on_eof.cancel_current(CancelReason::Requested(
                "the MCP client closed the session".to_owned(),
            ))
        })),
    };
    let serving = server.clone();
    let served = runtime.block_on(async move {
        let service = serving
            .serve((input, tokio::io::stdout()))
            .await
            .map_err(|e| format!("the MCP session did not start: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| format!("the MCP session ended with an error: {e}"))
    });
    // However the session ended, a run or build still going is stopped here, while the
    // runtime still runs its task: once the runtime shuts down, the call that would have
    // passed a cancel on to it is gone.
    let reason = CancelReason::Requested("the MCP session ended".to_owned());
    if !server.stop_current(reason, STOP_WAIT) {
        eprintln!("warning: the run in progress did not stop in {STOP_WAIT:?}");
    }
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match served {
        Ok(_) => Ok(exit_codes::OK),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_codes::SETUP_ERROR)
        }
    }
}

/// An input that calls `on_eof` once it has ended.
struct EofAware<R> {
    inner: R,
    on_eof: Option<Box<dyn FnOnce() + Send>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for EofAware<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        // A read into room that fills nothing is the end of the input.
        if let Poll::Ready(Ok(())) = polled {
            if buf.filled().len() == before && buf.remaining() > 0 {
                if let Some(on_eof) = self.on_eof.take() {
                    on_eof();
                }
            }
        }
        polled
    }
}

#[cfg(unix)]
mod os {
    use super::{XparServer, STOP_WAIT};
    use crate::exit_codes;
    use xpar_runner::execute::CancelReason;

    /// For the server's whole life, SIGINT, SIGTERM and SIGHUP stop the run or build in
    /// progress and then end the server (128 + the signal, as the CLI). The runner
    /// listens to them only while tests run, and taking its listener away does not give
    /// them their default meaning back (signal-hook cannot): without this one, a server
    /// that ran tests once would ignore them. Handlers add up, so the runner's still
    /// stops its tests as it does in the CLI.
    pub(super) fn stop_on_signals(server: XparServer) {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(signals) => signals,
            Err(e) => {
                // The signals keep their default meaning: they end the server at once.
                eprintln!("warning: cannot listen to signals: {e}");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("xpar-mcp-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    // Not `CancelReason::Signal`: the runner's own listener sends that
                    // one, and a second would kill the tests without their grace.
                    let reason =
                        CancelReason::Requested(format!("the MCP server got signal {sig}"));
                    server.stop_current(reason, STOP_WAIT);
                    std::process::exit(exit_codes::interrupted(sig));
                }
            });
        if let Err(e) = spawned {
            eprintln!("warning: cannot listen to signals, which now do nothing: {e}");
        }
    }
}

#[cfg(not(unix))]
mod os {
    pub(super) fn stop_on_signals(_server: super::XparServer) {}
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;

    use super::EofAware;

    #[tokio::test]
    async fn the_end_of_the_input_is_told_once_after_all_it_held() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let mut input = EofAware {
            inner: &b"{}\n"[..],
            on_eof: Some(Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            })),
        };
        let mut two = [0u8; 2];
        assert_eq!(input.read(&mut two).await.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let mut rest = Vec::new();
        input.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"\n");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(input.read(&mut two).await.unwrap(), 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
