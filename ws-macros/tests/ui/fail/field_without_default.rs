use ws_core::prelude::*;

pub struct Pool;

#[component]
pub struct Database {
    pool: Pool,
}

fn main() {}
