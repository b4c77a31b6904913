//! The long-polling payload of Engine.IO v4: the packets of one HTTP body joined with the record
//! separator (`\x1e`), a binary packet written as `b` and its base64.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::packet::PacketError;
use crate::ws::message::{CloseFrame, Message};
use crate::ws::outbox::Outbound;

/// Separates the packets of one payload (Engine.IO v4 `encodePayload`).
const SEPARATOR: char = '\u{1e}';

/// The noop packet: the answer to a poll with nothing to say.
pub(crate) const NOOP: &str = "6";

/// A poll's answer, from what the session's queue held.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    /// The payload; empty when nothing was queued.
    pub(crate) body: String,
    /// The close the queue ended with: the session ends once this answer is out.
    pub(crate) close: Option<CloseFrame>,
}

/// Writes queued packets as one payload. A queued close becomes the close packet (`1`) and
/// ends the payload: nothing is sent after it.
pub(crate) fn encode(items: VecDeque<Outbound>) -> Drained {
    let mut drained = Drained::default();
    let push = |body: &mut String, packet: &str| {
        if !body.is_empty() {
            body.push(SEPARATOR);
        }
        body.push_str(packet);
    };
    for item in items {
        match item {
            Outbound::Message(Message::Text(text)) => push(&mut drained.body, text.as_str()),
            Outbound::Message(Message::Binary(data)) => {
                let packet = format!("b{}", STANDARD.encode(&data));
                push(&mut drained.body, &packet);
            }
            Outbound::Close(frame) => {
                push(&mut drained.body, "1");
                drained.close = Some(frame);
                break;
            }
            // A bare connection has no socket and no compression: room pushes reach it as
            // messages, and WebSocket control frames mean nothing to a poll.
            Outbound::Message(_) | Outbound::Rest(_) | Outbound::Frame { .. } => {}
        }
    }
    drained
}

/// Reads a POSTed payload into the messages the WebSocket transport would have carried.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<Message>, PacketError> {
    let text =
        std::str::from_utf8(body).map_err(|_| PacketError::Malformed("payload is not UTF-8"))?;
    text.split(SEPARATOR)
        .map(|packet| match packet.strip_prefix('b') {
            Some(base64) => STANDARD
                .decode(base64)
                .map(|data| Message::Binary(Bytes::from(data)))
                .map_err(|_| PacketError::Malformed("binary packet is not base64")),
            None if packet.is_empty() => Err(PacketError::Malformed("empty packet in payload")),
            None => Ok(Message::text(packet)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_text_binary_and_ends_at_close() {
        let items = VecDeque::from([
            Outbound::Message(Message::text("2")),
            Outbound::Message(Message::Binary(Bytes::from_static(&[1, 2, 3]))),
            Outbound::Close(crate::ws::message::close_frame(1000, "")),
            Outbound::Message(Message::text("lost")),
        ]);
        let drained = encode(items);
        assert_eq!(drained.body, "2\u{1e}bAQID\u{1e}1");
        assert!(drained.close.is_some());
        let messages = decode(b"3\x1ebAQID").expect("a valid payload");
        assert_eq!(messages[0], Message::text("3"));
        assert_eq!(messages[1], Message::Binary(Bytes::from_static(&[1, 2, 3])));
        assert!(decode(b"4\x1e\x1e4").is_err());
        assert!(decode(b"b!!").is_err());
    }
}
