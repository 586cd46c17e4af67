use xpar_harness::{group, parallel_safe, resource_intensive, serial};

#[resource_intensive(slots = 0)]
#[test]
fn zero_slots() {}

#[resource_intensive(threads = 2)]
#[test]
fn unknown_argument() {}

#[group]
#[test]
fn group_without_name() {}

#[group(g1)]
#[test]
fn group_name_not_a_string() {}

#[serial("db")]
#[test]
fn key_not_an_identifier() {}

#[serial(db, db)]
#[test]
fn key_twice() {}

#[parallel_safe(always)]
#[test]
fn parallel_safe_with_arguments() {}

fn main() {}
