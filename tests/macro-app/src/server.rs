//! `/server/*`: Hyperf's AutoController, pushing to WebSocket connections from HTTP.

use std::sync::Arc;

use ws_core::http::{HttpRequest, Json, StatusCode};
use ws_core::prelude::*;

use crate::services::Counter;

/// Every `pub async fn` is `/server/<name>`, on GET, POST and HEAD.
#[controller(prefix = "/server")]
pub struct ServerController {
    #[inject]
    sender: Sender,
    #[inject]
    counter: Arc<Counter>,
}

#[auto_routes]
impl ServerController {
    /// Pushes "Hello World." to `fd`; 404 when it is not connected.
    pub async fn send(&self, fd: Fd) -> Result<&'static str> {
        self.sender.push(fd, "Hello World.").await?;
        Ok("")
    }

    /// Closes `fd`.
    pub async fn close(&self, fd: Fd) -> Result<&'static str> {
        self.sender.disconnect(fd).await?;
        Ok("")
    }

    /// A required query or form parameter.
    pub async fn hello(&self, name: String) -> String {
        self.greet(&name)
    }

    /// An optional one.
    pub async fn maybe(&self, name: Option<String>) -> String {
        self.greet(name.as_deref().unwrap_or("stranger"))
    }

    /// Typed parameters, from the query, a form or a JSON body.
    pub async fn sum(&self, a: i64, b: i64) -> Json<bodies::Sum> {
        Json(bodies::Sum { a, b, sum: a + b })
    }

    /// A status with the body.
    pub async fn created(&self, name: String) -> (StatusCode, String) {
        (StatusCode::CREATED, format!("created {name}"))
    }

    /// The request itself, owned and borrowed.
    pub async fn echo(&self, req: HttpRequest, same: &HttpRequest) -> String {
        format!(
            "{} {} {}",
            req.method(),
            same.path(),
            String::from_utf8_lossy(req.body())
        )
    }

    /// The shared counter, injected here and into other components.
    pub async fn hits(&self) -> String {
        self.counter.hit().to_string()
    }

    fn greet(&self, name: &str) -> String {
        format!("Hello, {name}!")
    }

    /// Not a route: `pub(crate)`.
    pub(crate) async fn internal(&self) -> &'static str {
        "internal"
    }
}

impl ServerController {
    /// Keeps `internal` used.
    pub async fn call_internal(&self) -> &'static str {
        self.internal().await
    }
}

/// Serialisable bodies.
pub mod bodies {
    /// The body of `/server/sum`.
    #[derive(Debug, serde::Serialize)]
    pub struct Sum {
        /// `a`.
        pub a: i64,
        /// `b`.
        pub b: i64,
        /// `a + b`.
        pub sum: i64,
    }
}
