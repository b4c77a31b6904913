//! The HTTP server: hyper 1.x, one task per connection, routes matched with `matchit`.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, CatchUnwind};
use http::{HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::ServerSettings;
use crate::http::layer::{BoxError, HttpService, LayerFn, boxed_body, boxed_response};
use crate::http::{BoxedHandler, HttpRequest, Response, error_response};
use crate::node::Node;
use crate::router::{HttpMatch, HttpTable};
use crate::ws::transport::Transport;

/// One HTTP server: what its connections share.
pub(crate) struct HttpServer {
    pub(crate) node: Arc<Node>,
    pub(crate) name: Arc<str>,
    pub(crate) settings: ServerSettings,
    pub(crate) table: HttpTable,
    /// The tower layers of `App::layer`, around routing and the handlers.
    pub(crate) layer: Option<LayerFn>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
}

pub(crate) async fn serve(
    listener: TcpListener,
    server: Arc<HttpServer>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connection(server.clone(), stream, peer));
                }
                Err(error) => super::accept_backoff(&server.name, &error).await,
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(server: Arc<HttpServer>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let timeout = Duration::from_millis(server.settings.handshake_timeout_ms);
    let transport = match secure(&server, stream, timeout).await {
        Some(transport) => transport,
        None => return,
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(HeadTimer::default())
        .header_read_timeout(timeout)
        // hyper refuses buffers under 8 KiB; a head that does not fit answers 431.
        .max_buf_size(server.settings.max_header_bytes.max(8192));
    let io = TokioIo::new(transport);
    let result = match &server.layer {
        // Without layers the request takes the direct path, with no boxing of bodies.
        None => {
            let server = server.clone();
            let service = service_fn(move |req| respond(&server, peer, req));
            builder.serve_connection(io, service).await
        }
        Some(layer) => {
            let inner = {
                let server = server.clone();
                HttpService::from_fn(move |req| {
                    let answer = respond(&server, peer, req);
                    Box::pin(async move {
                        let Ok(response) = answer.await;
                        boxed_response(response)
                    })
                })
            };
            let layered = layer(inner);
            let service = service_fn(move |req: http::Request<Incoming>| {
                layered.clone().oneshot(req.map(boxed_body))
            });
            builder.serve_connection(io, service).await
        }
    };
    if let Err(error) = result {
        tracing::debug!(server = %server.name, error = %error, "HTTP connection ended with an error");
    }
}

async fn secure(server: &HttpServer, stream: TcpStream, timeout: Duration) -> Option<Transport> {
    #[cfg(feature = "tls")]
    if let Some(acceptor) = &server.tls {
        return match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Some(Transport::Tls(Box::new(tls))),
            _ => None,
        };
    }
    let _ = (server, timeout);
    Some(Transport::Plain(stream))
}

type Answer = Result<Response, Infallible>;
/// A handler's response, or the payload of its panic.
type Outcome = Result<Response, Box<dyn Any + Send>>;

/// The answer to one request.
///
/// hyper stores the future of the request in flight in its connection state, moving it there
/// for every request. Routing, and calling the handler of a request without a body (every GET),
/// happen before that, so the future it moves is the handler's boxed future and what a panic
/// report needs, not an async fn's state holding the whole request twice (1.3 KB).
fn respond<B>(server: &Arc<HttpServer>, peer: SocketAddr, req: http::Request<B>) -> Respond
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (handler, params) = match route(server, &req) {
        Routed::Found { handler, params } => (handler, params),
        Routed::Answered(response) => return Respond::Ready(std::future::ready(Ok(response))),
    };
    let client = crate::client_addr::client_addr(
        peer.ip(),
        req.headers(),
        &server.settings.trusted_proxies,
        server.settings.forwarded_header,
    );
    let (parts, body) = req.into_parts();
    let call = Call {
        server: server.clone(),
        method: parts.method.clone(),
        uri: parts.uri.clone(),
    };
    if body.is_end_stream() {
        let request = HttpRequest::new(
            parts,
            Bytes::new(),
            params,
            Some(peer),
            server.node.sender.clone(),
        )
        .with_client(client);
        return Respond::Call(call, AssertUnwindSafe(handler(request)).catch_unwind());
    }
    let handler = handler.clone();
    Respond::Body(Box::pin(async move {
        let limit = call.server.settings.max_body_bytes;
        let body = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return Ok(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("request body larger than {limit} bytes"),
                ));
            }
        };
        let sender = call.server.node.sender.clone();
        let request = HttpRequest::new(parts, body, params, Some(peer), sender).with_client(client);
        let outcome = AssertUnwindSafe(handler(request)).catch_unwind().await;
        Ok(call.finish(outcome))
    }))
}

