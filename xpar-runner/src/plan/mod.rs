//! Plan: pure functions from the test list, the duration history and the options to what
//! runs where. No processes, clock or files here.

mod cost;
mod cpu_slots;
mod dist;
mod durations;
mod filter;
mod markexpr;
mod options;
mod overrides;
mod partition;
mod queue;
mod schedule;
mod split;
mod suites;

pub use cost::{BatchCost, CostModel, ProcessCost, ProcessCosts};
pub use cpu_slots::{apply_cpu_slots, CoreUse, GivenSlots, StoredCores, TestCores};
pub use dist::{plan, plan_first, stress_schedule};
pub use durations::Durations;
pub use filter::{select, RunIgnored, Selection, TestFilter, Unit, UnitTests};
pub use markexpr::{MarkerExpr, MarkerExprError, MarkerName};
pub use options::{DistMode, PlanOptions};
pub use overrides::{apply_overrides, TestOverride};
pub(crate) use partition::markers_by_name;
pub use partition::{
    from_ci as partition_from_ci, partition, BadPartition, Partition, PartitionKind,
};
pub use queue::{Chunk, Next, WorkQueue};
pub use schedule::Schedule;
pub use suites::{PlannedSuite, SuiteQueue};
/// What `#[serial]` asks, as an override sets it too.
pub use xpar_protocol::Serial;
