//! The Socket.IO chat example in a real headless Chromium, with the official `socket.io-client`
//! bundle the app serves: an empty nickname refused with `connect_error` and the refusal shown,
//! two users in two browser contexts, the join notice, a message from one seen by the other and
//! marked delivered by its acknowledgement, a move to another room, and the leave notice
//! `on_disconnect` sends from the socket's data when a page closes.
//!
//! Needs Debian's `chromium` (`.ci/install.d/chromium.sh`; `$CHROMIUM` names another binary).
//! Without it the test fails under `CI=true`; elsewhere it is a skip the run shows. The
//! screenshot goes to `<target dir>/test-output/socketio-chat.png`.

use std::time::Duration;

use serde_json::json;
use support::browser::{Cdp, Chromium, Page, find_chromium};
use support::skip::skip;
use support::socketio_chat::SocketIoChatProcess;
use support::target_dir;
use ws_core::testing::http_request;

const STEP: Duration = Duration::from_secs(15);

/// A JS expression: whether `#log` holds a line of class `kind` whose text contains `needle`.
fn has_line(kind: &str, needle: &str) -> String {
    format!(
        "[...document.querySelectorAll('#log .line.{kind}')].some(l => l.textContent.includes({}))",
        json!(needle)
    )
}

/// The page's visible log and status, for failure messages.
async fn page_text(page: &Page) -> String {
    page.eval(
        "'status: ' + document.querySelector('#status').textContent + \
         '\\nlogin error: ' + document.querySelector('#login-error').textContent + '\\n' + \
         [...document.querySelectorAll('#log .line')].map(l => l.className + ': ' + l.textContent).join('\\n')",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Waits for `expression` on `page`; on timeout panics with the page's log and console.
async fn expect(page: &Page, who: &str, expression: &str) {
    if let Err(error) = page.wait_for(expression, STEP).await {
        panic!(
            "{who}: {error}\n--- {who}'s page ---\n{}\n--- {who}'s console ---\n{}",
            page_text(page).await,
            page.console().join("\n")
        );
    }
}

/// Opens the page in a fresh browser context and waits for the nickname form.
async fn open(cdp: &Cdp, url: &str, who: &str) -> Page {
    let page = cdp.new_page().await;
    page.navigate(url).await;
    expect(&page, who, "!document.querySelector('#login').hidden").await;
    page
}

/// Types `nickname` into the form and waits until the page is online in `#lobby`.
async fn enter(page: &Page, nickname: &str) {
    page.type_and_enter("#nickname-input", nickname).await;
    expect(
        page,
        nickname,
        "document.querySelector('#status').dataset.state === 'online'",
    )
    .await;
    expect(
        page,
        nickname,
        &has_line("notice", &format!("{nickname} joined #lobby")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_over_socketio() {
    let Some(chromium) = find_chromium() else {
        skip(
            "the Socket.IO chat in a real browser",
            "Chromium is missing (.ci/install.d/chromium.sh installs Debian's `chromium`; \
             CHROMIUM names another binary)",
        );
        return;
    };
    let chat = tokio::task::spawn_blocking(SocketIoChatProcess::start)
        .await
        .expect("the chat starts");
    let started = std::time::Instant::now();
    let browser = Chromium::launch(&chromium);
    let scenario = tokio::time::timeout(Duration::from_secs(90), scenario(&browser, &chat)).await;
    if scenario.is_err() {
        panic!(
            "the browser scenario took over 90 s; the app's output:\n{}\nChromium's stderr:\n{}",
            chat.process.output(),
            browser.stderr_text()
        );
    }
    eprintln!("browser scenario: {:.1} s", started.elapsed().as_secs_f64());
}

async fn scenario(browser: &Chromium, chat: &SocketIoChatProcess) {
    // The vendored client is served by the app, as JavaScript, with its licence next to it.
    let (status, body) =
        http_request(chat.http, "GET", "/static/vendor/socket.io.min.js", &[], "").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("/*!\n * Socket.IO v4.8."),
        "not the Socket.IO bundle: {:?}",
        body.chars().take(80).collect::<String>()
    );
    let (status, body) = http_request(chat.http, "GET", "/static/vendor/LICENSE", &[], "").await;
    assert_eq!(status, 200);
    assert!(body.contains("MIT License"), "{body}");

    let url = chat.page_url();
    let cdp = browser.connect().await;
    let alice = open(&cdp, &url, "alice").await;
    let script_type = alice
        .eval("fetch('/static/vendor/socket.io.min.js').then(r => r.headers.get('content-type'))")
        .await;
    assert_eq!(script_type, json!("text/javascript; charset=utf-8"));

    // An empty nickname: `on_connect` refuses it, the page shows the `connect_error` message.
    alice.type_and_enter("#nickname-input", "").await;
    expect(
        &alice,
        "alice",
        "document.querySelector('#login-error').textContent === 'refused: pick a nickname first'",
    )
    .await;
    expect(
        &alice,
        "alice",
        "document.querySelector('#status').dataset.state === 'refused'",
    )
    .await;

    // Then a real one, on the same socket object with a new `auth`.
    enter(&alice, "alice").await;
    let bob = open(&cdp, &url, "bob").await;
    enter(&bob, "bob").await;
    expect(&alice, "alice", &has_line("notice", "bob joined #lobby")).await;
    // `join`'s acknowledgement counted the room's members.
    expect(&bob, "bob", &has_line("info", "1 other in #lobby")).await;

    // bob writes: alice reads it with bob's name; bob's own line turns delivered on the ack.
    bob.type_and_enter("#message-input", "hello from bob").await;
    let from_bob = "[...document.querySelectorAll('#log .line.message')].some(l => \
                    l.querySelector('.from').textContent === 'bob' && \
                    l.querySelector('.text').textContent === 'hello from bob')";
    expect(&alice, "alice", from_bob).await;
    expect(
        &bob,
        "bob",
        "[...document.querySelectorAll('#log .line.message.mine.delivered')].some(l => \
         l.querySelector('.text').textContent === 'hello from bob' && \
         l.querySelector('.state').textContent === '✓ delivered')",
    )
    .await;
    alice.type_and_enter("#message-input", "ça va, bob?").await;
    expect(&bob, "bob", &has_line("message", "ça va, bob?")).await;
    expect(
        &alice,
        "alice",
        &has_line("message.mine.delivered", "ça va, bob?"),
    )
    .await;

    // bob moves to #rust (the lobby hears him leave), alice follows him.
    bob.type_and_enter("#join-input", "rust").await;
    expect(&bob, "bob", &has_line("notice", "bob joined #rust")).await;
    expect(&alice, "alice", &has_line("notice", "bob left #lobby")).await;
    alice.type_and_enter("#join-input", "rust").await;
    expect(&bob, "bob", &has_line("notice", "alice joined #rust")).await;
    expect(
        &alice,
        "alice",
        "document.querySelector('#room-title').textContent === '#rust'",
    )
    .await;

    // bob closes his tab: `on_disconnect` still reads his nickname and room from the socket's
    // data and tells the room.
    bob.close().await;
    expect(&alice, "alice", &has_line("notice", "bob left #rust")).await;

    let exceptions = alice.exceptions();
    assert!(exceptions.is_empty(), "alice's page threw: {exceptions:#?}");
    let shot = target_dir().join("test-output").join("socketio-chat.png");
    alice.screenshot(&shot).await;
    eprintln!("screenshot: {}", shot.display());
}
