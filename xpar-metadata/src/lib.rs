//! The machine-readable formats of cargo-xpar, read and written by the runner, its tests
//! and outside tools alike.
