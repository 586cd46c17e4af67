//! Doctests: rustdoc's tests of a library's documentation, which `cargo test` runs
//! after the test binaries. What rustdoc does with them on stable (how it lists, names,
//! selects and runs them, and what each costs) is measured in `docs/design/doctests.md`;
//! the runner is built on it piece by piece.

pub mod cache;
pub mod discover;
pub mod record;
pub mod select;

/// The doctest names of rustdoc's `--list --format terse` output (`NAME: test` lines;
/// edition 2024 prints a timing line there too, which is not one).
pub fn parse_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terse_list_is_read_and_timing_lines_are_not_names() {
        let out = "src/lib.rs - Version::parse (line 5): test\n\
                   src/../README.md - (line 3): test\n\
                   all doctests ran in 0.52s; merged doctests compilation took 0.35s\n";
        assert_eq!(
            parse_list(out),
            [
                "src/lib.rs - Version::parse (line 5)",
                "src/../README.md - (line 3)"
            ]
        );
    }
}
