//! A controller routed on a server the config does not define fails boot with one line.
//! (Each boot failure is its own test binary: `inventory` registrations are per binary.)

use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[ws_controller(server = "chat", path = "/lobby")]
pub struct LobbyController;

impl WebSocketHandler for LobbyController {}

#[tokio::test]
async fn boot_names_the_controller_route_and_server() {
    let error = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("boot fails");
    assert_eq!(
        error.to_string(),
        "route error: `LobbyController` routes `/lobby` on server `chat`, which the config does not define"
    );
}
