//! The server's process: a tokio runtime for rmcp, the MCP session on stdin and stdout
//! until the client closes it, then the runs it cancelled given time to end.

use std::time::Duration;

use rmcp::ServiceExt;

use crate::cli::McpConfig;
use crate::errors::Error;
use crate::exit_codes;

/// How long the server waits, once the client is gone, for a run it cancelled to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Serves the tools on stdin and stdout until the client closes stdin.
pub(crate) fn serve(cfg: &McpConfig) -> Result<i32, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Thread)?;
    let server = super::server::XparServer::new(cfg.clone());
    let served = runtime.block_on(async move {
        let service = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("the MCP session did not start: {e}"))?;
        service
            .waiting()
            .await
            .map_err(|e| format!("the MCP session ended with an error: {e}"))
    });
    // The client going away cancelled every call; a run still ending its tests is given
    // time to, rather than left to be killed with the process.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match served {
        Ok(_) => Ok(exit_codes::OK),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_codes::SETUP_ERROR)
        }
    }
}
