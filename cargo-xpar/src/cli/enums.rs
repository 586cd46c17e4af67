//! The runner's enums as the command line spells them: clap's `ValueEnum` for each, with
//! the same variants and their help, so the runner itself needs no clap.

use xpar_runner::{coverage, execute, history, plan, report};

/// A `ValueEnum` named `$name` with the variants of `$target`, and the conversion.
macro_rules! mirror {
    ($(#[$m:meta])* $name:ident => $target:path { $($(#[$vm:meta])* $v:ident,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name { $($(#[$vm])* $v,)* }

        impl From<$name> for $target {
            fn from(v: $name) -> Self {
                match v { $($name::$v => <$target>::$v,)* }
            }
        }
    };
}

mirror! {
    /// How tests are shared among workers.
    DistMode => plan::DistMode {
        #[default]
        /// Workers pull chunks from one queue, longest first; chunks shrink as it drains.
        Load,
        /// Tests of one module (binary id + module path) run on one worker, in order.
        Loadscope,
        /// Tests of one source file run on one worker, in order.
        Loadfile,
        /// Tests of one `#[group]` run on one worker; the rest as under `load`.
        Loadgroup,
        /// Each worker starts with an equal slice; one that runs dry steals half of the
        /// longest slice left.
        Worksteal,
        /// Every test runs once on every worker.
        Each,
        /// One worker, list order: the sequential baseline.
        No,
    }
}

mirror! {
    /// How the delay grows from one attempt to the next.
    Backoff => execute::Backoff {
        #[default]
        /// The same delay every time.
        Fixed,
        /// The delay doubles with every attempt.
        Exponential,
    }
}

mirror! {
    /// How the stress report is printed.
    StressOutput => report::StressOutput {
        #[default]
        Table,
        Json,
        Csv,
    }
}

mirror! {
    /// How `cargo xpar history` prints its answer.
    HistoryFormat => history::HistoryFormat {
        #[default]
        /// Aligned columns.
        Table,
        /// An array of objects.
        Json,
        /// A header line, then one line per row.
        Csv,
    }
}

mirror! {
    /// A report format (`--coverage-format`).
    CoverageFormat => coverage::CoverageFormat {
        #[default]
        /// `lcov.info`: Codecov, Coveralls, genhtml.
        Lcov,
        /// `cobertura.xml`: GitLab, Azure DevOps, Jenkins.
        Cobertura,
        /// `coverage.json`: llvm-cov's own JSON export.
        Json,
        /// `html/index.html`: llvm-cov's annotated sources.
        Html,
    }
}
