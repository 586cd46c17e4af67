//! A worker thread: asks the dispatcher for a chunk, runs it in test processes of its
//! binary (reporting every test's start and result), and asks again until told to stop.

use std::sync::mpsc;
use std::time::Instant;

use super::alone::{run_alone, run_opaque};
use super::batch::run_named;
use super::context::BatchContext;
use super::inbox::Inbox;
use super::messages::{ToWorker, WorkerMsg};
use super::options::ExecuteOptions;
use super::run_env::RunEnv;
use crate::discover::{BinaryContent, Harness, TestList};
use crate::plan::{Chunk, RunIgnored, UnitTests};

pub fn worker_loop(
    (list, sorted): (&TestList, &[Vec<&str>]),
    (worker, workers): (usize, usize),
    opts: &ExecuteOptions,
    (run_start, run_env): (Instant, &RunEnv),
    chunks: mpsc::Receiver<ToWorker>,
    out: mpsc::Sender<WorkerMsg>,
) {
    let chunks = Inbox::new(chunks);
    let mut costs = Vec::new();
    loop {
        let ready = WorkerMsg::Ready {
            worker,
            costs: std::mem::take(&mut costs),
        };
        if out.send(ready).is_err() {
            return;
        }
        let chunk: Chunk = match chunks.recv() {
            Ok(ToWorker::Run(chunk)) => chunk,
            Ok(ToWorker::Stop | ToWorker::GoOn(_) | ToWorker::Killed(_) | ToWorker::Stopped(_))
            | Err(_) => {
                let _ = out.send(WorkerMsg::Exited);
                return;
            }
        };
        let binary = &list.binaries[chunk.binary].binary;
        let ctx = BatchContext {
            binary_index: chunk.binary,
            binary,
            worker,
            workers,
            include_ignored: opts.run_ignored != RunIgnored::Default,
            capture: opts.capture,
            exit_timeout: opts.timeouts.test,
            test_args: &opts.test_args,
            all_names: &sorted[chunk.binary],
            inbox: &chunks,
            run_start,
            run_env,
            on_spawn: &|pid| {
                let _ = out.send(WorkerMsg::Spawned { worker, pid });
            },
            may_go_on: &|| {
                out.send(WorkerMsg::MayGoOn { worker }).is_ok()
                    && matches!(chunks.recv(), Ok(ToWorker::GoOn(true)))
            },
            was_killed: &|| {
                out.send(WorkerMsg::WasKilled { worker }).is_ok()
                    && matches!(chunks.recv(), Ok(ToWorker::Killed(true)))
            },
        };
        let mut emit = |msg: WorkerMsg| {
            let _ = out.send(msg);
        };
        match (chunk.tests, list.binaries[chunk.binary].harness) {
            (UnitTests::Opaque, _) => run_opaque(&ctx, &mut emit),
            (UnitTests::Named(names), Harness::Libtest) => {
                costs = run_named(&ctx, names, &mut emit);
            }
            (UnitTests::Named(names), Harness::Stable) => run_alone(&ctx, names, &mut emit),
        }
    }
}

/// Each binary's test names, sorted as libtest sorts them: what a batch's name prefixes
/// are checked against. Built once for the run, shared by the workers.
pub fn sorted_names(list: &TestList) -> Vec<Vec<&str>> {
    list.binaries
        .iter()
        .map(|b| {
            let mut names: Vec<&str> = match &b.content {
                BinaryContent::Tests(tests) => tests.iter().map(|t| t.name.as_str()).collect(),
                BinaryContent::Opaque { .. } => Vec::new(),
            };
            names.extend(b.binary.repeated.iter().map(String::as_str));
            names.sort_unstable();
            names
        })
        .collect()
}
