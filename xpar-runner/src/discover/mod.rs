//! Discover: build the test binaries with cargo and list the tests in each.

mod binary;
mod build;
pub(crate) mod cargo_stderr;
mod env;
mod harness;
mod identity;
mod list;
pub mod list_cache;
pub(crate) mod stop;

pub use binary::{binary_id, BinaryId, BinaryKind, TestBinary};
pub use build::{
    build_test_binaries, cargo_failed, coverage_target_dir, target_dir, BuildOutput, DoctestInputs,
    COVERAGE_RUSTFLAGS,
};
pub use env::rustc_program;
pub(crate) use env::{sysroot_libs, DYLIB_PATH_VAR};
pub use identity::build_identity;
pub use list::{
    list_all, parse_json_list, parse_terse_list, BinaryContent, Harness, ListedBinary, ListedTest,
    Markers, TestList,
};
