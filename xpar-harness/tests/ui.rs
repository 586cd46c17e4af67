//! Compile errors of the markers: each misuse in `tests/ui/*.rs` must fail to compile
//! with the message and span recorded beside it in the `.stderr` file.

#[test]
fn misused_markers_fail_to_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
