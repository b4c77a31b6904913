//! A real headless Chromium driven over the Chrome DevTools Protocol (CDP), for browser tests.
//!
//! The protocol is JSON over one WebSocket, so the client is small: commands carry an `id` and
//! get a reply with the same `id`; events carry a `method` and, for a page, its `sessionId`.
//! Each [`Page`] lives in its own browser context (its own cookies and storage), so two pages
//! are two independent users.
//!
//! Chromium is Debian's `chromium` package (`.ci/install.d/chromium.sh` installs it); nothing is
//! downloaded. [`find_chromium`] honours `$CHROMIUM`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// How long one CDP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// The Chromium binary: `$CHROMIUM`, else the first of the usual names on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// A headless Chromium process with a throw-away profile; killed (with its helper processes)
/// and its profile removed on drop.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    devtools_url: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Chromium {
    /// Starts `binary` headless and waits (bounded) for its DevTools endpoint.
    ///
    /// # Panics
    /// When it cannot start or does not announce the endpoint in time.
    pub fn launch(binary: &Path) -> Self {
        use std::os::unix::process::CommandExt;

        let profile = std::env::temp_dir().join(format!(
            "ws-chromium-{}-{}",
            std::process::id(),
            crate::free_port()
        ));
        std::fs::create_dir_all(&profile).expect("a profile folder");
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--mute-audio",
                "--hide-scrollbars",
                "--window-size=1100,720",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so drop can end the renderer and helper processes too.
            .process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("piped stderr");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            // Keeps reading to the end, so Chromium never blocks on a full pipe.
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = url_tx.send(url.trim().to_string());
                }
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let mut browser = Self {
            child,
            profile,
            devtools_url: String::new(),
            stderr,
        };
        match url_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => browser.devtools_url = url,
            Err(_) => panic!(
                "Chromium announced no DevTools endpoint within 30 s; its stderr:\n{}",
                browser.stderr_text()
            ),
        }
        browser
    }

    /// What Chromium printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// Opens the CDP connection to the browser.
    ///
    /// # Panics
    /// When the DevTools WebSocket cannot be opened.
    pub async fn connect(&self) -> Cdp {
        let (ws, _) = tokio::time::timeout(
            COMMAND_TIMEOUT,
            tokio_tungstenite::connect_async(self.devtools_url.as_str()),
        )
        .await
        .expect("DevTools connection timed out")
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.devtools_url));
        Cdp::start(ws)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, Value>>>>>;

/// A CDP connection: commands in, replies matched by id, events kept per session.
#[derive(Clone)]
pub struct Cdp {
    outgoing: mpsc::UnboundedSender<String>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Cdp {
    fn start(
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> Self {
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = queue.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (replies, log) = (pending.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match value.get("id").and_then(Value::as_u64) {
                    Some(id) => {
                        let waiter = replies
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&id);
                        if let Some(waiter) = waiter {
                            let reply = match value.get("error") {
                                Some(error) => Err(error.clone()),
                                None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                            };
                            let _ = waiter.send(reply);
                        }
                    }
                    None => log.lock().unwrap_or_else(|e| e.into_inner()).push(value),
                }
            }
        });
        Self {
            outgoing,
            pending,
            next_id: Arc::new(AtomicU64::new(1)),
            events,
        }
    }

    /// Sends `method` with `params` (to the page `session`, or to the browser) and returns its
    /// result.
    ///
    /// # Panics
    /// When the browser answers an error or nothing within `COMMAND_TIMEOUT`.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        self.outgoing
            .send(command.to_string())
            .unwrap_or_else(|_| panic!("the DevTools connection is closed ({method})"));
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(result))) => result,
            Ok(Ok(Err(error))) => panic!("{method} failed: {error}"),
            Ok(Err(_)) => panic!("the DevTools connection closed during {method}"),
            Err(_) => panic!("{method} got no answer within {COMMAND_TIMEOUT:?}"),
        }
    }

    /// A new tab in a new browser context (its own cookies), attached and ready for commands.
    pub async fn new_page(&self) -> Page {
        let context = self
            .call(
                None,
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true }),
            )
            .await;
        let context = context["browserContextId"]
            .as_str()
            .expect("a browserContextId")
            .to_string();
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await;
        let target = target["targetId"].as_str().expect("a targetId").to_string();
        let session = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await;
        let session = session["sessionId"]
            .as_str()
            .expect("a sessionId")
            .to_string();
        let page = Page {
            cdp: self.clone(),
            session,
            target,
        };
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({})).await;
        }
        page
    }
}

