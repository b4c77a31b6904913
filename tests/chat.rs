//! The chat example's protocol, as a real process driven by real WebSocket and HTTP clients: the
//! nickname cookie, rooms, join and leave notices, the last-N history, refusals, system messages
//! posted over HTTP, and the page's files. The browser side is `chat_browser.rs`.

use serde_json::{Value, json};
use support::chat::ChatProcess;
use support::free_port;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use ws_core::testing::{TestClient, http_request};

/// Connects to `/chat` with `cookie` (if any) and returns the client and its `welcome`.
async fn connect(chat: &ChatProcess, cookie: Option<&str>) -> (TestClient, Value) {
    let mut request = chat.ws_url().into_client_request().expect("a request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("Cookie", cookie.parse().expect("a header value"));
    }
    let (mut client, _) = TestClient::connect_request(request)
        .await
        .expect("the handshake succeeds");
    let welcome = recv(&mut client).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (client, welcome)
}

async fn recv(client: &mut TestClient) -> Value {
    let message = client.recv().await.expect("a message, not a close");
    let text = message.to_text().expect("a text message");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn send(client: &mut TestClient, value: Value) {
    client.send(value.to_string()).await;
}

/// Joins `room` and returns the history the server answers with, after checking the notice.
async fn join(client: &mut TestClient, room: &str, nickname: &str) -> Vec<Value> {
    send(client, json!({"type": "join", "room": room})).await;
    let history = recv(client).await;
    assert_eq!(history["type"], "history", "{history}");
    assert_eq!(history["room"], room);
    let notice = recv(client).await;
    assert_notice(&notice, room, "join", nickname);
    history["messages"].as_array().cloned().unwrap_or_default()
}

fn assert_notice(notice: &Value, room: &str, event: &str, nickname: &str) {
    assert_eq!(notice["type"], "notice", "{notice}");
    assert_eq!(notice["room"], room, "{notice}");
    assert_eq!(notice["event"], event, "{notice}");
    assert_eq!(notice["nickname"], nickname, "{notice}");
    let verb = if event == "join" { "joined" } else { "left" };
    assert_eq!(
        notice["text"],
        format!("{nickname} {verb} #{room}"),
        "{notice}"
    );
}

fn assert_line(line: &Value, id: u64, from: &str, text: &str, system: bool) {
    assert_eq!(line["type"], "message", "{line}");
    assert_eq!(line["id"], id, "{line}");
    assert_eq!(line["from"], from, "{line}");
    assert_eq!(line["text"], text, "{line}");
    assert_eq!(line["system"], system, "{line}");
    assert!(line["ts"].as_u64().is_some_and(|ts| ts > 0), "{line}");
}

async fn start(history: usize) -> ChatProcess {
    tokio::task::spawn_blocking(move || {
        ChatProcess::start_on(free_port(), free_port(), Some(history))
    })
    .await
    .expect("the chat starts")
}

#[tokio::test]
async fn nickname_comes_from_the_cookie_and_stays_with_the_connection() {
    let chat = start(50).await;
    let (alice, welcome) = connect(&chat, Some("theme=dark; nickname=Zo%C3%AB%20")).await;
    assert_eq!(welcome["nickname"], "Zoë");
    let (mut guest, welcome) = connect(&chat, None).await;
    let fd = welcome["fd"].as_str().expect("an fd");
    assert_eq!(welcome["nickname"], format!("guest-{fd}"));
    // "system" is reserved for messages posted over HTTP.
    let (impostor, welcome) = connect(&chat, Some("nickname=system")).await;
    assert!(
        welcome["nickname"]
            .as_str()
            .is_some_and(|n| n.starts_with("guest-")),
        "{welcome}"
    );

    // The nickname is read once, on open, and used for every line of the connection.
    join(&mut guest, "lobby", &format!("guest-{fd}")).await;
    send(
        &mut guest,
        json!({"type": "message", "room": "lobby", "text": " hi "}),
    )
    .await;
    assert_line(
        &recv(&mut guest).await,
        1,
        &format!("guest-{fd}"),
        "hi",
        false,
    );
    for client in [alice, guest, impostor] {
        client.close().await;
    }
}

#[tokio::test]
async fn rooms_notices_messages_and_the_last_n_lines_of_history() {
    let chat = start(3).await;
    let (mut alice, _) = connect(&chat, Some("nickname=alice")).await;
    let (mut bob, _) = connect(&chat, Some("nickname=bob")).await;
    assert!(join(&mut alice, "lobby", "alice").await.is_empty());
    assert!(join(&mut bob, "lobby", "bob").await.is_empty());
    assert_notice(&recv(&mut alice).await, "lobby", "join", "bob");

    // Five lines, everyone in the room gets each one (the author too), ids count up.
    for i in 1..=5u64 {
        let (author, name) = if i % 2 == 1 {
            (&mut alice, "alice")
        } else {
            (&mut bob, "bob")
        };
        send(
            author,
            json!({"type": "message", "room": "lobby", "text": format!("m{i}")}),
        )
        .await;
        assert_line(&recv(&mut alice).await, i, name, &format!("m{i}"), false);
        assert_line(&recv(&mut bob).await, i, name, &format!("m{i}"), false);
    }

    // A newcomer gets the last three (`[app] history = 3`), oldest first.
    let (mut carol, _) = connect(&chat, Some("nickname=carol")).await;
    let history = join(&mut carol, "lobby", "carol").await;
    let ids: Vec<u64> = history.iter().filter_map(|l| l["id"].as_u64()).collect();
    assert_eq!(ids, [3, 4, 5], "{history:?}");
    assert_line(&history[2], 5, "alice", "m5", false);
    for client in [&mut alice, &mut bob] {
        assert_notice(&recv(client).await, "lobby", "join", "carol");
    }

    // Rooms are separate: a line in #rust reaches only its members.
    join(&mut bob, "rust", "bob").await;
    send(
        &mut bob,
        json!({"type": "message", "room": "rust", "text": "borrowck"}),
    )
    .await;
    assert_line(&recv(&mut bob).await, 1, "bob", "borrowck", false);

    // Leaving: the others get a notice, the leaver no longer gets the room's lines.
    send(&mut carol, json!({"type": "leave", "room": "lobby"})).await;
    for client in [&mut alice, &mut bob] {
        assert_notice(&recv(client).await, "lobby", "leave", "carol");
    }
    send(
        &mut alice,
        json!({"type": "message", "room": "lobby", "text": "after carol"}),
    )
    .await;
    assert_line(&recv(&mut alice).await, 6, "alice", "after carol", false);
    assert_line(&recv(&mut bob).await, 6, "alice", "after carol", false);

    // Closing leaves every room, with a notice in each.
    bob.close().await;
    assert_notice(&recv(&mut alice).await, "lobby", "leave", "bob");

    // carol got nothing after she left: the next thing she reads is her own refusal.
    send(
        &mut carol,
        json!({"type": "message", "room": "lobby", "text": "still here?"}),
    )
    .await;
    let refusal = recv(&mut carol).await;
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["text"], "join #lobby before writing to it");
    alice.close().await;
    carol.close().await;
}

