use ws_core::prelude::*;

pub struct Repository;

#[controller]
pub struct UserController {
    #[inject]
    name: String,
    #[inject]
    repository: Repository,
}

fn main() {}
