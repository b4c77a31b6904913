//! Logs as a process writes them: `[log] format = "json"` (here through `WS_LOG_FORMAT`) gives
//! one JSON object per line, and every event of a connection carries its fd.

use std::time::{Duration, Instant};

use serde_json::Value;
use support::SeedProcess;
use ws_core::testing::TestClient;

/// The JSON lines the process printed so far; any other line fails the test.
fn json_lines(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}

#[tokio::test]
async fn json_logs_carry_the_fd_on_every_connection_event() {
    let seed = tokio::task::spawn_blocking(|| {
        SeedProcess::start(&[
            ("WS_LOG_FORMAT", "json"),
            ("RUST_LOG", "info,ws_core=debug"),
        ])
    })
    .await
    .expect("the seed starts");

    let startup = json_lines(&seed.process.output());
    let listening = startup
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("WebSocket Server listening at"))
        })
        .unwrap_or_else(|| panic!("no listening line in {startup:#?}"));
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string(), "{listening}");

    // `/` logs `closed` from the app's `on_close`; ws-core logs `connection closed`.
    let mut client = TestClient::connect(&seed.ws_url("/")).await;
    client.assert_push("Opened").await;
    client.close().await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines = json_lines(&seed.process.output());
        let messages: Vec<&str> = lines
            .iter()
            .filter_map(|l| l["fields"]["message"].as_str())
            .collect();
        if messages.contains(&"closed") && messages.contains(&"connection closed") {
            break lines;
        }
        assert!(Instant::now() < deadline, "no close events in {lines:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let connection_events: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "connection")
        .collect();
    assert!(connection_events.len() >= 2, "{lines:#?}");
    let fd = connection_events[0]["span"]["fd"]
        .as_str()
        .expect("the span's fd")
        .to_string();
    for event in &connection_events {
        // The span names the fd, server and route; the framework's events also carry it as a
        // field of their own.
        assert_eq!(event["span"]["fd"], fd.as_str(), "{event}");
        assert_eq!(event["span"]["server"], "ws", "{event}");
        assert_eq!(event["span"]["route"], "/", "{event}");
    }
    for message in ["closed", "connection closed"] {
        let event = connection_events
            .iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no {message:?} inside the connection span: {lines:#?}"));
        assert_eq!(event["fields"]["fd"], fd.as_str(), "{event}");
    }
}
