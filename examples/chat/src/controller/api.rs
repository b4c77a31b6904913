//! `http` server, `/chat/*`: where the page connects, and system messages from anywhere.

use std::sync::Arc;

use serde_json::{Value, json};
use ws_core::Config;
use ws_core::http::StatusCode;
use ws_core::prelude::*;

use crate::history::History;
use crate::protocol::{self, Outbound};

/// The chat's HTTP API.
#[controller(prefix = "/chat")]
pub(crate) struct ChatApiController {
    #[inject]
    sender: Sender,
    #[inject]
    history: Arc<History>,
    #[inject]
    config: Config,
    #[value("app.ws_url")]
    ws_url: Option<String>,
}

#[routes]
impl ChatApiController {
    /// `GET /chat/config`: where the page opens its WebSocket. `ws_url` is `[app] ws_url` when
    /// set (behind a proxy); otherwise the page uses its own host with `ws_port` and `ws_path`.
    #[get("/config")]
    async fn client_config(&self) -> Json<Value> {
        let ws_port = self.config.server("ws").map(|s| s.port);
        let ws_url = self.ws_url.as_deref().filter(|url| !url.is_empty());
        Json(json!({ "ws_url": ws_url, "ws_port": ws_port, "ws_path": "/chat" }))
    }

    /// `POST /chat/system` with `room` and `text` in the query or a form: a system message to
    /// every member of the room, kept in its history. Answers how many connections got it.
    #[post("/system")]
    async fn system(&self, room: String, text: String) -> Result<Json<Value>> {
        let bad_request = |message: String| HttpError::new(StatusCode::BAD_REQUEST, message);
        let room = protocol::room_name(&room).map_err(bad_request)?;
        let text = protocol::message_text(&text).map_err(bad_request)?;
        let line = self.history.record(room, "system", text, true);
        let delivery = self
            .sender
            .to_room(room, Outbound::Message(&line).to_json(), None)
            .await?;
        Ok(Json(json!({
            "room": room,
            "id": line.id,
            "delivered": delivery.local,
        })))
    }
}