enum Routed<'s> {
    Found {
        handler: &'s BoxedHandler,
        params: Vec<(String, String)>,
    },
    /// 404, or 405 listing the allowed methods.
    Answered(Response),
}

fn route<'s, B>(server: &'s HttpServer, req: &http::Request<B>) -> Routed<'s> {
    let method = req.method();
    match server.table.find(method, req.uri().path()) {
        HttpMatch::Found { handler, params } => Routed::Found { handler, params },
        HttpMatch::NotFound => Routed::Answered(error_response(
            StatusCode::NOT_FOUND,
            &format!("no route for {}", req.uri().path()),
        )),
        HttpMatch::MethodNotAllowed(allowed) => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not allowed here"),
            );
            if let Ok(value) = HeaderValue::try_from(allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            Routed::Answered(response)
        }
    }
}

enum Respond {
    /// Answered while routing.
    Ready(std::future::Ready<Answer>),
    /// The handler of a request without a body, already called.
    Call(
        Call,
        CatchUnwind<AssertUnwindSafe<BoxFuture<'static, Response>>>,
    ),
    /// A request whose body is read first.
    Body(BoxFuture<'static, Answer>),
}

impl Future for Respond {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        match self.get_mut() {
            Respond::Ready(ready) => ready.poll_unpin(cx),
            Respond::Call(call, handler) => handler.poll_unpin(cx).map(|o| Ok(call.finish(o))),
            Respond::Body(future) => future.poll_unpin(cx),
        }
    }
}

/// What a handler's panic is reported with.
struct Call {
    server: Arc<HttpServer>,
    method: Method,
    uri: Uri,
}

impl Call {
    fn finish(&self, outcome: Outcome) -> Response {
        outcome.unwrap_or_else(|_| {
            let (server, method, uri) = (&self.server.name, &self.method, &self.uri);
            let id = crate::http::response::error_id();
            tracing::error!(%server, %method, %uri, error_id = %id, "HTTP handler panicked");
            crate::http::response::internal_error(&id)
        })
    }
}

/// hyper's timer for one connection, which it uses only for the header-read timeout: one sleep
/// per request head, never two at once.
///
/// hyper asks for a new sleep for every head it reads and drops it once the head is in. With
/// tokio's own timer each of those registers an entry in the runtime's timer wheel and removes it
/// again: a boxed `Sleep` and two wheel updates per request. Here the sleeps of a connection
/// share one tokio `Sleep`, which only has to fire no later than the deadline of the head being
/// read: a later head leaves it alone, and when it fires for an earlier head's deadline it is
/// moved to the current one. That costs one spurious wake-up per timeout period at most, instead
/// of a wheel update per request.
#[derive(Clone, Default)]
struct HeadTimer {
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(self.now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadSleep {
            shared: self.shared.clone(),
            deadline: tokio::time::Instant::from_std(deadline),
        })
    }

    // tokio's clock, not the system's, so a test runtime with paused time drives the timeout.
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

struct HeadSleep {
    shared: Arc<Mutex<Option<Pin<Box<tokio::time::Sleep>>>>>,
    deadline: tokio::time::Instant,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let mut shared = self.shared.lock();
        let sleep = shared.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        loop {
            std::task::ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // An earlier head's deadline passed; this head has until its own.
            sleep.as_mut().reset(deadline);
        }
    }
}

impl hyper::rt::Sleep for HeadSleep {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::{Instant, timeout};

    use crate::http::HttpRequest;
    use crate::{App, Config, RunningApp};

    const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

