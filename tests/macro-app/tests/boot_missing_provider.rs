//! An `#[inject] Arc<T>` without a provider fails boot naming the type, field and controller.

use std::sync::Arc;

use ws_core::prelude::*;
use ws_core::testing::TestServer;

/// Not a `#[component]`, not provided.
pub struct NotAComponent;

#[controller]
pub struct UserController {
    #[inject]
    repo: Arc<NotAComponent>,
}

#[auto_routes]
impl UserController {
    pub async fn list(&self) -> &'static str {
        let _ = &self.repo;
        ""
    }
}

#[tokio::test]
async fn boot_names_the_type_the_field_and_the_controller() {
    let error = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("boot fails");
    assert_eq!(
        error.to_string(),
        "injection error: `UserController.repo`: no provider for `Arc<boot_missing_provider::NotAComponent>`; \
         mark `NotAComponent` with #[component] or call App::provide"
    );
}

#[tokio::test]
async fn app_provide_is_a_provider() {
    let mut app = App::new();
    app.provide(NotAComponent);
    let server = TestServer::start(app, TestServer::DEFAULT_CONFIG)
        .await
        .expect("boots");
    assert_eq!(server.get("http", "/user/list").await.0, 200);
    server.shutdown().await;
}
