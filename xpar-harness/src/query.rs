//! The marker query: when `cargo xpar` lists a test binary with `XPAR_MARKER_QUERY` set,
//! a constructor writes the binary's [`MarkerReport`] to the named file before libtest's
//! `main` runs; libtest then lists as usual. Without the variable it does nothing.

use std::io::Write;
use std::path::Path;

use xpar_protocol::{env, MarkerReport};

use crate::registry;

// SAFETY (the `unsafe` that `ctor` asks for): the function only reads the environment and
// writes one file, touching no state another constructor could be initialising; on every
// platform libtest runs on, std is usable before `main`.
#[ctor::ctor(unsafe)]
fn answer_marker_query() {
    let Some(path) = std::env::var_os(env::MARKER_QUERY).filter(|p| !p.is_empty()) else {
        return;
    };
    let path = Path::new(&path);
    if let Err(e) = write_report(path) {
        // A missing report would read as "no markers" and schedule marked tests wrongly:
        // fail the listing instead, which the runner reports with this message.
        eprintln!(
            "xpar-harness: cannot write the marker report to {}: {e}",
            path.display()
        );
        std::process::exit(101);
    }
}

/// Writes the report of every registered test to `path`, whole or not at all: a temp file
/// in the same directory, renamed over `path`.
pub fn write_report(path: &Path) -> std::io::Result<()> {
    let json = MarkerReport::new(registry::all_markers()).to_json();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(json.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
