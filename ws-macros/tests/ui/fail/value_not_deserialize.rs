use ws_core::prelude::*;

pub struct Pool;

#[component]
pub struct Database {
    #[value("app.database.pool")]
    pool: Pool,
}

fn main() {}
