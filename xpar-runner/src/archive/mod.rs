//! Archives: build once, run elsewhere. [`create`] packs a build's test binaries, their
//! listing and the files of the target dir they need into a `.tar.zst` with a versioned
//! manifest; [`open`] extracts one on a machine that builds nothing and gives back the
//! tests as discovery would have.

mod create;
mod manifest;
mod open;

pub use create::{create, ArchiveBuild, ArchiveSummary};
pub use manifest::{Manifest, FORMAT_VERSION, MANIFEST_PATH};
pub use open::{open, open_for_run, ArchiveInfo, ArchiveSource, Extraction, OpenedArchive};

#[cfg(test)]
mod tests;
