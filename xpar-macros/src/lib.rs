//! The attribute macros of `xpar-harness`. Use them through `xpar_harness`, which
//! re-exports them; everything they expand to is named through `::xpar_harness`.
