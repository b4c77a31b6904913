//! Two WebSocket controllers on one server and path fail boot with one line naming the route.

use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[ws_controller(server = "ws", path = "/chat")]
pub struct FirstChat;

impl WebSocketHandler for FirstChat {}

mod elsewhere {
    use ws_core::prelude::*;

    #[ws_controller(server = "ws", path = "/chat")]
    pub(crate) struct SecondChat;

    impl WebSocketHandler for SecondChat {}
}

#[tokio::test]
async fn boot_names_the_route_and_the_second_controller() {
    let error = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("boot fails");
    // `inventory` gives no order, so either controller may be the second.
    let message = error.to_string();
    let expected = ["SecondChat", "FirstChat"].map(|second| {
        format!(
            "route error: two controllers on server `ws` route `/chat` (the second is `{second}`)"
        )
    });
    assert!(expected.contains(&message), "{message}");
}
