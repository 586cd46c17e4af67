//! The MCP server: its tools (rmcp's `#[tool_router]`), its resources (the last run's
//! JSON and JUnit reports), and the state an MCP session keeps: the runs by id, the last
//! one, and the timeouts `set_test_timeout` set.
//!
//! The runner is blocking code: each call that builds or runs tests runs it on tokio's
//! blocking pool, one at a time (cargo's build lock and the machine's cores are shared),
//! while the call's async side sends its progress and watches for the client's cancel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ProgressNotificationParam,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    tool, tool_handler, tool_router, ErrorData as McpError, Json, RoleServer, ServerHandler,
};
use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

use super::options::{self, BuildLog, SessionTimeouts};
use super::params::Parameters;
use super::progress::{Progress, ProgressReporter};
use super::results;
use super::schema::*;
use crate::cli::McpConfig;
use xpar_runner::execute::{CancelHandle, CancelReason};
use xpar_runner::report::{self, ReportMeta, RunRecord};
use xpar_runner::session;

/// The runs an MCP session keeps, the oldest dropped first: their outputs are in memory.
const KEPT_RUNS: usize = 50;
/// `detect_flaky`'s runs of each test when the call gives none.
const DEFAULT_STRESS_RUNS: u32 = 20;

pub const JSON_URI: &str = "xpar://runs/last/report.json";
pub const JUNIT_URI: &str = "xpar://runs/last/junit.xml";

/// A finished run, as the later calls of the MCP session read it.
struct StoredRun {
    /// What was asked, to run its failures again the same way.
    params: RunTestsParams,
    record: RunRecord,
    /// The JSON report (docs/report-format.md) and the JUnit XML of the run.
    json: String,
    junit: String,
}

/// What is running now, to refuse a second call clearly, to let a call wait for a
/// cancelled one to stop, and to stop it when the server ends.
#[derive(Clone)]
struct Current {
    what: &'static str,
    cancel: CancelHandle,
    /// The request's own token. rmcp cancels it as soon as it reads the client's
    /// `notifications/cancelled`, and may start the client's next call before this
    /// call's task has run again to pass the cancel on to `cancel`.
    request: CancellationToken,
    /// Set once the work on the blocking pool has returned.
    done: Arc<AtomicBool>,
}

impl Current {
    /// Whether its client or the server gave up on it: it ends as soon as its build or
    /// its tests are stopped.
    fn stopping(&self) -> bool {
        self.request.is_cancelled() || self.cancel.is_cancelled()
    }
}

#[derive(Default)]
struct State {
    runs: HashMap<String, Arc<StoredRun>>,
    /// Run ids, oldest first.
    order: Vec<String>,
    timeouts: SessionTimeouts,
    current: Option<Current>,
    /// Runs the runner could not record, which have no run id of their own.
    unrecorded: usize,
}

#[derive(Clone)]
pub struct XparServer {
    cfg: Arc<McpConfig>,
    state: Arc<Mutex<State>>,
    /// Held by the one call that builds or runs tests.
    busy: Arc<tokio::sync::Mutex<()>>,
    tool_router: ToolRouter<Self>,
}

/// A call's exclusive right to build and run, released when dropped.
struct Busy {
    _guard: OwnedMutexGuard<()>,
    state: Arc<Mutex<State>>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        lock(&self.state).current = None;
    }
}

/// Cancels a call's work when the call is dropped before its work returned: the runtime
/// drops the calls still waiting when the server ends, and the work must not outlive
/// them (its cargo and test processes are in process groups of their own, which a
/// signal to the server's group does not reach).
struct CancelOnDrop {
    cancel: CancelHandle,
    done: Arc<AtomicBool>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done.load(Ordering::Acquire) {
            self.cancel.cancel(CancelReason::Requested(
                "the MCP server is ending".to_owned(),
            ));
        }
    }
}