    async fn start() -> RunningApp {
        let config = Config::from_toml_str(&format!(
            "[[servers]]\nname = \"http\"\ntype = \"http\"\nhost = \"127.0.0.1\"\nport = 0\n\
             [servers.settings]\nhandshake_timeout_ms = {}\nmax_body_bytes = 16\n",
            HEAD_TIMEOUT.as_millis()
        ))
        .expect("valid config");
        let mut app = App::new();
        let mut router = app.router("http");
        router.get("/ping", |req: HttpRequest| async move {
            req.query("n").unwrap_or_default()
        });
        router.post("/echo/{id}", |req: HttpRequest| async move {
            let id: u32 = req.param("id")?;
            let msg: String = req.param("msg")?;
            Ok::<_, crate::http::ParamRejection>(format!("{id}:{msg}"))
        });
        router.get("/secret", |_req: HttpRequest| async move {
            Err::<&str, _>(crate::Error::msg("db password wrong"))
        });
        router.get("/typed", |_req: HttpRequest| async move {
            Err::<&str, crate::Error>(
                crate::HttpError::new(http::StatusCode::FORBIDDEN, "not yours").into(),
            )
        });
        router.get("/number", |req: HttpRequest| async move {
            let n: u32 = req.param("n")?;
            Ok::<_, crate::Error>(n.to_string())
        });
        router.get("/panic", |_req: HttpRequest| async move { boom("GET") });
        router.post("/panic", |_req: HttpRequest| async move { boom("POST") });
        app.with_config(config).start().await.expect("app starts")
    }

    /// Stands for the generic 500 body, whose error id differs per answer.
    const INTERNAL: &str = "<internal error with an id>";

    /// A generic 500 body: `internal error` and an 8-hex-digit id, nothing else.
    fn assert_internal(answer: &str) {
        let json: serde_json::Value = serde_json::from_str(answer).expect("a JSON body");
        assert_eq!(json["error"], "internal error", "{answer}");
        let id = json["error_id"].as_str().expect("an error id");
        assert!(
            id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{answer}"
        );
        assert_eq!(json.as_object().map(|o| o.len()), Some(2), "{answer}");
    }

