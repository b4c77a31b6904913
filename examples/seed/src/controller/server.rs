//! The guide's `ServerController` (Hyperf's `@AutoController` with an injected `Sender`): push
//! to, close, and list connections over HTTP, plus rooms and broadcast. Every `pub async fn` is
//! `GET|POST|HEAD /server/<name>`.

use std::time::Duration;

use serde_json::{Value, json};
use ws_core::prelude::*;

/// HTTP server `http`, prefix `/server`.
#[controller(prefix = "/server")]
pub struct ServerController {
    #[inject]
    sender: Sender,
}

#[auto_routes]
impl ServerController {
    /// `/server/send?fd=N`: pushes `Hello World.` to N; 404 when no node holds it.
    pub async fn send(&self, fd: Fd) -> Result<&'static str> {
        self.sender.push(fd, "Hello World.").await?;
        Ok("")
    }

    /// `/server/close?fd=N`: answers at once and disconnects N one second later, as the guide
    /// does; 404 when no node holds it.
    pub async fn close(&self, fd: Fd) -> Result<&'static str> {
        if !self.sender.exists(fd).await? {
            return Err(SendError::NotConnected(fd).into());
        }
        let sender = self.sender.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(error) = sender.disconnect(fd).await {
                tracing::info!(fd = %fd, %error, "delayed disconnect found nothing to close");
            }
        });
        Ok("")
    }

    /// `/server/connections`: this node's fds.
    pub async fn connections(&self) -> Json<Vec<Fd>> {
        Json(self.sender.local_fds())
    }

    /// `/server/room?name=NAME&msg=TEXT`: TEXT to every member of NAME, cluster-wide.
    pub async fn room(&self, name: String, msg: String) -> Result<Json<Value>> {
        let delivery = self.sender.to_room(&name, msg, None).await?;
        Ok(Json(json!({ "room": name, "delivered": delivery.local })))
    }

    /// `/server/broadcast?msg=TEXT`: TEXT to every connection of the cluster.
    pub async fn broadcast(&self, msg: String) -> Result<Json<Value>> {
        let delivery = self.sender.broadcast(msg, None).await?;
        Ok(Json(json!({ "delivered": delivery.local })))
    }
}
