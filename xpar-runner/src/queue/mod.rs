//! Work queues the dispatcher can take chunks from beyond its own [`Schedule`]: one
//! dynamic queue that many machines share on Redis ([`RemoteQueue`]), as Shopify's
//! ci-queue does. This module is the protocol layer only (each step one atomic Lua
//! script); it knows nothing of processes or the dispatcher.
//!
//! The keys and steps are described in `docs/queue-format.md`.
//!
//! [`Schedule`]: crate::plan::Schedule

mod connection;
mod join;
mod keys;
mod locks;
mod recorded;
mod remote;
mod report;
mod scripts;
mod seed;
mod shared;
mod status;
mod types;

pub use connection::Counts;
pub use join::{check_reachable, join, HeartbeatThread, Joined, QueueOptions};
pub use keys::ResultKey;
pub use locks::{Locks, SERIAL_ALL_KEY};
pub use recorded::{Lanes, MachineRun, Recorded};
pub use remote::RemoteQueue;
pub use report::{collect, not_run, wait, Collected, Waited};
pub use seed::seed_chunks;
pub use shared::{Lease, SharedQueue, SharedState, SharedWorkQueue};
pub use types::{
    Ack, ChunkId, Heartbeat, LeaseStatus, MachineStatus, QueueStatus, Reserve, ResultRecord, Role,
    Token,
};
pub use xpar_metadata::queue::{ChunkSpec, ChunkTests};

#[cfg(test)]
mod tests;
