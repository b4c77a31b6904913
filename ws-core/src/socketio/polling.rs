//! Engine.IO v4's HTTP long-polling transport at `/socket.io/?EIO=4&transport=polling`: what a
//! default client (`io(url)`) starts with, and all a network that blocks WebSocket allows.
//!
//! A GET without `sid` opens a session and answers its open packet; a GET with it is held until
//! the session has packets (the heartbeat's ping sends one every `pingInterval`); a POST carries
//! the client's packets. One GET at a time: a second one while the first is held closes the
//! session, as the protocol says. Sessions live on the node that opened them, so several nodes
//! need sticky routing (docs: "Socket.IO behind nginx").

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode, header};

use super::PATH;
use super::cors;
use super::engine::Engine;
use super::poll_session::{PollSession, new_sid};
use super::poll_wire::{self, Drained, NOOP};
use crate::config::SocketIoTransport;
use crate::ws::bare::BareConnections;
use crate::ws::message::{CloseFrame, close_frame};
use crate::ws::plain::{PlainResponse, PlainRoute};
use crate::{CloseInfo, CloseInitiator, Request};

/// How often a session checks that its client still polls, and whether it was closed while no
/// GET was held to carry the close.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The polling transport of one server's Socket.IO.
pub(crate) struct Polling {
    engine: Arc<Engine>,
}

impl Polling {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

impl PlainRoute for Polling {
    fn max_body(&self) -> usize {
        self.engine.settings.max_payload
    }

    fn serve<'a>(
        &'a self,
        request: Request,
        body: Bytes,
        connections: BareConnections<'a>,
    ) -> BoxFuture<'a, PlainResponse> {
        Box::pin(async move {
            let cors = match cors::check(&self.engine.settings.cors_origins, &request) {
                Ok(cors) => cors,
                Err(forbidden) => return forbidden.response(),
            };
            let mut response = if cors::is_preflight(request.method()) {
                cors::preflight(&request)
            } else {
                self.transport(&request, body, connections).await
            };
            cors.apply(&mut response);
            response
        })
    }
}

