//! `ws` server, `/chat`: rooms, messages, notices and history over one WebSocket.

use std::collections::BTreeSet;
use std::sync::Arc;

use ws_core::prelude::*;

use crate::history::History;
use crate::protocol::{self, Inbound, NoticeEvent, Outbound};

/// Context key of the connection's nickname (`String`).
const NICKNAME: &str = "nickname";
/// Context key of the rooms the connection is in (`BTreeSet<String>`), kept here because the
/// registry has already dropped the connection's memberships when `on_close` runs.
const ROOMS: &str = "rooms";

/// The chat endpoint. The nickname comes from the `nickname` cookie, read once in `on_open`.
#[ws_controller(server = "ws", path = "/chat")]
pub(crate) struct ChatController {
    #[inject]
    history: Arc<History>,
}

impl WebSocketHandler for ChatController {
    async fn on_open(&self, conn: &Connection, req: &Request) -> Result<()> {
        let nickname = req
            .cookie("nickname")
            .as_deref()
            .and_then(protocol::nickname)
            .unwrap_or_else(|| format!("guest-{}", conn.fd()));
        tracing::info!(nickname = %nickname, "chat connection opened");
        let welcome = Outbound::Welcome {
            nickname: &nickname,
            fd: conn.fd().to_string(),
        };
        conn.push(welcome.to_json()).await?;
        conn.context().set(NICKNAME, nickname);
        conn.context().set(ROOMS, BTreeSet::<String>::new());
        Ok(())
    }

    async fn on_message(&self, conn: &Connection, msg: Message) -> Result<()> {
        let request = match serde_json::from_str::<Inbound>(msg.to_text()?) {
            Ok(request) => request,
            Err(error) => return refuse(conn, format!("not a chat request: {error}")).await,
        };
        let outcome = match request {
            Inbound::Join { room } => self.join(conn, &room).await,
            Inbound::Leave { room } => leave(conn, &room).await,
            Inbound::Message { room, text } => self.say(conn, &room, &text).await,
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(Refusal(text)) => refuse(conn, text).await,
        }
    }

    async fn on_close(&self, conn: &Connection, _close: CloseInfo) {
        let nickname = nickname_of(conn);
        for room in rooms_of(conn) {
            let notice = Outbound::notice(&room, NoticeEvent::Leave, &nickname);
            if let Err(error) = conn.sender().to_room(&room, notice.to_json(), None).await {
                tracing::warn!(room = %room, error = %error, "leave notice not sent");
            }
        }
    }
}

/// A request the server does not carry out; the client gets an `error` message.
struct Refusal(String);

impl From<String> for Refusal {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<SendError> for Refusal {
    fn from(error: SendError) -> Self {
        Self(error.to_string())
    }
}

impl ChatController {
    /// Joins `room`: the history to the newcomer first, then a notice to the whole room.
    async fn join(&self, conn: &Connection, room: &str) -> std::result::Result<(), Refusal> {
        let room = protocol::room_name(room)?;
        let mut rooms = rooms_of(conn);
        if !rooms.contains(room) && rooms.len() >= protocol::MAX_ROOMS_PER_CONNECTION {
            let max = protocol::MAX_ROOMS_PER_CONNECTION;
            return Err(format!("a connection is in at most {max} rooms").into());
        }
        // Joining before reading the history loses no line: one recorded in between arrives
        // twice (live and in the history), and the page drops the copy by its id.
        let added = conn.join(room).await?;
        if added {
            rooms.insert(room.to_string());
            conn.context().set(ROOMS, rooms);
        }
        let lines = self.history.lines(room);
        let history = Outbound::History {
            room,
            messages: lines.iter().map(Outbound::Message).collect(),
        };
        conn.push(history.to_json()).await?;
        if added {
            let nickname = nickname_of(conn);
            let notice = Outbound::notice(room, NoticeEvent::Join, &nickname);
            conn.sender().to_room(room, notice.to_json(), None).await?;
        }
        Ok(())
    }

    /// Records a line in `room`'s history and sends it to the room, the author included.
    async fn say(
        &self,
        conn: &Connection,
        room: &str,
        text: &str,
    ) -> std::result::Result<(), Refusal> {
        let room = protocol::room_name(room)?;
        let text = protocol::message_text(text)?;
        if !rooms_of(conn).contains(room) {
            return Err(format!("join #{room} before writing to it").into());
        }
        let line = self.history.record(room, &nickname_of(conn), text, false);
        conn.sender()
            .to_room(room, Outbound::Message(&line).to_json(), None)
            .await?;
        Ok(())
    }
}

/// Leaves `room`; the members left behind get a notice.
async fn leave(conn: &Connection, room: &str) -> std::result::Result<(), Refusal> {
    let room = protocol::room_name(room)?;
    let mut rooms = rooms_of(conn);
    if !rooms.remove(room) {
        return Ok(());
    }
    conn.context().set(ROOMS, rooms);
    conn.leave(room).await?;
    let nickname = nickname_of(conn);
    let notice = Outbound::notice(room, NoticeEvent::Leave, &nickname);
    conn.sender().to_room(room, notice.to_json(), None).await?;
    Ok(())
}

async fn refuse(conn: &Connection, text: String) -> Result<()> {
    conn.push(Outbound::Error { text }.to_json()).await?;
    Ok(())
}

fn nickname_of(conn: &Connection) -> String {
    conn.context().get(NICKNAME).unwrap_or_default()
}

fn rooms_of(conn: &Connection) -> BTreeSet<String> {
    conn.context().get(ROOMS).unwrap_or_default()
}
