//! `{{struct_name}}` end to end: server `{{server}}`, prefix `{{prefix}}`.

use ws_core::App;
use ws_core::testing::TestServer;

#[tokio::test]
async fn {{module}}_answers_its_routes() {
    let mut app = App::new();
    {{crate_name}}::setup(&mut app);
    let server = TestServer::start(app, include_str!("../config/server.toml"))
        .await
        .expect("the app boots");

    let (status, body) = server.get("{{server}}", "{{index_path}}").await;
    assert_eq!((status, body.as_str()), (200, "0"));

    // A parameter that is missing is a 400 naming it.
    let (status, body) = server.get("{{server}}", "{{push_path}}?msg=hi").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("fd"), "{body}");

    server.shutdown().await;
}