#[tokio::test]
async fn bad_requests_are_refused_and_the_connection_stays() {
    let chat = start(50).await;
    let (mut client, _) = connect(&chat, Some("nickname=eve")).await;
    for (request, expected) in [
        ("not json".to_string(), "not a chat request"),
        (json!({"type": "shout"}).to_string(), "not a chat request"),
        (
            json!({"type": "join", "room": "<b>x</b>"}).to_string(),
            "a room name is",
        ),
        (
            json!({"type": "message", "room": "lobby", "text": "x"}).to_string(),
            "join #lobby",
        ),
    ] {
        client.send(request.clone()).await;
        let refusal = recv(&mut client).await;
        assert_eq!(refusal["type"], "error", "{request}: {refusal}");
        let text = refusal["text"].as_str().unwrap_or_default();
        assert!(text.contains(expected), "{request}: {refusal}");
    }
    join(&mut client, "lobby", "eve").await;
    send(
        &mut client,
        json!({"type": "message", "room": "lobby", "text": "   "}),
    )
    .await;
    assert_eq!(recv(&mut client).await["text"], "the message is empty");
    let long = "x".repeat(2001);
    send(
        &mut client,
        json!({"type": "message", "room": "lobby", "text": long}),
    )
    .await;
    assert_eq!(
        recv(&mut client).await["text"],
        "a message is at most 2000 characters"
    );
    client.close().await;
}

