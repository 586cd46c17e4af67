//! The test phase: starts the workers, lets the dispatcher carry the run out, and
//! reports the run's start and end around it.

use std::sync::mpsc;
use std::time::Instant;

use super::cancel::{CancelHandle, CancelReason};
use super::dispatcher::{Dispatcher, RealHost};
use super::messages::{ToWorker, WorkerMsg};
use super::options::ExecuteOptions;
use super::os_signals;
use super::run_env::RunEnv;
use super::test_process::run_token;
use super::worker::{sorted_names, worker_loop};
use crate::discover::{BinaryContent, BinaryKind, TestList};
use crate::errors::Error;
use crate::ids::TestKey;
use crate::plan::{ProcessCosts, Selection, WorkQueue};
use crate::report::{RunEvent, TestOutcome, TestStatus};

/// How the test phase ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecuteEnd {
    /// The signal (SIGINT, SIGTERM, SIGHUP) that stopped the run, if one did.
    pub signal: Option<i32>,
    /// [`ExecuteOptions::process_costs`] updated with what this run measured.
    pub process_costs: ProcessCosts,
}

/// Runs the work of `queue` (the run's `Schedule`) over the tests of `list` and hands
/// every event to `sink`, in order; `selection` supplies the tests reported without
/// running (ignored, filtered out). [`ExecuteOptions::cancel`] stops it from outside.
pub fn execute<Q: WorkQueue>(
    list: &TestList,
    selection: Selection,
    mut queue: Q,
    opts: &ExecuteOptions,
    sink: &mut dyn FnMut(RunEvent),
) -> Result<ExecuteEnd, Error> {
    let start = Instant::now();
    let workers = queue.workers();
    report_start(list, selection, (queue.remaining(), workers), opts, sink);

    let run_env =
        RunEnv::create(workers, opts.keep_tmp, opts.profile_dir.clone()).map_err(Error::TempDir)?;
    // What tests leave running comes to the runner when its parent dies, so each batch
    // can end what its tests left behind, daemons in their own session included.
    crate::process::os::become_subreaper();
    let cancel = opts.cancel.clone().unwrap_or_default();
    let signals = os_signals::listen(cancel.clone()).map_err(Error::Signals)?;
    let (to_dispatcher, from_workers) = mpsc::channel::<WorkerMsg>();
    // Requests made so far (a signal, a caller) reach the dispatcher first.
    cancel.attach(to_dispatcher.clone());

    let sorted = sorted_names(list);
    let end = std::thread::scope(|scope| -> Result<ExecuteEnd, Error> {
        let mut to_workers = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (tx, rx) = mpsc::channel::<ToWorker>();
            to_workers.push(tx);
            let out = to_dispatcher.clone();
            let shared = (start, &run_env);
            let sorted = &sorted;
            std::thread::Builder::new()
                .name(format!("xpar-worker-{worker}"))
                .spawn_scoped(scope, move || {
                    worker_loop((list, sorted), (worker, workers), opts, shared, rx, out)
                })
                .map_err(Error::Thread)?;
        }
        drop(to_dispatcher);
        let host = RealHost;
        let mut d = Dispatcher::new(list, opts, &mut queue, (&cancel, &host), to_workers, start);
        d.run(&from_workers, sink);
        let id = |b: usize| list.binaries.get(b).map(|b| b.binary.id.to_string());
        Ok(ExecuteEnd {
            signal: d.signal(),
            process_costs: d.learned(id, opts.process_costs.clone()),
        })
    });
    signals.close();
    cancel.detach();
    let end = end?;
    report_end(&run_env, start, &cancel, sink);
    Ok(end)
}

/// Reports the start of the run: how many tests it runs on how many workers, and the
/// tests it reports without running them (filtered out, ignored).
fn report_start(
    list: &TestList,
    selection: Selection,
    (to_run, workers): (usize, usize),
    opts: &ExecuteOptions,
    sink: &mut dyn FnMut(RunEvent),
) {
    // The opaque binaries this run runs (not those the filters left out); a suite is one
    // by what it is, not worth a word.
    let opaque = selection
        .units
        .iter()
        .map(|u| &list.binaries[u.binary])
        .filter(|b| b.binary.kind != BinaryKind::Suite)
        .filter_map(|b| match &b.content {
            BinaryContent::Opaque { reason } => Some((b.binary.id.clone(), reason.clone())),
            BinaryContent::Tests(_) => None,
        })
        .collect();
    sink(RunEvent::RunStarted {
        to_run,
        workers,
        filtered_out: selection.filtered_out,
        opaque,
        run_id: opts.run_id.clone(),
    });
    for TestKey { binary, name } in selection.ignored {
        sink(RunEvent::TestFinished(TestOutcome::not_started(
            list.binaries[binary].binary.id.clone(),
            name,
            TestStatus::Ignored,
        )));
    }
}

/// Reports the end of the run, once every worker is done: whatever still carries this
/// run's token was left running by a test (and escaped its batch's sweep), and is ended;
/// orphans that ended on their own are reaped.
fn report_end(
    run_env: &RunEnv,
    start: Instant,
    cancel: &CancelHandle,
    sink: &mut dyn FnMut(RunEvent),
) {
    let prefix = format!("{}.", run_token());
    let leftovers = crate::process::os::end_leftovers(&|t| t.starts_with(&prefix));
    crate::process::os::reap_exited_orphans();
    if !leftovers.is_empty() {
        sink(RunEvent::LeftoversEnded {
            processes: leftovers,
        });
    }

    if let Some(dir) = run_env.kept() {
        sink(RunEvent::TmpKept {
            dir: dir.to_owned(),
        });
    }
    sink(RunEvent::RunFinished {
        wall: start.elapsed(),
        cancelled: cancel.reason().as_ref().map(CancelReason::to_string),
    });
}
