//! A run joining a shared queue (`--queue URL --run-id ID`): connect, seed or check the
//! run, and keep this machine's leases alive with a heartbeat on a connection of its own
//! while the dispatcher takes chunks.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::recorded::MachineRun;
use super::remote::RemoteQueue;
use super::seed::seed_chunks;
use super::shared::{SharedState, SharedWorkQueue};
use super::types::{ResultRecord, Role};
use crate::discover::TestList;
use crate::errors::QueueError;
use crate::history::History;
use crate::plan::Selection;
use crate::report::{TestOutcome, TestStatus};

/// How often waiting workers ask the queue again: often enough that a chunk given back
/// by a dead machine is taken at once, rarely enough to stay out of Redis's way.
const POLL: Duration = Duration::from_millis(50);

/// `--queue`, validated.
#[derive(Clone, Debug)]
pub struct QueueOptions {
    pub url: String,
    pub run_id: String,
    /// How long a reserved chunk stays this machine's without a heartbeat
    /// (`--lease-timeout`).
    pub lease: Duration,
    /// How long the run's keys outlive its last write.
    pub ttl: Duration,
    /// This machine's name in the run (unique in it).
    pub machine: String,
}

impl QueueOptions {
    /// A machine name unique in the run: the host's name and this process's id.
    pub fn default_machine() -> String {
        let host = hostname().unwrap_or_else(|| "machine".to_owned());
        format!("{host}-{}", std::process::id())
    }
}

/// The host's name, if it has one (`gethostname` on Unix, `GetComputerNameExW` on
/// Windows, through the crate of that name).
fn hostname() -> Option<String> {
    let name = gethostname::gethostname();
    let name = name.to_string_lossy().replace(['|', '{', '}'], "-");
    (!name.is_empty()).then_some(name)
}

/// This machine in the run.
pub struct Joined {
    pub queue: SharedWorkQueue<RemoteQueue>,
    pub role: Role,
    /// The run's tests on every machine.
    pub total: usize,
    pub heartbeat: HeartbeatThread,
    /// The queue's URL, as it is shown (without a password).
    pub url: String,
}

/// Checks that the queue answers, before anything is built.
pub fn check_reachable(opts: &QueueOptions) -> Result<(), QueueError> {
    RemoteQueue::connect(&opts.url, &opts.run_id, &opts.machine, opts.lease, opts.ttl).map(drop)
}

/// Joins the run `opts` names with this build: the first machine seeds the queue with
/// the selection's chunks; the others check they run the same build.
pub fn join(
    opts: &QueueOptions,
    (list, selection, history): (&TestList, &Selection, &History),
    build_id: &str,
    workers: usize,
) -> Result<Joined, QueueError> {
    let connect =
        || RemoteQueue::connect(&opts.url, &opts.run_id, &opts.machine, opts.lease, opts.ttl);
    let mut remote = connect()?;
    let chunks = seed_chunks(list, selection, &history.durations, &history.processes);
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let role = remote.join(build_id, &chunks, total as u64)?;
    if role == Role::Leader {
        remote.record_unqueued(&ignored_results(list, selection, &opts.machine, workers))?;
    }
    let url = remote.url.clone();
    let queue =
        SharedWorkQueue::new(remote, list, workers, total, POLL).with_machine(&opts.machine);
    let heartbeat = HeartbeatThread::start(connect()?, queue.state(), opts.lease);
    Ok(Joined {
        queue,
        role,
        total,
        heartbeat,
        url,
    })
}

/// The selection's ignored tests, as the results the machine that seeds the run records
/// for them (no chunk carries them).
fn ignored_results(
    list: &TestList,
    selection: &Selection,
    machine: &str,
    workers: usize,
) -> Vec<ResultRecord> {
    let run = MachineRun::starting_now(machine, workers);
    selection
        .ignored
        .iter()
        .map(|t| {
            let binary_id = list.binaries[t.binary].binary.id.clone();
            run.record(
                &TestOutcome::not_started(binary_id, &t.name, TestStatus::Ignored),
                true,
            )
        })
        .collect()
}

/// Extends this machine's leases a few times per lease, until dropped. A heartbeat that
/// fails is the run's error: the run stops rather than run on leases it cannot keep.
pub struct HeartbeatThread {
    /// Dropped to stop the thread at once (its wait ends when the channel is closed).
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HeartbeatThread {
    fn start(mut remote: RemoteQueue, state: SharedState, lease: Duration) -> HeartbeatThread {
        let (stop, stopped) = mpsc::channel::<()>();
        let every = lease / 3;
        let thread = std::thread::Builder::new()
            .name("xpar-heartbeat".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    if state
                        .error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .is_some()
                    {
                        return;
                    }
                    let held: Vec<_> = state
                        .leases
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .map(|l| (l.id, l.token))
                        .collect();
                    let keys = state.keys.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let keys: Vec<(&str, &str)> =
                        keys.iter().map(|(k, t)| (k.as_str(), t.as_str())).collect();
                    if let Err(e) = remote.heartbeat(&held, &keys) {
                        let mut error = state.error.lock().unwrap_or_else(|e| e.into_inner());
                        error.get_or_insert(e.to_string());
                        return;
                    }
                }
                // Stopped at the run's end: gone at once. Best effort: a machine that
                // cannot say so runs out like a dead one.
                let _ = remote.leave();
            })
            .ok();
        HeartbeatThread {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for HeartbeatThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
