//! What the store keeps: a recorded emit ([`Recorded`]) and a disconnected socket's session
//! ([`Saved`]), as compact JSON.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An emit to a namespace's rooms as it was recorded: what it said and whom it was for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Recorded {
    /// The event's name, then its arguments.
    #[serde(rename = "a")]
    pub(crate) args: Vec<Value>,
    /// Binary attachments, in base64.
    #[serde(rename = "b", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) attachments: Vec<String>,
    /// The rooms it went to; none: the whole namespace.
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rooms: Vec<String>,
    /// The rooms whose members it left out.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) except: Vec<String>,
    /// The socket that sent it with `socket.broadcast()` / `socket.to()`, left out too.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub(crate) except_socket: Option<String>,
}

impl Recorded {
    pub(crate) fn new(args: Vec<Value>, attachments: &[bytes::Bytes]) -> Self {
        Self {
            args,
            attachments: attachments
                .iter()
                .map(|a| base64::engine::general_purpose::STANDARD.encode(a))
                .collect(),
            rooms: Vec::new(),
            except: Vec::new(),
            except_socket: None,
        }
    }

    /// Whether a socket `id` in `rooms` (its own room included) was one it went to.
    pub(crate) fn was_for(&self, id: &str, rooms: &[String]) -> bool {
        let in_rooms = |wanted: &[String]| wanted.iter().any(|room| rooms.contains(room));
        (self.rooms.is_empty() || in_rooms(&self.rooms))
            && !in_rooms(&self.except)
            && self.except_socket.as_deref() != Some(id)
    }

    /// The attachments as bytes; `None` when the store handed back something that is not
    /// base64 (it was not written by this code).
    pub(crate) fn attachment_bytes(&self) -> Option<Vec<bytes::Bytes>> {
        self.attachments
            .iter()
            .map(|a| {
                base64::engine::general_purpose::STANDARD
                    .decode(a)
                    .ok()
                    .map(bytes::Bytes::from)
            })
            .collect()
    }
}

/// A socket's session, kept from when its transport was lost until it comes back or
/// `max_disconnection_duration_ms` runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Saved {
    /// The socket's id, which the client gets back.
    pub(crate) id: String,
    /// Its namespace: a private id shown to another namespace recovers nothing there.
    pub(crate) namespace: String,
    /// Its rooms, its own (named by its id) included.
    pub(crate) rooms: Vec<String>,
    /// Its presence metadata (JSON text), when it was tracked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) presence: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to(rooms: &[&str], except: &[&str], except_socket: Option<&str>) -> Recorded {
        Recorded {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
            except_socket: except_socket.map(str::to_owned),
            ..Recorded::new(vec![Value::from("say")], &[])
        }
    }

    #[test]
    fn selects_as_the_live_emit_did() {
        let rooms = ["a1".to_string(), "lobby".to_string()];
        assert!(to(&[], &[], None).was_for("a1", &rooms));
        assert!(to(&["lobby", "other"], &[], None).was_for("a1", &rooms));
        assert!(!to(&["other"], &[], None).was_for("a1", &rooms));
        assert!(!to(&[], &["lobby"], None).was_for("a1", &rooms));
        assert!(!to(&["lobby"], &[], Some("a1")).was_for("a1", &rooms));
        assert!(to(&["a1"], &[], None).was_for("a1", &rooms));
    }

    #[test]
    fn attachments_round_trip() {
        let recorded = Recorded::new(vec![], &[bytes::Bytes::from_static(b"\x00\xff")]);
        let text = serde_json::to_string(&recorded).unwrap();
        let back: Recorded = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.attachment_bytes().unwrap(),
            [bytes::Bytes::from_static(b"\x00\xff")]
        );
    }
}
