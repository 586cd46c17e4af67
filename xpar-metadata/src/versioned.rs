//! Reading and writing a versioned document. On reading, the version is checked before
//! anything else, so that a document of another version is refused as such, not with a
//! confusing error about one of its fields.

use std::fmt;
use std::io::{self, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a document could not be read.
// Hand-written, as in xpar-protocol, so that outside readers depend on serde alone.
#[derive(Debug)]
pub enum ReadError {
    /// The text is not a document of this format (bad JSON, a missing or mistyped field).
    Json {
        /// `run report`, `test list`.
        format: &'static str,
        source: serde_json::Error,
    },
    /// The document has a format version this crate does not read.
    Version {
        format: &'static str,
        found: u32,
        supported: u32,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Json { format, .. } => write!(f, "could not read the cargo-xpar {format}"),
            ReadError::Version {
                format,
                found,
                supported,
            } => write!(
                f,
                "the cargo-xpar {format} has format version {found}, but this reader reads \
                 version {supported}; read it with the xpar-metadata of the cargo-xpar that \
                 wrote it"
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Json { source, .. } => Some(source),
            ReadError::Version { .. } => None,
        }
    }
}

/// Parses `text` as a `T`, refusing it unless its `format-version` is `supported`.
pub(crate) fn read_versioned<T: DeserializeOwned>(
    text: &str,
    format: &'static str,
    supported: u32,
) -> Result<T, ReadError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        #[serde(rename = "format-version")]
        format_version: u32,
    }
    let json = |source| ReadError::Json { format, source };
    let found = serde_json::from_str::<VersionOnly>(text)
        .map_err(json)?
        .format_version;
    if found != supported {
        return Err(ReadError::Version {
            format,
            found,
            supported,
        });
    }
    serde_json::from_str(text).map_err(json)
}

/// `value` as pretty-printed JSON ending in a newline, as cargo-xpar writes its documents.
pub(crate) fn to_pretty<T: Serialize>(value: &T) -> String {
    // The documents hold strings, numbers, bools and paths written lossily: serialising
    // them cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `value` as [`to_pretty`] does.
pub(crate) fn write_pretty<T: Serialize>(value: &T, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}
