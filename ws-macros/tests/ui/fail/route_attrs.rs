use ws_core::prelude::*;

#[controller]
pub struct UserController;

#[routes]
impl UserController {
    #[get]
    async fn a(&self) {}

    #[post(path = "/b")]
    async fn b(&self) {}

    #[put("c")]
    async fn c(&self) {}

    #[route(path = "/d")]
    async fn d(&self) {}

    #[route(path = "/e", methods = ["FETCH", "get", "GET"], method = "x")]
    async fn e(&self) {}

    #[route(path = "/f", methods = [])]
    async fn f(&self) {}

    #[get("/same")]
    async fn first(&self) {}

    #[get("/same")]
    async fn second(&self) {}
}

fn main() {}