/// A 400 with Engine.IO's error body.
fn protocol_error(code: u8, message: &str) -> PlainResponse {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn text(body: impl Into<Bytes>) -> PlainResponse {
    let mut response = http::Response::new(body.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    response
}

impl Polling {
    async fn transport(
        &self,
        request: &Request,
        body: Bytes,
        connections: BareConnections<'_>,
    ) -> PlainResponse {
        if request.query("EIO").as_deref() != Some("4") {
            return protocol_error(5, "Unsupported protocol version");
        }
        if request.query("transport").as_deref() != Some("polling")
            || !self.engine.allows(SocketIoTransport::Polling)
        {
            return protocol_error(0, "Transport unknown");
        }
        let method = request.method();
        let Some(sid) = request.query("sid") else {
            return match *method {
                Method::GET => self.open(connections).await,
                _ => protocol_error(2, "Bad handshake method"),
            };
        };
        let Some(session) = self.engine.polled.get(&sid) else {
            return protocol_error(1, "Session ID unknown");
        };
        if session.is_upgraded() || session.is_ended() {
            return protocol_error(3, "Bad request");
        }
        match *method {
            Method::GET => self.poll(&session).await,
            Method::POST => self.post(&session, &body).await,
            _ => protocol_error(3, "Bad request"),
        }
    }

    /// A new session: its open packet, offering the upgrade when WebSocket is allowed.
    async fn open(&self, connections: BareConnections<'_>) -> PlainResponse {
        let bare = match connections.open(PATH) {
            Ok(bare) => bare,
            Err(rejection) => {
                let mut response = http::Response::new(Bytes::from(rejection.body().to_owned()));
                *response.status_mut() = rejection.status();
                return response;
            }
        };
        let session = Arc::new(PollSession::new(new_sid(), bare));
        let upgrades: &[&str] = if self.engine.allows(SocketIoTransport::Websocket) {
            &["websocket"]
        } else {
            &[]
        };
        let conn = session.connection();
        if let Err(error) = self.engine.start(conn, &session.sid, upgrades).await {
            tracing::debug!(%error, "socket.io polling session did not open");
            return protocol_error(3, "Bad request");
        }
        self.engine.polled.insert(session.clone());
        tracing::debug!(fd = %conn.fd(), client = %connections.client(), "socket.io polling session opened");
        tokio::spawn(watch(self.engine.clone(), session.clone()));
        let drained = poll_wire::encode(session.bare.take_queued());
        text(drained.body)
    }

    /// A GET: held until the session has packets, answered at once while a WebSocket probes.
    async fn poll(&self, session: &Arc<PollSession>) -> PlainResponse {
        if !session.begin_poll() {
            let close = CloseInfo::new(
                1002,
                "a second GET while one is held",
                CloseInitiator::Transport,
            );
            self.engine.end_polled(session, close).await;
            return protocol_error(3, "Bad request");
        }
        let drained = if session.is_probing() {
            poll_wire::encode(session.bare.take_queued())
        } else {
            // The heartbeat's ping comes every `pingInterval`; this bound only matters if the
            // heartbeat is gone.
            let settings = &self.engine.settings;
            let hold = Duration::from_millis(settings.ping_interval_ms + settings.ping_timeout_ms);
            match tokio::time::timeout(hold, session.bare.next_queued()).await {
                Ok(items) => poll_wire::encode(items),
                Err(_) => Drained::default(),
            }
        };
        session.end_poll();
        let Drained { body, close } = drained;
        if let Some(frame) = close {
            self.engine.end_polled(session, closed_by(frame)).await;
        }
        if body.is_empty() {
            return text(NOOP);
        }
        text(body)
    }

    /// A POST: the client's packets, read as the WebSocket transport reads its messages.
    async fn post(&self, session: &PollSession, body: &[u8]) -> PlainResponse {
        let messages = match poll_wire::decode(body) {
            Ok(messages) => messages,
            Err(error) => {
                tracing::debug!(%error, "socket.io polling payload refused");
                let close = CloseInfo::new(1002, "parse error", CloseInitiator::Transport);
                self.engine.end_polled(session, close).await;
                return protocol_error(3, "Bad request");
            }
        };
        let conn = session.connection();
        for message in messages {
            let _ = self.engine.receive(conn, message).await;
        }
        text("ok")
    }
}

/// The close a session's queue ended with, as `on_close` reads it: the server closed it (a
/// ping timeout, a parse error, the client's close packet, shutdown), and the reason it set
/// says why.
fn closed_by(frame: CloseFrame) -> CloseInfo {
    CloseInfo::new(
        u16::from(frame.code),
        frame.reason.as_str(),
        CloseInitiator::Server,
    )
}

/// Ends a session whose client stopped polling, or that was closed while no GET was held to
/// carry the close. Once upgraded, the WebSocket's end ends the session instead.
async fn watch(engine: Arc<Engine>, session: Arc<PollSession>) {
    let settings = &engine.settings;
    let quiet_limit = Duration::from_millis(settings.ping_interval_ms + settings.ping_timeout_ms);
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        if session.is_ended() || session.is_upgraded() {
            return;
        }
        if session.is_polling() {
            continue;
        }
        if session.bare.is_closing() {
            let drained = poll_wire::encode(session.bare.take_queued());
            let frame = drained
                .close
                .unwrap_or_else(|| close_frame(1000, "session closed"));
            engine.end_polled(&session, closed_by(frame)).await;
            return;
        }
        if session.quiet_for() > quiet_limit {
            let close = CloseInfo::new(
                1006,
                "the client stopped polling",
                CloseInitiator::Transport,
            );
            engine.end_polled(&session, close).await;
            return;
        }
    }
}
