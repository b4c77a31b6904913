//! The macro-mode app booted in-process, driven by real clients over TCP.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use ws_core::testing::{TestClient, TestServer, http_request};
use ws_core::{App, Message, RouteInfo};

async fn boot() -> TestServer {
    TestServer::start(app(), macro_app::CONFIG)
        .await
        .expect("the app boots")
}

fn app() -> App {
    let mut app = App::new();
    macro_app::routes(&mut app);
    app
}

/// An HTTP request with a `Content-Type`.
async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let addr = server.app().addr("http").expect("an http server");
    http_request(addr, method, path, &[("Content-Type", content_type)], body).await
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Connects to `/chat` and returns the client and its fd, read from the greeting.
async fn chat(server: &TestServer) -> (TestClient, String) {
    let mut client = server.connect("ws", "/chat").await;
    let greeting = client.recv().await.expect("a greeting");
    let text = greeting.to_text().expect("text").to_string();
    // "Welcome <fd> (max 3 rooms)": the `#[value]` field and the `#[value]` of a component.
    let mut words = text.split(' ');
    assert_eq!(words.next(), Some("Welcome"), "{text}");
    let fd = words.next().expect("an fd").to_string();
    assert_eq!(words.collect::<Vec<_>>().join(" "), "(max 3 rooms)");
    (client, fd)
}

#[test]
fn route_table_holds_macro_routes_of_every_module_and_config_routes() {
    let table = app().route_table();
    let row = |server: &str, methods: &str, path: &str, controller: &str, mode: &str| RouteInfo {
        server: server.into(),
        methods: methods.into(),
        path: path.into(),
        controller: controller.into(),
        mode: mode.into(),
    };
    for expected in [
        row("ws", "WS", "/chat", "ChatController", "macro"),
        row("ws", "WS", "/", "EchoController", "macro"),
        row("ws", "WS", "/config/silent", "Silent", "config"),
        row(
            "http",
            "GET|POST|HEAD",
            "/server/send",
            "ServerController::send",
            "macro",
        ),
        row("http", "GET|HEAD", "/config/ping", "closure", "config"),
        row(
            "http",
            "POST",
            "/admin/users",
            "UserController::create",
            "macro",
        ),
        row(
            "http",
            "GET",
            "/admin/users/{id}",
            "UserController::show",
            "macro",
        ),
        row(
            "http",
            "PUT|PATCH",
            "/admin/users/{id}/rename",
            "UserController::rename",
            "macro",
        ),
        row(
            "http",
            "DELETE",
            "/admin/users/{id}",
            "UserController::remove",
            "macro",
        ),
    ] {
        assert!(
            table.contains(&expected),
            "missing {expected:?} in {table:#?}"
        );
    }
    // Helpers of the `#[auto_routes]` impl are not routes.
    assert!(
        !table
            .iter()
            .any(|r| r.path.contains("greet") || r.path.contains("internal")),
        "{table:#?}"
    );
    assert_eq!(
        table
            .iter()
            .filter(|r| r.path.starts_with("/server/"))
            .count(),
        8,
        "{table:#?}"
    );
}

