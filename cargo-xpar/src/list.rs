//! `cargo xpar list`: build and list the tests, as text or JSON.

use crate::cli::{self, ListConfig};
use crate::errors::{Error, ReportError};
use crate::exit_codes;
use crate::list_output::write_list;
use xpar_runner::session;
use xpar_runner::suite::{self, SuiteSpec};

pub(crate) fn list(cfg: &ListConfig) -> Result<i32, Error> {
    let jobs = cli::parse_jobs("auto")?;
    let mut list = session::list(&cfg.cargo, jobs, cfg.archive.as_ref())?;
    let suites: Vec<&SuiteSpec> = cfg.suites.iter().collect();
    list.binaries.extend(suite::listed(&suites, &cfg.root));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_list(&list, &cfg.suites, &cfg.filter, cfg.format, &mut out)
        .map_err(ReportError::Stdout)?;
    Ok(exit_codes::OK)
}
