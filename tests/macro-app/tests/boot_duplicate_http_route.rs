//! Two HTTP controllers answering the same method and path fail boot with one line.

use ws_core::prelude::*;

#[controller(prefix = "/api")]
pub struct OldApi;

#[routes]
impl OldApi {
    #[get("/users")]
    async fn users(&self) -> &'static str {
        "old"
    }
}

#[controller(prefix = "/api/users")]
pub struct NewApi;

#[auto_routes]
impl NewApi {
    // Different path: no conflict.
    pub async fn list(&self) -> &'static str {
        "new"
    }
}

#[routes]
impl NewApi {
    // `/api/users` + `/` is `/api/users`, on GET like `OldApi::users`.
    #[route(path = "/", methods = ["GET", "POST"])]
    async fn index(&self) -> &'static str {
        "new"
    }
}

#[tokio::test]
async fn boot_names_the_method_route_and_handler() {
    let error = ws_core::testing::TestServer::start(
        App::new(),
        ws_core::testing::TestServer::DEFAULT_CONFIG,
    )
    .await
    .expect_err("boot fails");
    let message = error.to_string();
    let expected = ["NewApi::index", "OldApi::users"]
        .map(|second| format!("route error: two controllers on server `http` route GET `/api/users` (the second is `{second}`)"));
    assert!(expected.contains(&message), "{message}");
}
