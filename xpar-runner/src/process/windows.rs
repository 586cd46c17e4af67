//! Windows: a test process and everything it starts live in a Job Object of their own,
//! which is what a process group is on Unix. Ending the job ends the whole tree (a
//! timeout, `--maxfail N:immediate`, a stopped run); the job is made to end its
//! processes when its last handle closes, and only the runner holds it, so a runner that
//! dies (killed, crashed) takes its tests with it, as `PR_SET_PDEATHSIG` does on Linux.
//!
//! Written on `windows-sys` (Microsoft's own bindings) rather than a job crate: the
//! handful of calls used here are all of it, and each is checked.

use std::collections::HashMap;
use std::os::windows::io::AsRawHandle;
use std::os::windows::process::CommandExt;
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, OnceLock};

use windows_sys::Win32::Foundation::{CloseHandle, FILETIME, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{
    GetActiveProcessorCount, GetProcessTimes, OpenProcess, TerminateProcess, ALL_PROCESSOR_GROUPS,
    CREATE_NEW_PROCESS_GROUP, PROCESS_TERMINATE,
};

/// No signals on Windows: a process ends with an exit code (an `NTSTATUS` when it
/// crashed, see `xpar_metadata::exit_code_text`).
pub fn signal(_status: ExitStatus) -> Option<i32> {
    None
}

/// The exit code a process ended through [`kill_group`] gets.
const KILLED_EXIT_CODE: u32 = 1;

pub const SIGKILL: i32 = 9;

/// The logical CPUs of every processor group (std counts this process's group only).
pub fn logical_cpus() -> Option<usize> {
    // SAFETY: GetActiveProcessorCount takes a group number and nothing else.
    let n = unsafe { GetActiveProcessorCount(ALL_PROCESSOR_GROUPS) };
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// What the ended process `child` used: its CPU time (user and kernel) and its peak
/// working set in bytes. A Windows process starts with a memory of its own, so, unlike
/// Linux's, its peak is the test's alone.
pub fn usage(child: &Child) -> Option<(std::time::Duration, u64)> {
    let handle = child.as_raw_handle() as HANDLE;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: the handle is open while `child` lives; the four FILETIMEs are written.
    let timed =
        unsafe { GetProcessTimes(handle, &mut created, &mut exited, &mut kernel, &mut user) };
    if timed == 0 {
        return None;
    }
    // In units of 100 ns.
    let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
    let cpu = std::time::Duration::from_nanos((ticks(kernel) + ticks(user)).saturating_mul(100));
    // SAFETY: an all-zero PROCESS_MEMORY_COUNTERS is valid; `cb` gives its size.
    let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    counters.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
    // SAFETY: as above; the call writes at most `cb` bytes.
    let read = unsafe { K32GetProcessMemoryInfo(handle, &mut counters, counters.cb) };
    let peak = if read == 0 {
        0
    } else {
        counters.PeakWorkingSetSize as u64
    };
    Some((cpu, peak))
}

/// A pipe's size is set when it is made on Windows; std makes it.
pub fn widen_pipe<T>(_pipe: &T) {}

/// A new console process group: Ctrl-C at the console then reaches the runner, not the
/// tests (Windows starts such a group with Ctrl-C ignored), and the runner decides what
/// the tests get. Ctrl-Break reaches every process of the console, tests included.
pub fn own_process_group(cmd: &mut std::process::Command) {
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
}

/// What ends a test process's tree: its job, or the process alone where no job could
/// be made. The handle is closed when dropped; closing a job's last handle ends its
/// processes.
enum Tree {
    Job(HANDLE),
    Process(HANDLE),
}

// SAFETY: job and process handles are kernel object handles, usable from any thread.
unsafe impl Send for Tree {}

impl Drop for Tree {
    fn drop(&mut self) {
        let (Tree::Job(handle) | Tree::Process(handle)) = *self;
        // SAFETY: the handle is this value's own and closed once.
        unsafe { CloseHandle(handle) };
    }
}

/// Every live test process's tree, by the process's id. The reaper removes the entry
/// ([`release`]) before it lets go of its own handle to the process, so the id is not
/// reused while the entry stands; a kill for an id without an entry does nothing.
fn trees() -> std::sync::MutexGuard<'static, HashMap<u32, Tree>> {
    static TREES: OnceLock<Mutex<HashMap<u32, Tree>>> = OnceLock::new();
    TREES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Puts the process `child` into a job of its own, so that [`kill_group`] ends it and
/// everything it starts. Processes it started before this call (in the microseconds
/// since it was created) stay outside; nextest has the same window. Where no job can be
/// made (the runner inside a job that forbids nested ones), the process alone is ended
/// by [`kill_group`], and the error is returned.
pub fn adopt(child: &Child) -> std::io::Result<()> {
    let job = make_job(child);
    let tree = match &job {
        Ok(handle) => Tree::Job(*handle),
        Err(_) => {
            // SAFETY: the child's handle is open while `child` lives, so its id is
            // still its own; a null handle (no access) leaves the process untracked.
            let process = unsafe { OpenProcess(PROCESS_TERMINATE, 0, child.id()) };
            if process.is_null() {
                return job.map(drop);
            }
            Tree::Process(process)
        }
    };
    trees().insert(child.id(), tree);
    job.map(drop)
}

/// A job ending its processes when its last handle closes, holding `child`.
fn make_job(child: &Child) -> std::io::Result<HANDLE> {
    // SAFETY: both arguments may be null (no name, default security).
    let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if handle.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let fail = |handle: HANDLE| {
        let err = std::io::Error::last_os_error();
        // SAFETY: the job's handle, not handed out.
        unsafe { CloseHandle(handle) };
        Err(err)
    };
    // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid (no limits).
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: `info` is the structure the class names, with its exact size.
    let set = unsafe {
        SetInformationJobObject(
            handle,
            JobObjectExtendedLimitInformation,
            std::ptr::from_ref(&info).cast(),
            std::mem::size_of_val(&info) as u32,
        )
    };
    if set == 0 {
        return fail(handle);
    }
    // SAFETY: the child's handle is open while `child` lives.
    let assigned = unsafe { AssignProcessToJobObject(handle, child.as_raw_handle() as HANDLE) };
    if assigned == 0 {
        return fail(handle);
    }
    Ok(handle)
}

/// Forgets the tree of the process `pid`, which has been waited for: closing its job's
/// handle ends what the process left running. Call it while the process's own handle
/// is still open (see [`trees`]).
pub fn release(pid: u32) {
    let tree = trees().remove(&pid);
    drop(tree);
}

/// Ends the process `pid` and everything it started (its job; the process alone where
/// it has no job). Windows has no gentler request that every program answers, so every
/// `signal` ends the processes at once. A process that is gone, or that this runner
/// does not track, is left alone.
pub fn kill_group(pid: u32, _signal: i32) {
    match trees().get(&pid) {
        // SAFETY: the handles are open while they are in the table.
        Some(Tree::Job(job)) => unsafe {
            TerminateJobObject(*job, KILLED_EXIT_CODE);
        },
        Some(Tree::Process(process)) => unsafe {
            TerminateProcess(*process, KILLED_EXIT_CODE);
        },
        None => {}
    }
}

/// The name of a console control event the runner stops for, standing in for a signal
/// (see the run's signal listener): 2 Ctrl-C, 21 Ctrl-Break (the C runtime's SIGBREAK),
/// 1 the console closed.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "the console closing",
        2 => "Ctrl-C",
        6 => "abort",
        9 => "a kill",
        15 => "a termination request",
        21 => "Ctrl-Break",
        _ => "an unknown event",
    }
}

/// Orphans do not come to the runner on Windows; a test's job holds them instead.
pub fn become_subreaper() -> bool {
    false
}

/// What a test left running is in its job, which is ended with it (see [`release`]);
/// it is not named one by one here.
pub fn end_leftovers(_matches: &dyn Fn(&str) -> bool) -> Vec<(u32, String)> {
    Vec::new()
}

pub fn reap_exited_orphans() {}
