//! `ws` server, Socket.IO namespace `/`: nicknames, rooms, notices and acknowledged messages.

use ws_core::prelude::*;
use ws_core::socketio::DisconnectReason;

use crate::protocol::{self, Answer, ChatMessage, Delivered, Joined, Login, Notice, Say};

/// Socket data key of the nickname (`String`), set by `on_connect`.
const NICKNAME: &str = "nickname";
/// Socket data key of the room the socket is in (`String`). Kept in the socket's data rather
/// than read from `socket.rooms()`, because a closed connection has already left its rooms in
/// the registry when `on_disconnect` runs.
const ROOM: &str = "room";

/// The chat: a socket is in one room at a time; `join` moves it.
#[socketio_namespace(server = "ws", path = "/")]
pub(crate) struct ChatNamespace {
    #[inject]
    io: SocketIo,
}

#[socketio_events]
impl ChatNamespace {
    /// Takes the nickname from the CONNECT `auth`; without one the client gets
    /// `connect_error` with the reason, and no socket exists.
    async fn on_connect(&self, socket: &Socket, login: Option<Login>) -> Result<(), String> {
        let nickname = protocol::nickname(login)?;
        tracing::info!(id = socket.id(), %nickname, "chat socket connected");
        socket.data().set(NICKNAME, nickname);
        Ok(())
    }

    /// Moves the socket into `room`: the old room hears it leave, the new one (the joiner
    /// included) hears it arrive.
    #[event("join")]
    async fn on_join(&self, socket: &Socket, room: String) -> Answer<Joined> {
        self.join(socket, &room).await.into()
    }

    /// Sends the text to the room's other members; the acknowledgement tells the author it went
    /// out.
    #[event("say")]
    async fn on_say(&self, socket: &Socket, say: Say) -> Answer<Delivered> {
        say_in_room(socket, &say.text).await.into()
    }

    /// Announces the leave with the nickname and room the socket's data still holds here.
    async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let nickname = nickname_of(socket);
        tracing::info!(id = socket.id(), %nickname, %reason, "chat socket left");
        if let Some(room) = socket.data().get::<String>(ROOM) {
            let notice = Notice::left(&room, &nickname);
            if let Err(error) = self.io.to(&room).emit("notice", notice).await {
                tracing::warn!(%room, %error, "leave notice not sent");
            }
        }
    }
}

impl ChatNamespace {
    async fn join(&self, socket: &Socket, room: &str) -> Result<Joined, String> {
        let room = protocol::room_name(room)?;
        let nickname = nickname_of(socket);
        let previous = socket.data().get::<String>(ROOM);
        if previous.as_deref() != Some(room) {
            if let Some(previous) = previous {
                socket.leave(&previous).await.map_err(|e| e.to_string())?;
                let notice = Notice::left(&previous, &nickname);
                self.io
                    .to(&previous)
                    .emit("notice", notice)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            socket.join(room).await.map_err(|e| e.to_string())?;
            socket.data().set(ROOM, room.to_string());
            let notice = Notice::joined(room, &nickname);
            self.io
                .to(room)
                .emit("notice", notice)
                .await
                .map_err(|e| e.to_string())?;
        }
        let members = self.io.room_size(room).await.map_err(|e| e.to_string())?;
        Ok(Joined {
            room: room.to_string(),
            members,
        })
    }
}

async fn say_in_room(socket: &Socket, text: &str) -> Result<Delivered, String> {
    let text = protocol::message_text(text)?;
    let room = socket
        .data()
        .get::<String>(ROOM)
        .ok_or("join a room before writing")?;
    let nickname = nickname_of(socket);
    let at = protocol::now_ms();
    let message = ChatMessage {
        room: &room,
        from: &nickname,
        text,
        at,
    };
    socket
        .to(&room)
        .emit("message", message)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Delivered { at })
}

fn nickname_of(socket: &Socket) -> String {
    socket.data().get(NICKNAME).unwrap_or_default()
}
