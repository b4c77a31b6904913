//! The guide's `ServerController`: push to or close any connection by fd, over HTTP.

use std::time::Duration;

use serde_json::json;
use ws_core::prelude::*;

fn fd_param(req: &HttpRequest) -> std::result::Result<Fd, ws_core::http::ParamRejection> {
    req.param::<Fd>("fd")
}

/// `GET|POST /server/send?fd=N`: pushes `Hello World.` to N.
pub async fn send(req: HttpRequest) -> Result<&'static str> {
    let fd = fd_param(&req)
        .map_err(|e| HttpError::new(ws_core::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    req.sender().push(fd, "Hello World.").await?;
    Ok("")
}

/// `GET|POST /server/close?fd=N`: answers at once, disconnects N one second later (as the guide).
pub async fn close(req: HttpRequest) -> Result<&'static str> {
    let fd = fd_param(&req)
        .map_err(|e| HttpError::new(ws_core::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    let sender = req.sender().clone();
    if !sender.exists(fd).await? {
        return Err(SendError::NotConnected(fd).into());
    }
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(error) = sender.disconnect(fd).await {
            tracing::info!(fd = %fd, %error, "delayed disconnect found nothing to close");
        }
    });
    Ok("")
}

/// `GET /server/connections`: this node's fds.
pub async fn connections(req: HttpRequest) -> Json<Vec<Fd>> {
    Json(req.sender().local_fds())
}

/// `GET|POST /server/room?name=NAME&msg=TEXT`: pushes TEXT to every member of NAME, cluster-wide.
pub async fn room(req: HttpRequest) -> Result<Json<serde_json::Value>> {
    let bad = |e: ws_core::http::ParamRejection| {
        HttpError::new(ws_core::http::StatusCode::BAD_REQUEST, e.to_string())
    };
    let name: String = req.param("name").map_err(bad)?;
    let msg: String = req.param("msg").map_err(bad)?;
    let delivery = req.sender().to_room(&name, msg, None).await?;
    Ok(Json(json!({ "room": name, "delivered": delivery.local })))
}

/// `GET|POST /server/broadcast?msg=TEXT`: pushes TEXT to every connection of the cluster.
pub async fn broadcast(req: HttpRequest) -> Result<Json<serde_json::Value>> {
    let msg: String = req
        .param("msg")
        .map_err(|e| HttpError::new(ws_core::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    let delivery = req.sender().broadcast(msg, None).await?;
    Ok(Json(json!({ "delivered": delivery.local })))
}
