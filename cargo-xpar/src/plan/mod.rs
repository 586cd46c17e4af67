//! Plan: pure functions from the test list and options to what runs where. No processes,
//! clock or files here.

mod filter;
mod load;

pub use filter::{select, RunIgnored, Selection, TestFilter, Unit, UnitTests};
pub use load::{BatchCost, Chunk, CostModel, LoadQueue};