/// One tab. Every method panics with a clear message when the browser fails.
pub struct Page {
    cdp: Cdp,
    session: String,
    target: String,
}

impl Page {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp.call(Some(&self.session), method, params).await
    }

    /// Loads `url` and waits until the document and its deferred scripts have run.
    pub async fn navigate(&self, url: &str) {
        let result = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = result.get("errorText").and_then(Value::as_str) {
            panic!("navigating to {url} failed: {error}");
        }
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(15),
        )
        .await
        .unwrap_or_else(|e| panic!("{url} did not finish loading: {e}"));
    }

    /// Evaluates `expression` (awaiting a promise) and returns its value as JSON.
    ///
    /// # Panics
    /// When the expression throws.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": expression,
                    "awaitPromise": true,
                    "returnByValue": true,
                }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Polls `expression` until it is truthy; its last value in the error otherwise.
    pub async fn wait_for(&self, expression: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expression).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(_) | Value::Object(_) => true,
            };
            if truthy {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                return Err(format!("`{expression}` still {value} after {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Focuses the element `selector`, types `text` into it as keyboard input, and presses
    /// Enter, the way a person fills in a one-field form.
    pub async fn type_and_enter(&self, selector: &str, text: &str) {
        let found = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); return true; }})()",
                json!(selector)
            ))
            .await;
        assert_eq!(found, json!(true), "no element {selector}");
        self.call("Input.insertText", json!({ "text": text })).await;
        for kind in ["keyDown", "keyUp"] {
            let mut key = json!({
                "type": kind,
                "key": "Enter",
                "code": "Enter",
                "windowsVirtualKeyCode": 13,
                "nativeVirtualKeyCode": 13,
            });
            if kind == "keyDown" {
                key["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", key).await;
        }
    }

    /// Closes the tab, the way a person closes it: its connections drop without the page's
    /// scripts doing anything.
    pub async fn close(self) {
        self.cdp
            .call(
                None,
                "Target.closeTarget",
                json!({ "targetId": self.target }),
            )
            .await;
    }

    /// Saves a PNG of the viewport to `path`, creating its folder.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Uncaught exceptions of this page so far.
    pub fn exceptions(&self) -> Vec<String> {
        self.events_named("Runtime.exceptionThrown")
            .into_iter()
            .map(|e| e["params"]["exceptionDetails"].to_string())
            .collect()
    }

    /// Console calls and browser log entries of this page so far, one line each.
    pub fn console(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for event in self.events_of_session() {
            let params = &event["params"];
            match event["method"].as_str() {
                Some("Runtime.consoleAPICalled") => {
                    let args: Vec<String> = params["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| a.get("value").unwrap_or(&a["description"]).to_string())
                        .collect();
                    lines.push(format!("console.{}: {}", params["type"], args.join(" ")));
                }
                Some("Log.entryAdded") => lines.push(format!(
                    "log {}: {}",
                    params["entry"]["level"], params["entry"]["text"]
                )),
                Some("Runtime.exceptionThrown") => {
                    lines.push(format!("exception: {}", params["exceptionDetails"]))
                }
                _ => {}
            }
        }
        lines
    }

    fn events_of_session(&self) -> Vec<Value> {
        self.cdp
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e["sessionId"].as_str() == Some(self.session.as_str()))
            .cloned()
            .collect()
    }

    fn events_named(&self, method: &str) -> Vec<Value> {
        self.events_of_session()
            .into_iter()
            .filter(|e| e["method"].as_str() == Some(method))
            .collect()
    }
}
