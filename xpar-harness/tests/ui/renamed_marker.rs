use xpar_harness::serial as exclusive;
use xpar_harness::group;

// The first marker cannot tell that `exclusive` is `serial`, so both rewrite the test.
#[group("g1")]
#[exclusive]
#[test]
fn renamed() {}

fn main() {}
