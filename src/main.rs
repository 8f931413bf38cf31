//! The `keyward` command line.
fn main() {}
