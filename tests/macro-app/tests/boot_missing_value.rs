//! A `#[value]` whose key the config lacks fails boot naming the field and the key.
#![allow(dead_code)] // The fields exist to be injected; boot fails before any is read.

use ws_core::prelude::*;
use ws_core::testing::TestServer;

#[ws_controller(server = "ws", path = "/")]
pub struct GreeterController {
    #[value("app.greeting.text")]
    text: String,
}

impl WebSocketHandler for GreeterController {}

#[tokio::test]
async fn boot_names_the_field_and_the_key() {
    let error = TestServer::start(App::new(), TestServer::DEFAULT_CONFIG)
        .await
        .expect_err("boot fails");
    assert_eq!(
        error.to_string(),
        "injection error: `GreeterController.text` reads `app.greeting.text`, which the config does not define"
    );
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_it_too() {
    let config = format!(
        "{}\n[app.greeting]\ntext = 42\n",
        TestServer::DEFAULT_CONFIG
    );
    let error = TestServer::start(App::new(), &config)
        .await
        .expect_err("boot fails");
    assert_eq!(
        error.to_string(),
        "injection error: `GreeterController.text` reads `app.greeting.text`: invalid type: integer `42`, expected a string"
    );
}

#[tokio::test]
async fn with_the_value_it_boots() {
    let config = format!(
        "{}\n[app.greeting]\ntext = \"hi\"\n",
        TestServer::DEFAULT_CONFIG
    );
    let server = TestServer::start(App::new(), &config).await.expect("boots");
    server.shutdown().await;
}
