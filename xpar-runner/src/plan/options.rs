//! What the planner is asked for: the distribution modes (`--dist`), with the meanings
//! pytest-xdist users know, and the options a plan is made with.

/// How tests are shared among workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DistMode {
    /// Workers pull chunks from one queue, longest first; chunks shrink as it drains.
    #[default]
    Load,
    /// Tests of one module (binary id + module path) run on one worker, in order.
    Loadscope,
    /// Tests of one source file run on one worker, in order.
    Loadfile,
    /// Tests of one `#[group]` run on one worker; the rest as under `load`.
    Loadgroup,
    /// Each worker starts with an equal slice; one that runs dry steals half of the
    /// longest slice left.
    Worksteal,
    /// Every test runs once on every worker.
    Each,
    /// One worker, list order: the sequential baseline.
    No,
}

impl DistMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DistMode::Load => "load",
            DistMode::Loadscope => "loadscope",
            DistMode::Loadfile => "loadfile",
            DistMode::Loadgroup => "loadgroup",
            DistMode::Worksteal => "worksteal",
            DistMode::Each => "each",
            DistMode::No => "no",
        }
    }

    /// How many workers a run of `tests` tests needs with `jobs` allowed.
    pub fn workers(self, jobs: usize, tests: usize) -> usize {
        match self {
            DistMode::No => 1,
            // Every worker runs everything: idle ones would not be "each".
            DistMode::Each => jobs.max(1),
            _ => jobs.clamp(1, tests.max(1)),
        }
    }
}

/// What the planner needs besides the tests.
#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    pub mode: DistMode,
    pub workers: usize,
    /// Largest scopes first (`loadscope`, `loadfile`, `loadgroup`); off with
    /// `--no-loadscope-reorder`, which keeps list order.
    pub reorder_scopes: bool,
    /// `--require-parallel-safe`: tests not marked `#[parallel_safe]` are `#[serial]`.
    pub require_parallel_safe: bool,
}
