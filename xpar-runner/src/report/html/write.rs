//! Renders the page and writes it.

use std::io::Write;
use std::path::Path;

use askama::Template;
use xpar_metadata::RunReport;

use super::page::page;
use crate::coverage::Summary;
use crate::errors::ReportError;

/// The page of `report` as one HTML document; the coverage table when `coverage` is
/// given.
pub fn html_report(report: &RunReport, coverage: Option<&Summary>) -> String {
    page(report, coverage)
        .render()
        // Rendering into a String fails only where a value's `Display` does, and none of
        // the page's values (strings, numbers) can.
        .expect("the page renders into a String")
}

/// Writes the page of `report` to `path`, creating its directory.
pub fn write_html(
    report: &RunReport,
    coverage: Option<&Summary>,
    path: &Path,
) -> Result<(), ReportError> {
    let err = |source: std::io::Error| ReportError::Html {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
    page(report, coverage).write_into(&mut out).map_err(err)?;
    out.flush().map_err(err)
}
