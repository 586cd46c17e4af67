//! The `cargo-xpar` executable: everything lives in the library; this only exits with its code.

fn main() {
    std::process::exit(cargo_xpar::main_with_args(std::env::args_os()));
}
