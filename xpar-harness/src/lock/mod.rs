//! Exclusion between marked tests when the runner does not provide it (plain `cargo test`,
//! `cargo nextest run`): an in-process lock for tests on threads of one process, and
//! file locks for tests in separate processes.

pub(crate) mod files;
mod guard;
mod process;

pub use files::LOCK_DIR_ENV;
pub use guard::{enter, MarkerGuard};