/// Sets its flag when dropped: when the work returned, or panicked.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every change under the lock is one assignment or push: a panic leaves it whole.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[tool_router]
impl XparServer {
    pub fn new(cfg: McpConfig) -> Self {
        XparServer {
            cfg: Arc::new(cfg),
            state: Arc::default(),
            busy: Arc::default(),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Build the workspace's tests and list them (binary id, name, markers, \
                       ignored), filtered as run_tests would filter them.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tests(
        &self,
        Parameters(p): Parameters<ListTestsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ListTestsResult>, String> {
        let log = BuildLog::default();
        let (server, selection, kept) = (Arc::clone(&self.cfg), p.selection(), log.clone());
        let cfg = off_runtime(move || options::list_config(&server, &selection, &kept)).await?;
        let (listed, _) = self
            .blocking("list_tests", &ctx, move |cancel, _| {
                let mut cargo = cfg.cargo;
                options::stop_build_with(&mut cargo, &cancel);
                let list = session::list(&cargo, jobs(), cfg.archive.as_ref())
                    .map_err(|e| results::error_message(&e, &log.text()))?;
                Ok::<_, String>(results::listed(&list, &cfg.filter))
            })
            .await?;
        Ok(Json(listed?))
    }

    #[tool(
        description = "Build and run the workspace's tests in parallel worker processes. \
                       Returns the run id, counts, wall time, speedup and every failure with \
                       its message and the end of its output. Sends progress notifications; \
                       cancel the request to stop the run (its test processes are ended).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn run_tests(
        &self,
        Parameters(p): Parameters<RunTestsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RunResult>, String> {
        self.run(p, None, &ctx).await.map(Json)
    }

    #[tool(
        description = "Run again only the tests that failed in a run (default: the last), \
                       with the selection and arguments its call had (timeouts it gave none \
                       of are the session's current ones), every failure run (no \
                       fail-fast); optionally with retries and a backoff between them.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = false
        )
    )]
    async fn rerun_failed(
        &self,
        Parameters(p): Parameters<RerunFailedParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RunResult>, String> {
        let (run_id, run) = self.stored(p.run_id.as_deref())?;
        let failed: Vec<(String, String)> = (run.record.failures())
            .map(|o| (o.binary_id.to_string(), o.name.clone()))
            .collect();
        if failed.is_empty() {
            return Err(format!(
                "no test failed in run {run_id}: there is nothing to run again"
            ));
        }
        let mut params = run.params.clone();
        params.fail_fast = Some(false);
        let rerun = Rerun {
            params: p,
            only: options::only(&failed),
        };
        self.run(params, Some(rerun), &ctx).await.map(Json)
    }

    #[tool(
        description = "Run each selected test many times, each run in a process of its own, \
                       and report per test its flake rate, its failures by kind and a \
                       recommendation. Cancel the request to stop the runs.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn detect_flaky(
        &self,
        Parameters(p): Parameters<DetectFlakyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<DetectFlakyResult>, String> {
        let threshold = p.threshold.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(format!(
                "invalid threshold {threshold}: a fraction of runs, from 0 to 1"
            ));
        }
        let runs = p.runs.unwrap_or(DEFAULT_STRESS_RUNS);
        let timeout = p.timeout_secs.or(lock(&self.state).timeouts.timeout_secs);
        let log = BuildLog::default();
        let (server, selection, kept) = (Arc::clone(&self.cfg), p.selection(), log.clone());
        let concurrency = p.concurrency;
        let cfg = off_runtime(move || {
            options::stress_config(&server, &selection, runs, concurrency, timeout, &kept)
        })
        .await?;
        let (result, _) = self
            .blocking("detect_flaky", &ctx, move |cancel, reporter| {
                let mut opts = cfg.stress;
                options::stop_build_with(&mut opts.cargo, &cancel);
                opts.cancel = Some(cancel.clone());
                let end = session::stress(&opts, reporter)
                    .map_err(|e| results::error_message(&e, &log.text()))?;
                let interrupted = end.signal.is_some() || cancel.is_cancelled();
                Ok::<_, String>(results::flakiness(
                    &end.stats,
                    runs as usize,
                    threshold,
                    interrupted,
                ))
            })
            .await?;
        Ok(Json(result?))
    }

    #[tool(
        description = "Set the time limit of a test (timeout_secs: the test is ended and \
                       fails) and when it is called slow (slow_timeout_secs), for the later \
                       run_tests, rerun_failed and detect_flaky calls of this MCP session \
                       that set none. Each call sets both; null or absent clears one.",
        annotations(idempotent_hint = true, open_world_hint = false)
    )]
    async fn set_test_timeout(
        &self,
        Parameters(p): Parameters<SetTimeoutParams>,
    ) -> Result<Json<TimeoutSettings>, String> {
        for (name, value) in [
            ("timeout_secs", p.timeout_secs),
            ("slow_timeout_secs", p.slow_timeout_secs),
        ] {
            if let Some(v) = value.filter(|v| !(v.is_finite() && *v >= 0.001)) {
                return Err(format!(
                    "invalid value {v} for {name}: a number of seconds, at least 0.001"
                ));
            }
        }
        lock(&self.state).timeouts = SessionTimeouts {
            timeout_secs: p.timeout_secs,
            slow_timeout_secs: p.slow_timeout_secs,
        };
        Ok(Json(TimeoutSettings {
            timeout_secs: p.timeout_secs,
            slow_timeout_secs: p.slow_timeout_secs,
        }))
    }

    #[tool(
        description = "A run's metrics (default: the last run): wall time, the tests' time \
                       added up, speedup, CPU time, peak memory, the slowest tests; or one \
                       test's.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_execution_metrics(
        &self,
        Parameters(p): Parameters<MetricsParams>,
    ) -> Result<Json<MetricsResult>, String> {
        let (run_id, run) = self.stored(p.run_id.as_deref())?;
        let test = match &p.test {
            Some(name) => Some(results::find_test(
                &run.record,
                &run_id,
                &results::TestRef {
                    name,
                    binary: p.binary_id.as_deref(),
                    worker: p.worker.as_deref(),
                },
            )?),
            None => None,
        };
        results::metrics(&run_id, &run.record, test).map(Json)
    }

    #[tool(
        description = "The whole captured output (stdout and stderr) of one test of a run \
                       (default: the last run), and of its earlier attempts.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_test_output(
        &self,
        Parameters(p): Parameters<TestOutputParams>,
    ) -> Result<Json<TestOutputResult>, String> {
        let (run_id, run) = self.stored(p.run_id.as_deref())?;
        let test = results::find_test(
            &run.record,
            &run_id,
            &results::TestRef {
                name: &p.test,
                binary: p.binary_id.as_deref(),
                worker: p.worker.as_deref(),
            },
        )?;
        Ok(Json(results::test_output(&run_id, test)))
    }
}

