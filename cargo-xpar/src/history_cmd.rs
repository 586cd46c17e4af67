//! `cargo xpar history`: what the run history (`<target-dir>/xpar/history.db`) says,
//! on stdout as a table, JSON or CSV. No history yet is one line and exit code 2.

use crate::cli::{HistoryConfig, HistoryQuery};
use crate::discover;
use crate::errors::{Error, ReportError};
use crate::exit_codes;
use xpar_runner::history::{self, HistoryDb, HistoryView};

pub(crate) fn history(cfg: &HistoryConfig) -> Result<i32, Error> {
    let target_dir = discover::target_dir(&cfg.cargo)?;
    let db = HistoryDb::open_existing(&history::path(&target_dir))?;
    let view = match &cfg.query {
        HistoryQuery::Runs => HistoryView::Runs(db.runs(cfg.runs)?),
        HistoryQuery::Flaky => HistoryView::Flaky(db.flaky(cfg.runs)?),
        HistoryQuery::Slowest(top) => HistoryView::Slowest(db.slowest(cfg.runs, *top)?),
        HistoryQuery::Test(name) => HistoryView::Test(db.test_results(name, cfg.runs)?),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    history::write_history(&view, cfg.format.into(), &mut out).map_err(ReportError::Stdout)?;
    Ok(exit_codes::OK)
}
