use ws_core::prelude::*;

#[controller]
pub struct TupleController(#[inject] Sender, #[value("app.name")] String);

fn main() {}
