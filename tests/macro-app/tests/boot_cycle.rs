//! Two components that inject each other fail boot naming the cycle.
#![allow(dead_code)] // The fields exist to be injected; boot fails before any is read.

use std::sync::Arc;

use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[component]
pub struct AuthService {
    #[inject]
    sessions: Arc<SessionStore>,
}

#[component]
pub struct SessionStore {
    #[inject]
    auth: Arc<AuthService>,
}

#[ws_controller(server = "ws", path = "/")]
pub struct LoginController {
    #[inject]
    auth: Arc<AuthService>,
}

impl WebSocketHandler for LoginController {}

#[tokio::test]
async fn boot_names_the_cycle() {
    let error = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("boot fails");
    assert_eq!(
        error.to_string(),
        "injection error: dependency cycle: AuthService -> SessionStore -> AuthService"
    );
}