#[tokio::test]
async fn ws_controller_greets_with_injected_values_and_echoes() {
    let server = boot().await;
    let (mut client, _fd) = chat(&server).await;
    client.send("hi").await;
    client.assert_push("Recv: hi").await;
    client.close().await;

    let mut echo = server.connect("ws", "/").await;
    echo.send(Message::binary(vec![1, 2, 3])).await;
    echo.assert_push(Message::binary(vec![1, 2, 3])).await;
    echo.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn ws_controller_selects_a_declared_subprotocol() {
    let server = boot().await;
    let mut request = server
        .ws_url("ws", "/chat")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "chat.v9, chat.v1, chat.v2".parse().expect("a header"),
    );
    let (mut client, response) = TestClient::connect_request(request)
        .await
        .expect("accepted");
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
    assert!(client.recv().await.is_some());
    client.close().await;

    let mut request = server
        .ws_url("ws", "/chat")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "chat.v9".parse().expect("a header"),
    );
    match TestClient::connect_request(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("expected a 400, got {:?}", other.map(|(_, r)| r.status())),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn auto_routes_push_and_disconnect_through_the_injected_sender() {
    let server = boot().await;
    let (mut client, fd) = chat(&server).await;

    assert_eq!(
        server.get("http", &format!("/server/send?fd={fd}")).await,
        (200, String::new())
    );
    client.assert_push("Hello World.").await;
    // The same route on POST, with the fd in a form body.
    let (status, _) = send(
        &server,
        "POST",
        "/server/send",
        "application/x-www-form-urlencoded",
        &format!("fd={fd}"),
    )
    .await;
    assert_eq!(status, 200);
    client.assert_push("Hello World.").await;

    assert_eq!(
        server
            .get("http", &format!("/server/close?fd={fd}"))
            .await
            .0,
        200
    );
    client.assert_closed(1000).await;

    // `Result<_, ws_core::Error>` holding `SendError::NotConnected` answers 404.
    let (status, body) = server.get("http", &format!("/server/send?fd={fd}")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        json(&body)["error"],
        format!("connection {fd} is not connected")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn parameters_bind_from_path_query_form_and_json() {
    let server = boot().await;
    // Query.
    assert_eq!(
        server.get("http", "/server/hello?name=Ada%20L").await,
        (200, "Hello, Ada L!".into())
    );
    // Form.
    let form = send(
        &server,
        "POST",
        "/server/hello",
        "application/x-www-form-urlencoded",
        "name=Bob",
    )
    .await;
    assert_eq!(form, (200, "Hello, Bob!".into()));
    // JSON body, typed.
    let (status, body) = send(
        &server,
        "POST",
        "/server/sum",
        "application/json",
        r#"{"a": 2, "b": -5}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body), serde_json::json!({"a": 2, "b": -5, "sum": -3}));
    // Query, typed.
    assert_eq!(
        json(&server.get("http", "/server/sum?a=40&b=2").await.1)["sum"],
        42
    );
    // Optional.
    assert_eq!(
        server.get("http", "/server/maybe").await,
        (200, "Hello, stranger!".into())
    );
    assert_eq!(
        server.get("http", "/server/maybe?name=Cy").await,
        (200, "Hello, Cy!".into())
    );
    // Path parameters, in a nested module's controller.
    let (status, body) = send(
        &server,
        "POST",
        "/admin/users",
        "application/json",
        r#"{"name": "Ada", "age": 36}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = json(&body)["id"].as_u64().expect("an id");
    let (status, body) = server.get("http", &format!("/admin/users/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"id": id, "name": "Ada", "age": 36})
    );
    let (status, body) = server
        .http(
            "http",
            "PATCH",
            &format!("/admin/users/{id}/rename?name=Grace"),
            "",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let renamed = json(&body)["id"].as_u64().expect("an id");
    assert_eq!(json(&body)["name"], "Grace");
    assert_eq!(
        server
            .http("http", "DELETE", &format!("/admin/users/{renamed}"), "")
            .await
            .0,
        204
    );
    let (status, body) = server.get("http", &format!("/admin/users/{renamed}")).await;
    assert_eq!(
        (status, json(&body)["error"].clone()),
        (404, format!("no user {renamed}").into())
    );
}

#[tokio::test]
async fn missing_and_malformed_parameters_answer_400_naming_them() {
    let server = boot().await;
    let (status, body) = server.get("http", "/server/hello").await;
    assert_eq!(
        (status, json(&body)["error"].clone()),
        (400, "missing parameter `name`".into())
    );

    let (status, body) = server.get("http", "/server/sum?a=x&b=1").await;
    assert_eq!(status, 400, "{body}");
    let message = json(&body)["error"]
        .as_str()
        .expect("a message")
        .to_string();
    assert!(message.starts_with("invalid parameter `a`"), "{message}");

    let (status, body) = server.get("http", "/server/sum?a=1").await;
    assert_eq!(
        (status, json(&body)["error"].clone()),
        (400, "missing parameter `b`".into())
    );

    let (status, body) = server.get("http", "/admin/users/abc").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .expect("a message")
            .starts_with("invalid parameter `id`"),
        "{body}"
    );

    let (status, body) = send(
        &server,
        "POST",
        "/admin/users",
        "application/json",
        r#"{"name": "Ada", "age": 300}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        json(&body)["error"]
            .as_str()
            .expect("a message")
            .starts_with("invalid parameter `age`"),
        "{body}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn return_types_methods_and_the_request_parameter() {
    let server = boot().await;
    assert_eq!(
        server.get("http", "/server/created?name=x").await,
        (201, "created x".into())
    );
    assert_eq!(
        send(&server, "POST", "/server/echo", "text/plain", "body!").await,
        (200, "POST /server/echo body!".into())
    );
    // Auto routes answer GET, POST and HEAD; nothing else.
    assert_eq!(
        server.http("http", "HEAD", "/server/maybe", "").await,
        (200, String::new())
    );
    let (status, _) = server.http("http", "PUT", "/server/maybe", "").await;
    assert_eq!(status, 405);
    // `#[get]` routes answer HEAD too; `#[post]` ones do not answer GET.
    assert_eq!(
        server.http("http", "HEAD", "/admin/users/1", "").await.0,
        404
    );
    assert_eq!(server.get("http", "/admin/users").await.0, 405);
    // The config-mode route next to the macro ones.
    assert_eq!(
        server.get("http", "/config/ping").await,
        (200, "pong".into())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn components_are_singletons_shared_by_every_controller() {
    let server = boot().await;
    assert_eq!(server.get("http", "/server/hits").await.1, "1");
    // `ChatController` and `UserStore` inject the same `Counter`.
    let (client, _fd) = chat(&server).await;
    let (status, _) = send(
        &server,
        "POST",
        "/admin/users",
        "application/x-www-form-urlencoded",
        "name=Ada&age=36",
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(server.get("http", "/server/hits").await.1, "4");
    client.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_config_mode_ws_route_lives_next_to_macro_ones() {
    let server = boot().await;
    let mut client = server.connect("ws", "/config/silent").await;
    client.send("anyone?").await;
    client.close().await;
    let mut client = server.connect("ws", "/").await;
    client.send("still here").await;
    assert_eq!(
        client.stream().next().await.and_then(Result::ok),
        Some(Message::text("still here"))
    );
    server.shutdown().await;
}
