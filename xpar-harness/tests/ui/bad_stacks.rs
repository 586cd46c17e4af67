use xpar_harness::{group, parallel_safe, serial};

#[serial]
#[parallel_safe]
#[test]
fn serial_and_parallel_safe() {}

#[serial(a)]
#[test]
#[serial(b)]
fn serial_twice() {}

#[group("g1")]
#[xpar_harness::resource_intensive(slots = 0)]
#[test]
fn stacked_bad_argument() {}

fn main() {}
