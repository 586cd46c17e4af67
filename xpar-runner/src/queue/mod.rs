//! Work queues the dispatcher can take chunks from beyond its own [`Schedule`]: one
//! dynamic queue that many machines share on Redis ([`RemoteQueue`]), as Shopify's
//! ci-queue does. This module is the protocol layer only (each step one atomic Lua
//! script); it knows nothing of processes or the dispatcher.
//!
//! The keys and steps are described in `docs/queue-format.md`.
//!
//! [`Schedule`]: crate::plan::Schedule

mod connection;
mod keys;
mod remote;
mod scripts;
mod status;
mod types;

pub use connection::Counts;
pub use keys::ResultKey;
pub use remote::RemoteQueue;
pub use types::{
    Ack, ChunkId, Heartbeat, LeaseStatus, MachineStatus, QueueStatus, Reserve, ResultRecord, Role,
    Token,
};
pub use xpar_metadata::queue::{ChunkSpec, ChunkTests};

#[cfg(test)]
mod tests;
