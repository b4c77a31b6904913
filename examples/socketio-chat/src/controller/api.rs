//! `http` server, `GET /chat/config`: where the page connects.

use serde_json::{Value, json};
use ws_core::Config;
use ws_core::prelude::*;

/// The page's configuration.
#[controller(prefix = "/chat")]
pub(crate) struct ChatApiController {
    #[inject]
    config: Config,
    #[value("app.socketio_url")]
    socketio_url: Option<String>,
}

#[routes]
impl ChatApiController {
    /// `GET /chat/config`: the Socket.IO server's URL when `[app] socketio_url` is set (behind a
    /// proxy); otherwise the page uses its own host with `ws_port`, the `ws` server's port,
    /// since the page and Socket.IO are served on two ports.
    #[get("/config")]
    async fn client_config(&self) -> Json<Value> {
        let ws_port = self.config.server("ws").map(|s| s.port);
        let url = self.socketio_url.as_deref().filter(|url| !url.is_empty());
        Json(json!({ "socketio_url": url, "ws_port": ws_port }))
    }
}
