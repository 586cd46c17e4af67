use xpar_harness::{group, serial};

#[serial]
struct Shared;

#[group("g")]
const LIMIT: u32 = 3;

#[serial(db)]
fn declared_only();

fn main() {}
