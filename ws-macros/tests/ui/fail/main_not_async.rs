#[ws_core::main]
fn main() {}
