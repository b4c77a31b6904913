//! The chat example in a real headless Chromium: two users in two browser contexts (separate
//! cookies), the join notice, a message from one seen by the other, a system message posted over
//! HTTP, the page reconnecting after a server restart, and the history a late user gets.
//!
//! Needs Debian's `chromium` (`.ci/install.d/chromium.sh`; `$CHROMIUM` names another binary).
//! Without it the test fails under `CI=true`; elsewhere it is a skip the run shows. The
//! screenshot goes to `<target dir>/test-output/chat.png`.

use std::time::Duration;

use serde_json::json;
use support::browser::{Chromium, Page, find_chromium};
use support::chat::ChatProcess;
use support::skip::skip;
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

/// Clicks the element `selector` of `page`.
async fn click(page: &Page, selector: &str) {
    let clicked = page
        .eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            json!(selector)
        ))
        .await;
    assert_eq!(clicked, json!(true), "no element {selector}");
}

/// A JS expression: whether `#log` holds at least `n` lines of class `kind` containing `needle`.
fn count_lines(kind: &str, needle: &str, n: usize) -> String {
    format!(
        "[...document.querySelectorAll('#log .line.{kind}')].filter(l => l.textContent.includes({})).length >= {n}",
        json!(needle)
    )
}

/// The page's visible log, for failure messages.
async fn log_text(page: &Page) -> String {
    page.eval(
        "[...document.querySelectorAll('#log .line')].map(l => l.className + ': ' + l.textContent).join('\\n')",
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
            "{who}: {error}\n--- {who}'s log ---\n{}\n--- {who}'s console ---\n{}",
            log_text(page).await,
            page.console().join("\n")
        );
    }
}

