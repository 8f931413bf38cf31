//! Request-path benchmarks.
fn main() {}
