//! The frames of the packets the server sends: events and acknowledgements, each a text frame
//! then one binary frame per attachment.

use serde_json::Value;

use super::packet::{Kind, Packet};
use super::payload::Payload;
use crate::ws::message::Message;

/// The frames of an EVENT (or BINARY_EVENT) packet: the text, then each attachment.
pub(crate) fn event_packet(
    namespace: &str,
    event: &str,
    payload: Payload,
    ack: Option<u64>,
) -> (Message, Vec<Message>) {
    let (mut args, attachments) = payload.into_parts();
    args.insert(0, Value::String(event.to_owned()));
    frames(Kind::Event, namespace, ack, args, attachments)
}

/// The frames of a packet carrying `args`: binary kind when there are attachments.
pub(crate) fn frames(
    kind: Kind,
    namespace: &str,
    ack: Option<u64>,
    args: Vec<Value>,
    attachments: Vec<bytes::Bytes>,
) -> (Message, Vec<Message>) {
    let kind = match (kind, attachments.is_empty()) {
        (Kind::Event, false) => Kind::BinaryEvent,
        (Kind::Ack, false) => Kind::BinaryAck,
        (kind, _) => kind,
    };
    let packet = Packet {
        kind,
        namespace: namespace.to_owned(),
        ack,
        data: Value::Array(args),
        attachments: attachments.len(),
    };
    let binaries = attachments.into_iter().map(Message::Binary).collect();
    (Message::text(packet.encode()), binaries)
}

/// The frames of an acknowledgement.
pub(crate) fn ack_frames(namespace: &str, id: u64, payload: Payload) -> (Message, Vec<Message>) {
    let (args, attachments) = payload.into_parts();
    frames(Kind::Ack, namespace, Some(id), args, attachments)
}
