//! `#[controller]` with `#[auto_routes]` and `#[routes]`: parameters, requests, return types.

use std::sync::Arc;

use ws_core::http::{HttpRequest, Json, StatusCode};
use ws_core::prelude::*;

#[component]
pub struct Greeter {
    #[value("app.greeting")]
    greeting: String,
}

#[controller]
pub struct ServerController {
    #[inject]
    sender: Sender,
    #[inject]
    greeter: Arc<Greeter>,
}

#[auto_routes]
impl ServerController {
    pub async fn send(&self, fd: Fd) -> Result<&'static str> {
        self.sender.push(fd, "Hello World.").await?;
        Ok("")
    }

    pub async fn hello(&self, name: Option<String>) -> String {
        self.greet(name.as_deref().unwrap_or("stranger"))
    }

    pub async fn request(&self, req: HttpRequest, head: &HttpRequest) -> String {
        format!("{} {}", req.method(), head.path())
    }

    pub async fn json(&self, r#type: String, mut count: u32) -> Json<Vec<String>> {
        count += 1;
        Json(vec![r#type; count as usize])
    }

    pub async fn nothing(&self) {}

    pub async fn created(self: &Self) -> (StatusCode, &'static str) {
        (StatusCode::CREATED, "made")
    }

    /// Helpers: not `pub`, or `pub(crate)`, or without `&self`.
    fn greet(&self, name: &str) -> String {
        format!("{}, {name}!", self.greeter.greeting)
    }

    pub(crate) async fn internal(&self) -> u32 {
        1
    }
}

#[controller(server = "admin", prefix = "/api/v1")]
pub(crate) struct UserProfileController;

#[routes]
impl UserProfileController {
    #[get("/users/{id}")]
    async fn show(&self, id: u64) -> Json<u64> {
        Json(id)
    }

    #[post("/users")]
    #[put("/users")]
    pub async fn save(&self, name: String) -> ws_core::Result<(StatusCode, String)> {
        Ok((StatusCode::CREATED, name))
    }

    #[delete("/users/{id}")]
    async fn remove(&self, id: u64) -> Result<String, ws_core::HttpError> {
        Err(ws_core::HttpError::new(StatusCode::FORBIDDEN, format!("{id} is protected")))
    }

    #[patch("/users/{id}")]
    #[head("/users")]
    #[options("/users")]
    async fn misc(&self, req: ws_core::http::HttpRequest) -> StatusCode {
        let _ = req;
        StatusCode::NO_CONTENT
    }

    #[route(path = "/both", methods = ["get", "POST"])]
    async fn both(&self) -> &'static str {
        "both"
    }

    /// Not a route: no attribute.
    pub async fn helper(&self) {}
}

/// A second impl block of the same controller.
#[routes]
impl UserProfileController {
    #[get("/")]
    async fn index(&self) -> ws_core::http::Response {
        ws_core::http::IntoResponse::into_response("index")
    }
}

fn main() {
    let _ = UserProfileController::helper;
    let _ = ServerController::internal;
}