#[tokio::test]
async fn system_messages_posted_over_http_reach_the_room_and_its_history() {
    let chat = start(50).await;
    let (mut alice, _) = connect(&chat, Some("nickname=alice")).await;
    join(&mut alice, "lobby", "alice").await;
    let (mut bob, _) = connect(&chat, Some("nickname=bob")).await;
    join(&mut bob, "lobby", "bob").await;
    assert_notice(&recv(&mut alice).await, "lobby", "join", "bob");

    // Query string.
    let (status, body) = http_request(
        chat.http,
        "POST",
        "/chat/system?room=lobby&text=Deploy%20at%205",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(reply, json!({"room": "lobby", "id": 1, "delivered": 2}));
    for client in [&mut alice, &mut bob] {
        assert_line(&recv(client).await, 1, "system", "Deploy at 5", true);
    }

    // Form body; a room nobody is in still keeps the line for whoever comes.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, body) = http_request(
        chat.http,
        "POST",
        "/chat/system",
        &form,
        "room=empty&text=first",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON")["delivered"],
        0
    );
    let history = join(&mut alice, "empty", "alice").await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_line(&history[0], 1, "system", "first", true);

    // Refused: a bad room, a missing text, and GET (only POST changes anything).
    for (method, target, status) in [
        ("POST", "/chat/system?room=a%20b&text=x", 400),
        ("POST", "/chat/system?room=lobby", 400),
        ("GET", "/chat/system?room=lobby&text=x", 405),
    ] {
        let (got, body) = http_request(chat.http, method, target, &[], "").await;
        assert_eq!(got, status, "{method} {target}: {body}");
    }
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn the_page_and_its_files_come_from_the_app() {
    let chat = start(50).await;
    let get = |path: &'static str| http_request(chat.http, "GET", path, &[], "");
    let (status, page) = get("/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<script src=\"/static/chat.js\" defer></script>"),
        "{page}"
    );
    // No CDN: every script and style is the app's own.
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let (status, script) = get("/static/chat.js").await;
    assert_eq!(status, 200);
    assert!(script.contains("new WebSocket("));
    assert_eq!(get("/static/chat.css").await.0, 200);
    assert_eq!(get("/static/favicon.svg").await.0, 200);
    assert_eq!(get("/static/server.toml").await.0, 404);
    assert_eq!(get("/static/..%2Fconfig%2Fserver.toml").await.0, 404);

    let (status, config) = get("/chat/config").await;
    assert_eq!(status, 200, "{config}");
    let config: Value = serde_json::from_str(&config).expect("JSON");
    assert_eq!(
        config,
        json!({"ws_url": null, "ws_port": chat.ws.port(), "ws_path": "/chat"})
    );

    // The content types a browser needs to run the page under `nosniff`.
    let addr = chat.http;
    let head = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        String::from_utf8_lossy(&raw).to_ascii_lowercase()
    };
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/static/chat.js", "text/javascript; charset=utf-8"),
        ("/static/chat.css", "text/css; charset=utf-8"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let response = head(path).await;
        assert!(
            response.contains(&format!("content-type: {content_type}\r\n")),
            "{path}: {response}"
        );
        assert!(
            response.contains("x-content-type-options: nosniff\r\n"),
            "{path}"
        );
    }
}
