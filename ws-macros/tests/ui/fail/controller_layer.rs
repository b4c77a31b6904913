use ws_core::prelude::*;

// `layer` takes a path to a function, not a call or a string.
#[controller(prefix = "/a", layer = "cors")]
pub struct A;

#[controller(prefix = "/b", layer = make_layer())]
pub struct B;

// A function that returns something other than a tower layer.
fn not_a_layer() -> u32 {
    7
}

#[controller(prefix = "/c", layer = not_a_layer)]
pub struct C;

fn main() {}
