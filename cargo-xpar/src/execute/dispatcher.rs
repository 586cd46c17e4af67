//! The dispatcher: one loop owns the run state (the schedule, the cost model, counts,
//! cancellation); each worker thread owns only the process it is running. They talk by
//! messages. The dispatcher only carries the plan out: which worker gets what, and when a
//! dry worker steals, is the schedule's decision.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::batch::{cancelled, run_named, run_opaque, BatchContext, WorkerMsg};
use super::run_env::RunEnv;
use crate::discover::{BinaryContent, TestList};
use crate::errors::Error;
use crate::plan::{Chunk, CostModel, Next, RunIgnored, Schedule, Selection, UnitTests};
use crate::report::{RunEvent, TestOutcome, TestStatus};

/// How to carry out a run.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    pub fail_fast: bool,
    pub run_ignored: RunIgnored,
    pub test_args: Vec<String>,
    /// Keep the run's temporary directories (`--keep-tmp`).
    pub keep_tmp: bool,
    /// Under `--coverage`: where every worker's test processes write their profiles.
    pub profile_dir: Option<std::path::PathBuf>,
}

/// Runs `schedule` over the tests of `list` and hands every event to `sink`, in order;
/// `selection` supplies the tests reported without running (ignored, filtered out).
pub fn execute(
    list: &TestList,
    selection: Selection,
    mut schedule: Schedule,
    opts: &ExecuteOptions,
    sink: &mut dyn FnMut(RunEvent),
) -> Result<(), Error> {
    let start = Instant::now();
    let to_run = schedule.remaining();
    let workers = schedule.workers();
    let opaque = list
        .binaries
        .iter()
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
    });
    for (binary, name) in selection.ignored {
        sink(RunEvent::TestFinished(TestOutcome {
            binary_id: list.binaries[binary].binary.id.clone(),
            name,
            status: TestStatus::Ignored,
            duration: Duration::ZERO,
            output: String::new(),
            worker: None,
            started: None,
        }));
    }

    let run_env =
        RunEnv::create(workers, opts.keep_tmp, opts.profile_dir.clone()).map_err(Error::TempDir)?;
    let mut cost = CostModel::default();
    let cancel = AtomicBool::new(false);
    let (to_dispatcher, from_workers) = mpsc::channel::<WorkerMsg>();

    std::thread::scope(|scope| -> Result<(), Error> {
        let mut to_workers = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (tx, rx) = mpsc::channel::<Option<Chunk>>();
            to_workers.push(tx);
            let out = to_dispatcher.clone();
            let cancel = &cancel;
            let run_env = &run_env;
            std::thread::Builder::new()
                .name(format!("xpar-worker-{worker}"))
                .spawn_scoped(scope, move || {
                    let shared = (cancel, start, run_env);
                    worker_loop(list, (worker, workers), opts, shared, rx, out)
                })
                .map_err(Error::Thread)?;
        }
        drop(to_dispatcher);

        // Workers told to wait (for slots that `#[serial]` or `#[resource_intensive]`
        // tests hold); asked again whenever another worker finishes a chunk.
        let mut parked: Vec<usize> = Vec::new();
        let answer = |worker: usize, schedule: &mut Schedule, cost: &CostModel| -> bool {
            let next = if cancel.load(Ordering::Relaxed) {
                Next::Done
            } else {
                schedule.next(worker, cost)
            };
            // A worker that is gone has nothing left to receive.
            match next {
                Next::Run(chunk) => drop(to_workers[worker].send(Some(chunk))),
                Next::Done => drop(to_workers[worker].send(None)),
                Next::Wait => return false,
            }
            true
        };

        for msg in from_workers {
            match msg {
                WorkerMsg::Ready { worker, costs } => {
                    for c in costs {
                        cost.record(c);
                    }
                    if !answer(worker, &mut schedule, &cost) {
                        parked.push(worker);
                    }
                    parked.retain(|&w| w == worker || !answer(w, &mut schedule, &cost));
                }
                WorkerMsg::Started {
                    worker,
                    binary_id,
                    name,
                } => sink(RunEvent::TestStarted {
                    binary_id,
                    name,
                    worker,
                }),
                WorkerMsg::Finished { outcome } => {
                    let failed = outcome.status.is_failure();
                    sink(RunEvent::TestFinished(outcome));
                    if failed && opts.fail_fast && !cancel.swap(true, Ordering::Relaxed) {
                        for chunk in schedule.drain() {
                            report_not_run(list, chunk, sink);
                        }
                        parked.retain(|&w| !answer(w, &mut schedule, &cost));
                    }
                }
            }
        }
        Ok(())
    })?;

    if let Some(dir) = run_env.kept() {
        eprintln!(
            "note: kept the run's temporary directories at {}",
            dir.display()
        );
    }
    sink(RunEvent::RunFinished {
        wall: start.elapsed(),
        cancelled: cancel.load(Ordering::Relaxed),
    });
    Ok(())
}

fn worker_loop(
    list: &TestList,
    (worker, workers): (usize, usize),
    opts: &ExecuteOptions,
    (cancel, run_start, run_env): (&AtomicBool, Instant, &RunEnv),
    chunks: mpsc::Receiver<Option<Chunk>>,
    out: mpsc::Sender<WorkerMsg>,
) {
    let mut costs = Vec::new();
    loop {
        let ready = WorkerMsg::Ready {
            worker,
            costs: std::mem::take(&mut costs),
        };
        if out.send(ready).is_err() {
            return;
        }
        let Ok(Some(chunk)) = chunks.recv() else {
            return;
        };
        let binary = &list.binaries[chunk.binary].binary;
        let ctx = BatchContext {
            binary_index: chunk.binary,
            binary,
            worker,
            workers,
            include_ignored: opts.run_ignored != RunIgnored::Default,
            test_args: &opts.test_args,
            cancel,
            run_start,
            run_env,
        };
        let mut emit = |msg: WorkerMsg| {
            let _ = out.send(msg);
        };
        match chunk.tests {
            UnitTests::Opaque => run_opaque(&ctx, &mut emit),
            UnitTests::Named(names) => costs = run_named(&ctx, names, &mut emit),
        }
    }
}

fn report_not_run(list: &TestList, chunk: Chunk, sink: &mut dyn FnMut(RunEvent)) {
    let binary_id = &list.binaries[chunk.binary].binary.id;
    let names = match chunk.tests {
        UnitTests::Named(names) => names,
        UnitTests::Opaque => vec![binary_id.to_string()],
    };
    for name in names {
        sink(RunEvent::TestFinished(TestOutcome {
            binary_id: binary_id.clone(),
            name,
            status: cancelled(),
            duration: Duration::ZERO,
            output: String::new(),
            worker: None,
            started: None,
        }));
    }
}
