//! Cargo's stderr during the build: passed on to ours as it arrives (progress, warnings,
//! rendered diagnostics, as cargo shows them), its tail kept, so that a failed
//! `cargo test --no-run` can be told apart: cargo refusing the command line (no
//! Cargo.toml, `-p` naming no package, an unknown feature), a usage error, from a build
//! that failed.
//!
//! Cargo sees a pipe rather than the user's terminal: the caller says what it would have
//! shown there (colours, the progress bar's width), and where its stderr goes.

use std::io::Read;
use std::thread::JoinHandle;

use crate::cargo::{BuildOutput, CargoOptions};
use crate::process::ProcessBuilder;

/// How much of cargo's stderr is kept: a refusal is its last lines.
const TAIL_BYTES: usize = 16 * 1024;

/// Copies `from` to `to` as it arrives, on a thread of its own; the thread returns the
/// last [`TAIL_BYTES`] of what it copied.
pub fn tee(
    mut from: impl Read + Send + 'static,
    to: BuildOutput,
) -> std::io::Result<JoinHandle<Vec<u8>>> {
    std::thread::Builder::new()
        .name("xpar-cargo-stderr".into())
        .spawn(move || {
            let mut tail = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        to.write(&buf[..n]);
                        tail.extend_from_slice(&buf[..n]);
                        if tail.len() > 2 * TAIL_BYTES {
                            tail.drain(..tail.len() - TAIL_BYTES);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            tail
        })
}

/// Asks cargo, whose stderr is a pipe, for the progress bar it would show on a terminal
/// of [`CargoOptions::progress_width`], unless it shows none anyway (`-q`, on CI).
pub fn progress(opts: &CargoOptions, build: &mut ProcessBuilder) {
    let wanted = !opts.quiet
        && std::env::var_os("CI").is_none()
        && std::env::var_os("CARGO_TERM_PROGRESS_WHEN").is_none();
    if let (true, Some(width)) = (wanted, opts.progress_width) {
        build
            .env("CARGO_TERM_PROGRESS_WHEN", "always")
            .env("CARGO_TERM_PROGRESS_WIDTH", width.to_string());
    }
}

/// What cargo prints when it refuses the command line before building anything (its
/// messages as of cargo 1.95): each is a usage error, not a failed build.
const REFUSALS: &[&[&str]] = &[
    &["could not find `Cargo.toml` in "],
    &["package ID specification `", "` did not match any packages"],
    &["does not contain this feature: "],
    &["does not contain these features: "],
    &["none of the selected packages contains th"],
    &["no bin target named `"],
    &["no test target named `"],
    &["no example target named `"],
    &["no bench target named `"],
    &["profile `", "` is not defined"],
    &["manifest path `", "` does not exist"],
    &["manifest path `", "` is a directory but expected a file"],
    &["the manifest-path must be a path to a Cargo.toml file"],
];

/// When cargo's stderr (`text`, colours and progress bar included) shows that it refused
/// the command line: its first `error:` line, without the `error: `. `None` when the
/// first error is anything else, a compile error or a manifest cargo could not read.
pub fn refusal(text: &str) -> Option<String> {
    let plain = anstream::adapter::strip_str(text).to_string();
    let first_error = plain
        .lines()
        // What follows the last carriage return is what the terminal shows: a progress
        // bar cargo cleared before it printed the line is left out.
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .find_map(|l| l.strip_prefix("error: "))?
        .trim_end();
    REFUSALS
        .iter()
        .any(|parts| parts.iter().all(|p| first_error.contains(p)))
        .then(|| first_error.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_refusing_the_command_line_is_told() {
        // Real stderr of `cargo test --no-run --message-format=json-render-diagnostics`.
        let table: &[(&str, &str)] = &[
            (
                "error: could not find `Cargo.toml` in `/tmp` or any parent directory\n",
                "could not find `Cargo.toml` in `/tmp` or any parent directory",
            ),
            (
                "error: package ID specification `nosuchcrate` did not match any packages\n",
                "package ID specification `nosuchcrate` did not match any packages",
            ),
            (
                "error: package ID specification `passin` did not match any packages\n\n\
                 help: a package with a similar name exists: `passing`\n",
                "package ID specification `passin` did not match any packages",
            ),
            (
                "error: the package 'passing' does not contain this feature: nosuchfeat\n",
                "the package 'passing' does not contain this feature: nosuchfeat",
            ),
            (
                "error: the package 'passing' does not contain these features: a, b\n",
                "the package 'passing' does not contain these features: a, b",
            ),
            (
                "error: none of the selected packages contains these features: alpha/y, \
                 beta/x\nselected packages: alpha, beta\n",
                "none of the selected packages contains these features: alpha/y, beta/x",
            ),
            (
                "error: no test target named `nosuch` in default-run packages\n\
                 help: available test targets:\n    it\n",
                "no test target named `nosuch` in default-run packages",
            ),
            (
                "error: profile `nosuch` is not defined\n",
                "profile `nosuch` is not defined",
            ),
            (
                "error: manifest path `/nonexist/Cargo.toml` does not exist\n",
                "manifest path `/nonexist/Cargo.toml` does not exist",
            ),
            // In colour, after a progress bar cargo cleared.
            (
                "    Building [=====>   ] 3/5: beta\r\x1b[K\x1b[1m\x1b[91merror\x1b[0m\
                 \x1b[1m:\x1b[0m package ID specification `x` did not match any packages\n",
                "package ID specification `x` did not match any packages",
            ),
        ];
        for (stderr, want) in table {
            assert_eq!(refusal(stderr).as_deref(), Some(*want), "{stderr:?}");
        }
    }

    #[test]
    fn a_failed_build_is_not_a_refusal() {
        let table: &[&str] = &[
            "",
            "   Compiling beta v0.1.0 (/tmp/b/beta)\n\
             error: expected expression, found `;`\n --> beta/src/lib.rs:9:35\n\
             error: could not compile `beta` (lib) due to 1 previous error\n",
            "error[E0425]: cannot find value `x` in this scope\n",
            // A refusal's words after another error are not cargo's refusal.
            "error: failed to parse manifest at `/tmp/b/Cargo.toml`\n\nCaused by:\n  \
             package ID specification `x` did not match any packages\n",
            "warning: profile `nosuch` is not defined\n",
        ];
        for stderr in table {
            assert_eq!(refusal(stderr), None, "{stderr:?}");
        }
    }
}