/// Opens the page in a fresh browser context, types `nickname` into the form, and waits until
/// it is online in `#lobby`.
async fn enter(cdp: &support::browser::Cdp, url: &str, nickname: &str) -> Page {
    let page = cdp.new_page().await;
    page.navigate(url).await;
    expect(&page, nickname, "!document.querySelector('#login').hidden").await;
    page.type_and_enter("#nickname-input", nickname).await;
    expect(
        &page,
        nickname,
        "document.querySelector('#status').dataset.state === 'online'",
    )
    .await;
    expect(
        &page,
        nickname,
        &format!(
            "document.querySelector('#me').textContent === {}",
            json!(nickname)
        ),
    )
    .await;
    expect(
        &page,
        nickname,
        &has_line("notice", &format!("{nickname} joined #lobby")),
    )
    .await;
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_through_the_app() {
    let Some(chromium) = find_chromium() else {
        skip(
            "the chat in a real browser",
            "Chromium is missing (.ci/install.d/chromium.sh installs Debian's `chromium`; \
             CHROMIUM names another binary)",
        );
        return;
    };
    let chat = tokio::task::spawn_blocking(ChatProcess::start)
        .await
        .expect("the chat starts");
    let started = std::time::Instant::now();
    let browser = Chromium::launch(&chromium);
    let scenario = tokio::time::timeout(Duration::from_secs(150), scenario(&browser, chat)).await;
    if scenario.is_err() {
        panic!(
            "the browser scenario took over 150 s; Chromium's stderr:\n{}",
            browser.stderr_text()
        );
    }
    eprintln!("browser scenario: {:.1} s", started.elapsed().as_secs_f64());
}

async fn scenario(browser: &Chromium, chat: ChatProcess) {
    let url = chat.page_url();
    let cdp = browser.connect().await;

    // Two users, each with their own cookie jar; alice sees bob arrive.
    let alice = enter(&cdp, &url, "alice").await;
    let bob = enter(&cdp, &url, "bob").await;
    expect(&alice, "alice", &has_line("notice", "bob joined #lobby")).await;

    // The cookie went to the server with the handshake and came back in `welcome`.
    let cookie = bob.eval("document.cookie").await;
    assert_eq!(cookie, json!("nickname=bob"));

    // Chromium offered permessage-deflate and the server accepted it, without context takeover.
    let extensions = bob
        .eval("document.querySelector('#status').dataset.extensions")
        .await;
    let extensions = extensions.as_str().unwrap_or_default();
    assert!(
        extensions.starts_with("permessage-deflate")
            && extensions.contains("server_no_context_takeover"),
        "negotiated extensions: {extensions:?}"
    );

    // bob writes, alice reads it with bob's name; bob sees his own line marked as his.
    bob.type_and_enter("#message-input", "hello from bob").await;
    let from_bob = "[...document.querySelectorAll('#log .line.message')].some(l => \
                    l.querySelector('.from').textContent === 'bob' && \
                    l.querySelector('.text').textContent === 'hello from bob')";
    expect(&alice, "alice", from_bob).await;
    expect(
        &bob,
        "bob",
        "!!document.querySelector('#log .line.message.mine')",
    )
    .await;
    alice.type_and_enter("#message-input", "ça va, bob?").await;
    expect(&bob, "bob", &has_line("message", "ça va, bob?")).await;

    // A system message posted over HTTP reaches both pages through `Sender::to_room`.
    let (status, body) = http_request(
        chat.http,
        "POST",
        "/chat/system",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "room=lobby&text=Maintenance+at+17%3A00",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(reply["delivered"], 2, "{body}");
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        expect(page, who, &has_line("system", "Maintenance at 17:00")).await;
    }

    // A second room: join and leave notices there, and an unread badge for the room not shown.
    alice.type_and_enter("#join-input", "rust").await;
    expect(&alice, "alice", &has_line("notice", "alice joined #rust")).await;
    bob.type_and_enter("#join-input", "rust").await;
    expect(&alice, "alice", &has_line("notice", "bob joined #rust")).await;
    click(&bob, "#rooms li[data-room='rust'] .leave").await;
    expect(&alice, "alice", &has_line("notice", "bob left #rust")).await;
    expect(
        &bob,
        "bob",
        "document.querySelector('#room-title').textContent === '#lobby'",
    )
    .await;
    bob.type_and_enter("#message-input", "psst, lobby").await;
    expect(
        &alice,
        "alice",
        "document.querySelector(\"#rooms li[data-room='lobby'] .unread\")?.textContent === '1'",
    )
    .await;
    click(&alice, "#rooms li[data-room='lobby'] .open").await;
    expect(&alice, "alice", &has_line("message", "psst, lobby")).await;

    // The server restarts on the same ports: both pages notice, back off, reconnect, rejoin.
    let (http_port, ws_port) = (chat.http.port(), chat.ws.port());
    let stopped = tokio::task::spawn_blocking(move || chat.stop())
        .await
        .expect("stop");
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        expect(
            page,
            who,
            "document.querySelector('#status').dataset.state !== 'online'",
        )
        .await;
    }
    let chat = tokio::task::spawn_blocking(move || ChatProcess::start_on(http_port, ws_port, None))
        .await
        .expect("the chat restarts");
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        expect(
            page,
            who,
            "document.querySelector('#status').dataset.state === 'online'",
        )
        .await;
        expect(page, who, &has_line("error", "connection lost")).await;
    }
    // Rejoined every room: each page saw its own second join notices; then a message crosses.
    for (page, who) in [(&alice, "alice"), (&bob, "bob")] {
        expect(
            page,
            who,
            &count_lines("notice", &format!("{who} joined #lobby"), 2),
        )
        .await;
    }
    click(&alice, "#rooms li[data-room='rust'] .open").await;
    expect(
        &alice,
        "alice",
        &count_lines("notice", "alice joined #rust", 2),
    )
    .await;
    click(&alice, "#rooms li[data-room='lobby'] .open").await;
    bob.type_and_enter("#message-input", "back again").await;
    expect(&alice, "alice", &has_line("message", "back again")).await;

    // A late user gets the room's history (kept by the restarted server) when joining.
    let carol = enter(&cdp, &url, "carol").await;
    expect(&carol, "carol", &has_line("message", "back again")).await;
    expect(&alice, "alice", &has_line("notice", "carol joined #lobby")).await;

    // Nothing on any page threw.
    for (page, who) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        let exceptions = page.exceptions();
        assert!(exceptions.is_empty(), "{who}'s page threw: {exceptions:#?}");
    }

    let shot = target_dir().join("test-output").join("chat.png");
    alice.screenshot(&shot).await;
    bob.screenshot(&shot.with_file_name("chat-bob.png")).await;
    eprintln!("screenshots: {} and chat-bob.png", shot.display());
    drop(chat);
}