    fn boom(method: &str) -> &'static str {
        panic!("boom in a {method} handler")
    }

    /// One request on a fresh connection: the status line and the body.
    async fn exchange(app: &RunningApp, request: &str) -> (String, String) {
        let addr = app.addr("http").expect("http server");
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("writable");
        let mut answer = String::new();
        timeout(Duration::from_secs(5), stream.read_to_string(&mut answer))
            .await
            .expect("an answer in time")
            .expect("readable");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        (head.to_string(), body.to_string())
    }

    #[tokio::test]
    async fn routes_bodies_limits_and_panics_answer_as_before() {
        let app = start().await;
        let close = "Host: test\r\nConnection: close";
        let form = "Content-Type: application/x-www-form-urlencoded";
        let cases = [
            (
                format!("GET /ping?n=5 HTTP/1.1\r\n{close}\r\n\r\n"),
                "200",
                "5",
            ),
            (format!("HEAD /ping HTTP/1.1\r\n{close}\r\n\r\n"), "200", ""),
            (
                format!("GET /nowhere HTTP/1.1\r\n{close}\r\n\r\n"),
                "404",
                r#"{"error":"no route for /nowhere"}"#,
            ),
            (
                format!("DELETE /ping HTTP/1.1\r\n{close}\r\n\r\n"),
                "405",
                r#"{"error":"DELETE is not allowed here"}"#,
            ),
            (
                format!(
                    "POST /echo/7 HTTP/1.1\r\n{close}\r\n{form}\r\nContent-Length: 10\r\n\r\nmsg=a+b%21"
                ),
                "200",
                "7:a b!",
            ),
            (
                format!(
                    "POST /echo/7 HTTP/1.1\r\n{close}\r\n{form}\r\nContent-Length: 20\r\n\r\nmsg=0123456789abcdef"
                ),
                "413",
                r#"{"error":"request body larger than 16 bytes"}"#,
            ),
            (
                format!("POST /echo/x HTTP/1.1\r\n{close}\r\nContent-Length: 0\r\n\r\n"),
                "400",
                r#"{"error":"invalid parameter `id`: invalid digit found in string"}"#,
            ),
            (
                format!("GET /panic HTTP/1.1\r\n{close}\r\n\r\n"),
                "500",
                INTERNAL,
            ),
            (
                format!("POST /panic HTTP/1.1\r\n{close}\r\nContent-Length: 2\r\n\r\nhi"),
                "500",
                INTERNAL,
            ),
            // An error the handler did not mean for the client: nothing of it leaks.
            (
                format!("GET /secret HTTP/1.1\r\n{close}\r\n\r\n"),
                "500",
                INTERNAL,
            ),
            // Errors meant for the client reach it as they are.
            (
                format!("GET /typed HTTP/1.1\r\n{close}\r\n\r\n"),
                "403",
                r#"{"error":"not yours"}"#,
            ),
            (
                format!("GET /number?n=x HTTP/1.1\r\n{close}\r\n\r\n"),
                "400",
                r#"{"error":"invalid parameter `n`: invalid digit found in string"}"#,
            ),
        ];
        for (request, status, body) in cases {
            let (head, answer) = exchange(&app, &request).await;
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status} ")),
                "{request:?}: {head}"
            );
            if body == INTERNAL {
                assert_internal(&answer);
            } else {
                assert_eq!(answer, body, "{request:?}");
            }
        }
        let (head, _) = exchange(&app, &format!("DELETE /ping HTTP/1.1\r\n{close}\r\n\r\n")).await;
        assert!(
            head.to_ascii_lowercase().contains("allow: get, head"),
            "{head}"
        );
        app.shutdown().await;
    }

    /// Reads one response to `GET /ping?n=..` (a fixed-length body ending the response).
    async fn read_response(stream: &mut TcpStream, n: u32) {
        let expected = n.to_string();
        let mut seen = Vec::new();
        let mut buf = [0; 1024];
        while !String::from_utf8_lossy(&seen).ends_with(&format!("\r\n\r\n{expected}")) {
            let read = timeout(Duration::from_secs(2), stream.read(&mut buf))
                .await
                .expect("an answer in time")
                .expect("readable");
            assert!(read > 0, "connection closed before answer {n}");
            seen.extend_from_slice(&buf[..read]);
        }
        assert!(
            seen.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    }

    /// Waits for the server to close `stream`; how long that took.
    async fn closed_after(stream: &mut TcpStream) -> Duration {
        let started = Instant::now();
        let mut buf = [0; 64];
        loop {
            match timeout(Duration::from_secs(3), stream.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) => panic!("the server kept the connection open"),
            }
        }
    }

    #[tokio::test]
    async fn a_busy_keep_alive_connection_outlives_the_head_timeout() {
        let app = start().await;
        let addr = app.addr("http").expect("http server");
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        // Requests spread over several header-read timeouts: each head has its own deadline,
        // so none is cut by the deadline of an earlier one.
        for n in 0..12 {
            let request = format!("GET /ping?n={n} HTTP/1.1\r\nHost: test\r\n\r\n");
            stream
                .write_all(request.as_bytes())
                .await
                .expect("writable");
            read_response(&mut stream, n).await;
            tokio::time::sleep(HEAD_TIMEOUT / 3).await;
        }
        // Idle, the connection is closed once the next head is overdue.
        let idle = closed_after(&mut stream).await;
        assert!(idle < HEAD_TIMEOUT * 3, "closed after {idle:?}");
        app.shutdown().await;
    }

    #[tokio::test]
    async fn a_slow_head_is_cut_at_the_timeout() {
        let app = start().await;
        let addr = app.addr("http").expect("http server");
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream
            .write_all(b"GET /ping?n=1 HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("writable");
        read_response(&mut stream, 1).await;
        // The clock of this head started when the first answer went out, a moment ago.
        stream
            .write_all(b"GET /ping?n=2 HTTP/1.1\r\n")
            .await
            .expect("writable");
        let cut = closed_after(&mut stream).await;
        assert!(
            cut >= HEAD_TIMEOUT - Duration::from_millis(100) && cut < HEAD_TIMEOUT * 3,
            "cut after {cut:?}"
        );
        app.shutdown().await;
    }
}