/// What `rerun_failed` adds to a run.
struct Rerun {
    params: RerunFailedParams,
    only: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// `work` on the blocking pool: a call's options read the config file and may run
/// `cargo locate-project`, which must not hold up one of the runtime's few threads.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("reading the call's options stopped unexpectedly: {e}"))?
}

/// Workers of a listing: as many as `cargo xpar list` uses.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl XparServer {
    /// The run `run_id` names, or the last one.
    fn stored(&self, run_id: Option<&str>) -> Result<(String, Arc<StoredRun>), String> {
        let state = lock(&self.state);
        let id = match run_id {
            Some(id) => id.to_owned(),
            None => match state.order.last() {
                Some(id) => id.clone(),
                None => {
                    return Err("no run yet in this MCP session: call run_tests first".to_owned())
                }
            },
        };
        match state.runs.get(&id) {
            Some(run) => Ok((id, Arc::clone(run))),
            None => Err(format!(
                "unknown run id `{id}`: the runs of this MCP session are {} (run_tests \
                 returns a run's id)",
                match state.order.is_empty() {
                    true => "none yet".to_owned(),
                    false => state.order.join(", "),
                }
            )),
        }
    }

    /// Builds and runs as `p` (and `rerun`) ask, keeps the run, and returns its result.
    async fn run(
        &self,
        p: RunTestsParams,
        rerun: Option<Rerun>,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<RunResult, String> {
        let log = BuildLog::default();
        let timeouts = lock(&self.state).timeouts;
        let (server, params, kept) = (Arc::clone(&self.cfg), p.clone(), log.clone());
        let rerun_params = rerun.as_ref().map(|r| r.params.clone());
        let mut cfg = off_runtime(move || {
            options::run_config(&server, &params, rerun_params.as_ref(), timeouts, &kept)
        })
        .await?;
        let what = match rerun {
            Some(r) => {
                cfg.run.only = Some(r.only);
                "rerun_failed"
            }
            None => "run_tests",
        };
        let (end, reporter) = self
            .blocking(what, ctx, move |cancel, reporter| {
                options::stop_build_with(&mut cfg.run.cargo, &cancel);
                cfg.run.cancel = Some(cancel);
                session::run(&cfg.run, reporter)
                    .map(|end| (end, cfg.run.dist))
                    .map_err(|e| results::error_message(&e, &log.text()))
            })
            .await?;
        let (end, dist) = end?;
        let run_id = reporter.run_id.clone().unwrap_or_else(|| self.next_id());
        let result = results::run_result(&run_id, &end, reporter.warnings);
        let meta = ReportMeta {
            run_id: Some(run_id.clone()),
            ..ReportMeta::default()
        };
        let stored = StoredRun {
            json: report::json_report(&end.record, dist.as_str(), &meta),
            junit: report::junit_report(&end.record)
                .to_string()
                .unwrap_or_else(|e| format!("<!-- could not write the JUnit report: {e} -->")),
            params: p,
            record: end.record,
        };
        self.keep(run_id, stored);
        Ok(result)
    }

    /// An id for a run the runner could not record (its record dir was not writable).
    fn next_id(&self) -> String {
        let mut state = lock(&self.state);
        state.unrecorded += 1;
        format!("unrecorded-{}", state.unrecorded)
    }

    fn keep(&self, run_id: String, run: StoredRun) {
        let mut state = lock(&self.state);
        state.order.retain(|id| *id != run_id);
        state.order.push(run_id.clone());
        state.runs.insert(run_id, Arc::new(run));
        while state.order.len() > KEPT_RUNS {
            let old = state.order.remove(0);
            state.runs.remove(&old);
        }
    }

    /// The right to build and run, for `current`: at once, or after a cancelled call has
    /// stopped; refused while another call builds or runs.
    async fn acquire(&self, current: Current) -> Result<Busy, String> {
        let what = current.what;
        let guard = match Arc::clone(&self.busy).try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                let running = lock(&self.state).current.clone();
                match running {
                    Some(c) if c.stopping() => Arc::clone(&self.busy).lock_owned().await,
                    Some(c) => {
                        return Err(format!(
                            "{} is already in progress in this MCP session: wait for its \
                             result (or cancel it), then call {what} again",
                            c.what
                        ))
                    }
                    None => {
                        return Err(format!(
                            "another call is building or running tests: wait for its \
                             result, then call {what} again"
                        ))
                    }
                }
            }
        };
        // Set with the lock taken, before any await: a call that finds the lock held
        // finds what holds it.
        lock(&self.state).current = Some(current);
        Ok(Busy {
            _guard: guard,
            state: Arc::clone(&self.state),
        })
    }

    /// Cancels the call that builds or runs, if one does, for `reason`, and waits up to
    /// `wait` for its work to return. Blocking: for the server's last moments, from a
    /// thread that is not one of the runtime's. Whether nothing is left running.
    pub fn stop_current(&self, reason: CancelReason, wait: Duration) -> bool {
        let Some(current) = lock(&self.state).current.clone() else {
            return true;
        };
        current.cancel.cancel(reason);
        let deadline = Instant::now() + wait;
        while !current.done.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Cancels the call that builds or runs, if one does, without waiting.
    pub fn cancel_current(&self, reason: CancelReason) {
        if let Some(current) = &lock(&self.state).current {
            current.cancel.cancel(reason);
        }
    }

    /// Runs `work` on the blocking pool with a cancel handle and a progress reporter,
    /// sending its progress to the client (when it asked for progress) and cancelling
    /// it when the client cancels the request (or goes away). Returns when `work` has
    /// returned, so that its processes are over by then.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        ctx: &RequestContext<RoleServer>,
        work: impl FnOnce(CancelHandle, &mut ProgressReporter) -> T + Send + 'static,
    ) -> Result<(T, ProgressReporter), String> {
        let cancel = CancelHandle::new();
        let done = Arc::new(AtomicBool::new(false));
        let _busy = self
            .acquire(Current {
                what,
                cancel: cancel.clone(),
                request: ctx.ct.clone(),
                done: Arc::clone(&done),
            })
            .await?;
        let _cancel_on_drop = CancelOnDrop {
            cancel: cancel.clone(),
            done: Arc::clone(&done),
        };
        let token = ctx.meta.get_progress_token();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let tx = token.is_some().then_some(tx);
        let handle = cancel.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            let _done = SetOnDrop(done);
            let mut reporter = ProgressReporter::new(tx);
            reporter.say("building the tests".to_owned(), false);
            let out = work(handle, &mut reporter);
            (out, reporter)
        });
        let send = |p: Progress| {
            let mut param =
                ProgressNotificationParam::new(token.clone()?, p.progress).with_message(p.message);
            if let Some(total) = p.total {
                param = param.with_total(total);
            }
            Some(param)
        };
        let mut cancelled = false;
        let joined = loop {
            tokio::select! {
                biased;
                Some(p) = rx.recv() => {
                    if let Some(param) = send(p) {
                        // A client that is gone is noticed by the cancel below.
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                _ = ctx.ct.cancelled(), if !cancelled => {
                    cancelled = true;
                    cancel.cancel(CancelReason::Requested(
                        "the MCP client cancelled the request".to_owned(),
                    ));
                }
                joined = &mut task => break joined,
            }
        };
        // What the run said last goes before its result.
        while let Ok(p) = rx.try_recv() {
            if let Some(param) = send(p) {
                let _ = ctx.peer.notify_progress(param).await;
            }
        }
        joined.map_err(|e| format!("{what} stopped unexpectedly: {e}"))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for XparServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("cargo-xpar", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Runs this Rust workspace's tests with cargo-xpar: list_tests, run_tests (parallel, \
             with progress; cancellable), rerun_failed, detect_flaky, set_test_timeout, \
             get_execution_metrics and get_test_output. One call builds or runs at a time. \
             The last run's JSON and JUnit reports are resources.",
        )
    }

    async fn list_resources(
        &self,
        _req: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(JSON_URI, "last-run-report.json")
                .with_mime_type("application/json")
                .with_description(
                    "The JSON report of the last run of this MCP session \
                     (docs/report-format.md); an error until a run has finished",
                ),
            Resource::new(JUNIT_URI, "last-run-junit.xml")
                .with_mime_type("application/xml")
                .with_description(
                    "The JUnit XML report of the last run of this MCP session; an error \
                     until a run has finished",
                ),
        ]))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let pick: fn(&StoredRun) -> &String = match req.uri.as_str() {
            JSON_URI => |r| &r.json,
            JUNIT_URI => |r| &r.junit,
            other => {
                return Err(McpError::resource_not_found(
                    format!("unknown resource {other}: list_resources gives them"),
                    Some(serde_json::json!({ "uri": other })),
                ))
            }
        };
        let (_, run) = self
            .stored(None)
            .map_err(|why| McpError::resource_not_found(why, None))?;
        let mime = match req.uri.as_str() {
            JSON_URI => "application/json",
            _ => "application/xml",
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            pick(&run).clone(),
            req.uri.clone(),
        )
        .with_mime_type(mime)])
        .into())
    }
}
