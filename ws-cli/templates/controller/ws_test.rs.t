//! `{{struct_name}}` end to end: server `{{server}}`, path `{{path}}`.

use ws_core::App;
use ws_core::testing::TestServer;

#[tokio::test]
async fn {{module}}_echoes_every_message() {
    let mut app = App::new();
    {{crate_name}}::setup(&mut app);
    let server = TestServer::start(app, include_str!("../config/server.toml"))
        .await
        .expect("the app boots");
    let mut client = server.connect("{{server}}", "{{test_path}}").await;
    client.send("hi").await;
    client.assert_push("hi").await;
    client.close().await;
    server.shutdown().await;
}
