//! The chat protocol: one JSON object per WebSocket text message, tagged by `type`.
//!
//! Client to server:
//!
//! ```json
//! {"type": "join", "room": "lobby"}
//! {"type": "leave", "room": "lobby"}
//! {"type": "message", "room": "lobby", "text": "hello"}
//! ```
//!
//! Server to client: `welcome` (once, with the nickname the server took from the cookie),
//! `history` (to whoever joins), `message` (a chat or system line, with a per-room `id`),
//! `notice` (someone joined or left) and `error` (a request the server refused).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Longest nickname kept from the cookie, in characters.
pub(crate) const MAX_NICKNAME: usize = 24;
/// Longest room name, in characters.
pub(crate) const MAX_ROOM: usize = 32;
/// Longest message, in characters.
pub(crate) const MAX_TEXT: usize = 2000;
/// Rooms one connection may be in at once.
pub(crate) const MAX_ROOMS_PER_CONNECTION: usize = 16;

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Inbound {
    Join { room: String },
    Leave { room: String },
    Message { room: String, text: String },
}

/// One line of a room's conversation: what `message` carries and `history` lists.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatLine {
    /// Increases by one per line of the room, so a client can drop a line it already has.
    pub(crate) id: u64,
    pub(crate) room: String,
    pub(crate) from: String,
    pub(crate) text: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) ts: u64,
    /// Posted over HTTP (`POST /chat/system`), not by a user.
    pub(crate) system: bool,
}

/// Whether someone joined or left.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NoticeEvent {
    Join,
    Leave,
}

/// What the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Outbound<'a> {
    Welcome {
        nickname: &'a str,
        fd: String,
    },
    Message(&'a ChatLine),
    Notice {
        room: &'a str,
        event: NoticeEvent,
        nickname: &'a str,
        text: String,
        ts: u64,
    },
    /// The room's last lines, oldest first, each exactly as `message` sent it.
    History {
        room: &'a str,
        messages: Vec<Outbound<'a>>,
    },
    Error {
        text: String,
    },
}

impl Outbound<'_> {
    /// The JSON text of this message.
    pub(crate) fn to_json(&self) -> String {
        // Serialising these types cannot fail: every field is a string, number or bool.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A join or leave notice for `room`.
    pub(crate) fn notice<'a>(room: &'a str, event: NoticeEvent, nickname: &'a str) -> Outbound<'a> {
        let verb = match event {
            NoticeEvent::Join => "joined",
            NoticeEvent::Leave => "left",
        };
        Outbound::Notice {
            room,
            event,
            nickname,
            text: format!("{nickname} {verb} #{room}"),
            ts: now_ms(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// A room name: 1 to [`MAX_ROOM`] ASCII letters, digits, `-` or `_`, so it is safe in any URL,
/// log line or element id.
pub(crate) fn room_name(room: &str) -> Result<&str, String> {
    let valid = !room.is_empty()
        && room.len() <= MAX_ROOM
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(room)
    } else {
        Err(format!(
            "a room name is 1 to {MAX_ROOM} letters, digits, `-` or `_`, not {room:?}"
        ))
    }
}

/// The nickname of a cookie value: trimmed, control characters refused, at most
/// [`MAX_NICKNAME`] characters; `None` when nothing usable is left.
pub(crate) fn nickname(cookie: &str) -> Option<String> {
    let name: String = cookie
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NICKNAME)
        .collect();
    let name = name.trim();
    (!name.is_empty() && !name.eq_ignore_ascii_case("system")).then(|| name.to_string())
}

/// A message text: trimmed, non-empty, at most [`MAX_TEXT`] characters.
pub(crate) fn message_text(text: &str) -> Result<&str, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the message is empty".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("a message is at most {MAX_TEXT} characters"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_trimmed_bounded_and_never_system() {
        assert_eq!(nickname("  alice ").as_deref(), Some("alice"));
        assert_eq!(nickname("Zoë 🙂").as_deref(), Some("Zoë 🙂"));
        assert_eq!(nickname("a\u{7}b").as_deref(), Some("ab"));
        assert_eq!(
            nickname(&"x".repeat(40)).map(|n| n.len()),
            Some(MAX_NICKNAME)
        );
        assert_eq!(nickname("   "), None);
        assert_eq!(nickname("System"), None);
    }

    #[test]
    fn room_names_are_plain_ascii() {
        assert_eq!(room_name("lobby-2_b"), Ok("lobby-2_b"));
        for bad in ["", "a b", "<script>", "é", &"r".repeat(MAX_ROOM + 1)] {
            assert!(room_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_tagged_json() {
        let line = ChatLine {
            id: 3,
            room: "lobby".into(),
            from: "bob".into(),
            text: "hi".into(),
            ts: 1,
            system: false,
        };
        assert_eq!(
            Outbound::Message(&line).to_json(),
            r#"{"type":"message","id":3,"room":"lobby","from":"bob","text":"hi","ts":1,"system":false}"#
        );
        let join: Inbound =
            serde_json::from_str(r#"{"type":"join","room":"lobby"}"#).expect("a join");
        assert!(matches!(join, Inbound::Join { room } if room == "lobby"));
        assert!(serde_json::from_str::<Inbound>(r#"{"type":"shout"}"#).is_err());
    }
}
