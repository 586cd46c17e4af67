//! The attribute macros of `xpar-harness`. Use them through `xpar_harness`, which
//! re-exports them; everything they expand to is named through `::xpar_harness`.
//!
//! Each macro parses its own arguments and those of every other xpar marker stacked on
//! the same function (see [`markers`]), then rewrites the function once (see [`expand`]):
//! one registration for the marker query and one lock guard around the body.

use proc_macro::TokenStream;

mod expand;
mod item;
mod markers;

use markers::Kind;

/// `#[serial]`: no other marked test runs at the same time. `#[serial(a, b)]`: no test
/// sharing one of the keys runs at the same time.
#[proc_macro_attribute]
pub fn serial(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Serial, args.into(), item.into()).into()
}

/// `#[parallel_safe]`: the test may run beside any other test.
#[proc_macro_attribute]
pub fn parallel_safe(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::ParallelSafe, args.into(), item.into()).into()
}

/// `#[resource_intensive]` / `#[resource_intensive(slots = N)]`: the test occupies N
/// worker slots while it runs.
#[proc_macro_attribute]
pub fn resource_intensive(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::ResourceIntensive, args.into(), item.into()).into()
}

/// `#[group("name")]`: every test of the group runs on one worker.
#[proc_macro_attribute]
pub fn group(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Group, args.into(), item.into()).into()
}
