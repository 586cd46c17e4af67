//! The `cargo-xpar` executable: everything lives in the library; this only exits with its code.

use xpar_runner::doctest::record::{act_as_rustdoc, RECORD_ENV};

fn main() {
    // Run by `cargo test --doc` as its rustdoc, to learn how it runs each library's
    // doctests (see `xpar_runner::doctest::record`).
    if let Some(record) = std::env::var_os(RECORD_ENV) {
        let args = std::env::args_os().skip(1).collect();
        std::process::exit(act_as_rustdoc(std::path::Path::new(&record), args));
    }
    std::process::exit(cargo_xpar::main_with_args(std::env::args_os()));
}
