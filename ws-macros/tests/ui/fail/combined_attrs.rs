use ws_core::prelude::*;

#[component]
#[controller]
pub struct Both;

fn main() {}
