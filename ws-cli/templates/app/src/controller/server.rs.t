//! The guide's `ServerController`: push to, close or list connections over HTTP, with the
//! injected `Sender` (it reaches a connection held by any node of the cluster).

use ws_core::prelude::*;

/// Server `http`; every `pub async fn` below answers GET, POST and HEAD at `/server/<name>`,
/// its parameters bound by name from the query string or a form or JSON body.
#[controller(server = "http", prefix = "/server")]
pub struct ServerController {
    #[inject]
    sender: Sender,
}

#[auto_routes]
impl ServerController {
    /// `/server/send?fd=N`: pushes `Hello World.` to connection N.
    pub async fn send(&self, fd: Fd) -> Result<&'static str> {
        self.sender.push(fd, "Hello World.").await?;
        Ok("")
    }

    /// `/server/close?fd=N`: closes connection N (code 1000).
    pub async fn close(&self, fd: Fd) -> Result<&'static str> {
        self.sender.disconnect(fd).await?;
        Ok("")
    }

    /// `/server/connections`: the connections of this node, as a JSON array.
    pub async fn connections(&self) -> Json<Vec<Fd>> {
        Json(self.sender.local_fds())
    }

    /// `/server/broadcast?msg=TEXT`: pushes TEXT to every connection of the cluster.
    pub async fn broadcast(&self, msg: String) -> Result<String> {
        let local = self.sender.broadcast(msg, None).await?.local;
        Ok(format!("delivered to {local} local connection(s)"))
    }
}
