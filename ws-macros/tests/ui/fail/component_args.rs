use ws_core::prelude::*;

#[component(scope = "singleton")]
pub struct Cache;

fn main() {}
