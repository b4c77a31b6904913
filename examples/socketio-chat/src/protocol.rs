//! What the page and the namespace say to each other, as Socket.IO events.
//!
//! Client to server:
//!
//! | what | data | acknowledgement |
//! |---|---|---|
//! | CONNECT `auth` | `{"nickname": "ada"}` | `connect_error` with a message when refused |
//! | `join` | `"lobby"` | [`Joined`] or [`Refused`] |
//! | `say` | `{"text": "hello"}` | [`Delivered`] or [`Refused`] |
//!
//! Server to client: `message` ([`ChatMessage`], to the room's other members) and `notice`
//! ([`Notice`], someone joined or left, to the whole room).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Longest nickname, in characters.
pub(crate) const MAX_NICKNAME: usize = 24;
/// Longest room name, in characters.
pub(crate) const MAX_ROOM: usize = 32;
/// Longest message, in characters.
pub(crate) const MAX_TEXT: usize = 2000;

/// The CONNECT packet's `auth` (`io(url, { auth: { nickname } })`).
#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    /// Missing and empty are refused alike, with the same message.
    #[serde(default)]
    pub(crate) nickname: Option<String>,
}

/// `say`'s data.
#[derive(Debug, Deserialize)]
pub(crate) struct Say {
    pub(crate) text: String,
}

/// A line someone wrote, sent to the other members of the room.
#[derive(Debug, Serialize)]
pub(crate) struct ChatMessage<'a> {
    pub(crate) room: &'a str,
    pub(crate) from: &'a str,
    pub(crate) text: &'a str,
    /// Milliseconds since the Unix epoch.
    pub(crate) at: u64,
}

/// Someone joined or left a room.
#[derive(Debug, Serialize)]
pub(crate) struct Notice {
    pub(crate) room: String,
    pub(crate) text: String,
    /// Milliseconds since the Unix epoch.
    pub(crate) at: u64,
}

impl Notice {
    /// `"{nickname} joined #{room}"`.
    pub(crate) fn joined(room: &str, nickname: &str) -> Self {
        Self::new(room, format!("{nickname} joined #{room}"))
    }

    /// `"{nickname} left #{room}"`.
    pub(crate) fn left(room: &str, nickname: &str) -> Self {
        Self::new(room, format!("{nickname} left #{room}"))
    }

    fn new(room: &str, text: String) -> Self {
        Self {
            room: room.to_string(),
            text,
            at: now_ms(),
        }
    }
}

/// `join`'s acknowledgement.
#[derive(Debug, Serialize)]
pub(crate) struct Joined {
    pub(crate) room: String,
    /// Sockets in the room, the joiner included.
    pub(crate) members: usize,
}

/// `say`'s acknowledgement: the room's other members have been sent the message.
#[derive(Debug, Serialize)]
pub(crate) struct Delivered {
    /// When the server relayed it, in milliseconds since the Unix epoch.
    pub(crate) at: u64,
}

/// The acknowledgement of a request the server did not carry out.
#[derive(Debug, Serialize)]
pub(crate) struct Refused {
    pub(crate) error: String,
}

/// An acknowledgement: what was done, or why not. Untagged, so the page tests for `error`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Answer<T> {
    Done(T),
    Refused(Refused),
}

impl<T> From<Result<T, String>> for Answer<T> {
    fn from(result: Result<T, String>) -> Self {
        match result {
            Ok(done) => Answer::Done(done),
            Err(error) => Answer::Refused(Refused { error }),
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

/// The nickname of a login: trimmed, control characters dropped, at most [`MAX_NICKNAME`]
/// characters. The error is what the page shows under `connect_error`.
pub(crate) fn nickname(login: Option<Login>) -> Result<String, String> {
    let typed = login.and_then(|login| login.nickname).unwrap_or_default();
    let name: String = typed
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NICKNAME)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        return Err("pick a nickname first".into());
    }
    // Notices speak for the server; nobody may pose as it.
    if name.eq_ignore_ascii_case("system") {
        return Err(format!("{name:?} is reserved, pick another nickname"));
    }
    Ok(name.to_string())
}

/// A room name: 1 to [`MAX_ROOM`] ASCII letters, digits, `-` or `_`, so it is safe in any log
/// line or attribute.
pub(crate) fn room_name(room: &str) -> Result<&str, String> {
    let room = room.trim();
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

    fn login(nickname: Option<&str>) -> Option<Login> {
        Some(Login {
            nickname: nickname.map(str::to_string),
        })
    }

    #[test]
    fn a_nickname_is_required_trimmed_bounded_and_never_system() {
        assert_eq!(nickname(login(Some("  ada "))), Ok("ada".into()));
        assert_eq!(nickname(login(Some("a\u{7}b"))), Ok("ab".into()));
        assert_eq!(
            nickname(login(Some(&"x".repeat(40)))).map(|n| n.len()),
            Ok(MAX_NICKNAME)
        );
        for refused in [None, login(None), login(Some("")), login(Some("   "))] {
            assert_eq!(nickname(refused), Err("pick a nickname first".into()));
        }
        assert!(nickname(login(Some("System"))).is_err());
    }

    #[test]
    fn room_names_are_plain_ascii() {
        assert_eq!(room_name(" lobby-2_b "), Ok("lobby-2_b"));
        for bad in ["", "a b", "<script>", "é", &"r".repeat(MAX_ROOM + 1)] {
            assert!(room_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(message_text(" hi "), Ok("hi"));
        assert!(message_text("  ").is_err());
        assert!(message_text(&"m".repeat(MAX_TEXT + 1)).is_err());
    }

    #[test]
    fn answers_are_the_value_or_an_error_object() {
        let done: Answer<Delivered> = Ok(Delivered { at: 7 }).into();
        let refused: Answer<Delivered> = Err("no".to_string()).into();
        let json = |answer: &Answer<Delivered>| serde_json::to_string(answer).unwrap_or_default();
        assert_eq!(json(&done), r#"{"at":7}"#);
        assert_eq!(json(&refused), r#"{"error":"no"}"#);
    }
}
