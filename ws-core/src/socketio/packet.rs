//! The Engine.IO v4 and Socket.IO v5 packet codec, shared by the WebSocket and polling transports.
//!
//! One Engine.IO packet is one WebSocket frame: a text frame starts with its type digit
//! (`0` open, `1` close, `2` ping, `3` pong, `4` message, `6` noop); a binary frame is a message
//! whose body is binary (Engine.IO v4 sends it without a prefix over WebSocket). A Socket.IO
//! packet rides in a text message:
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`, and a binary event or ack is
//! followed by exactly `<attachments>` binary messages that replace its
//! `{"_placeholder":true,"num":N}` objects.
//!
//! `socketioxide`'s parser crates were evaluated for this and not used: they bring their own
//! value types where the framework hands users `serde_json::Value` and serde types, and they were
//! still changing before 1.0; the codec below is the protocol's whole grammar.

use bytes::Bytes;
use serde_json::Value;

/// What a malformed packet is; the session closes with it (never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The frame is not a packet of the protocol.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// The JSON part does not parse.
    #[error("malformed packet JSON")]
    Json,
    /// The attachment count does not match the placeholders, or is out of bounds.
    #[error("attachment count does not match its placeholders")]
    Attachments,
}

/// Most binary attachments one packet may announce. Each one is a WebSocket message of its own,
/// bounded by `max_payload`; the count bounds how many the session waits for.
pub(crate) const MAX_ATTACHMENTS: usize = 64;

/// An Engine.IO packet as read from a text frame.
#[derive(Debug, PartialEq)]
pub(crate) enum EnginePacket<'a> {
    Close,
    Ping,
    Pong,
    /// A Socket.IO packet, still encoded.
    Message(&'a str),
    Noop,
}

/// Reads an Engine.IO packet from a text frame.
pub(crate) fn decode_engine(text: &str) -> Result<EnginePacket<'_>, PacketError> {
    let mut chars = text.char_indices();
    let packet = match chars.next() {
        Some((_, '1')) => EnginePacket::Close,
        Some((_, '2')) => EnginePacket::Ping,
        Some((_, '3')) => EnginePacket::Pong,
        Some((_, '4')) => EnginePacket::Message(&text[1..]),
        Some((_, '6')) => EnginePacket::Noop,
        Some(_) => return Err(PacketError::Malformed("unknown Engine.IO packet type")),
        None => return Err(PacketError::Malformed("empty frame")),
    };
    Ok(packet)
}

/// The kind of a Socket.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl Kind {
    fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
            Kind::BinaryEvent => '5',
            Kind::BinaryAck => '6',
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, Kind::BinaryEvent | Kind::BinaryAck)
    }
}

/// A Socket.IO packet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Packet {
    pub(crate) kind: Kind,
    pub(crate) namespace: String,
    pub(crate) ack: Option<u64>,
    /// The JSON part; `Null` when absent.
    pub(crate) data: Value,
    /// Attachments still to come (decoding) or to send after the packet (encoding).
    pub(crate) attachments: usize,
}

/// Reads a Socket.IO packet (the body of an Engine.IO message).
pub(crate) fn decode(text: &str) -> Result<Packet, PacketError> {
    let bytes = text.as_bytes();
    let kind = match bytes.first() {
        Some(b'0') => Kind::Connect,
        Some(b'1') => Kind::Disconnect,
        Some(b'2') => Kind::Event,
        Some(b'3') => Kind::Ack,
        Some(b'4') => Kind::ConnectError,
        Some(b'5') => Kind::BinaryEvent,
        Some(b'6') => Kind::BinaryAck,
        _ => return Err(PacketError::Malformed("unknown Socket.IO packet type")),
    };
    let mut at = 1;
    let mut attachments = 0;
    if kind.is_binary() {
        let digits = digits_at(bytes, at);
        if digits == 0 || bytes.get(at + digits) != Some(&b'-') {
            return Err(PacketError::Malformed(
                "binary packet without its attachment count",
            ));
        }
        attachments = text[at..at + digits]
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_ATTACHMENTS)
            .ok_or(PacketError::Attachments)?;
        at += digits + 1;
    }
    let mut namespace = "/".to_string();
    if bytes.get(at) == Some(&b'/') {
        let end = text[at..].find(',').map_or(text.len(), |i| at + i);
        namespace = text[at..end].to_string();
        at = (end + 1).min(text.len());
    }
    let digits = digits_at(bytes, at);
    let mut ack = None;
    if digits > 0 {
        ack = Some(
            text[at..at + digits]
                .parse::<u64>()
                .map_err(|_| PacketError::Malformed("ack id out of range"))?,
        );
        at += digits;
    }
    let rest = &text[at..];
    let data = if rest.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(rest).map_err(|_| PacketError::Json)?
    };
    let packet = Packet {
        kind,
        namespace,
        ack,
        data,
        attachments,
    };
    packet.validate()?;
    Ok(packet)
}

fn digits_at(bytes: &[u8], at: usize) -> usize {
    bytes.get(at..).map_or(0, |rest| {
        rest.iter().take_while(|b| b.is_ascii_digit()).count()
    })
}

impl Packet {
    /// The shape each kind must have (socket.io-parser's `isPayloadValid`).
    fn validate(&self) -> Result<(), PacketError> {
        let ok = match self.kind {
            Kind::Connect => self.data.is_null() || self.data.is_object(),
            Kind::Disconnect => self.data.is_null(),
            Kind::ConnectError => self.data.is_object() || self.data.is_string(),
            Kind::Event | Kind::BinaryEvent => self
                .data
                .as_array()
                .and_then(|args| args.first())
                .is_some_and(Value::is_string),
            Kind::Ack | Kind::BinaryAck => self.ack.is_some() && self.data.is_array(),
        };
        if !ok {
            return Err(PacketError::Malformed("payload of the wrong shape"));
        }
        if self.kind.is_binary() {
            let mut seen = vec![false; self.attachments];
            check_placeholders(&self.data, &mut seen)?;
            if seen.iter().any(|s| !s) {
                return Err(PacketError::Attachments);
            }
        }
        Ok(())
    }

    /// The packet as the text of an Engine.IO message frame (`4` included).
    pub(crate) fn encode(&self) -> String {
        let mut out = String::with_capacity(16);
        out.push('4');
        out.push(self.kind.digit());
        if self.kind.is_binary() {
            out.push_str(&self.attachments.to_string());
            out.push('-');
        }
        if self.namespace != "/" {
            out.push_str(&self.namespace);
            out.push(',');
        }
        if let Some(id) = self.ack {
            out.push_str(&id.to_string());
        }
        if !self.data.is_null() {
            out.push_str(&self.data.to_string());
        }
        out
    }
}

/// Marks each placeholder's number in `seen`; a number out of range or seen twice is an error.
fn check_placeholders(value: &Value, seen: &mut [bool]) -> Result<(), PacketError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, seen)),
        Value::Object(map) => {
            if let Some(num) = placeholder_num(value) {
                let slot = usize::try_from(num)
                    .ok()
                    .and_then(|n| seen.get_mut(n))
                    .ok_or(PacketError::Attachments)?;
                if std::mem::replace(slot, true) {
                    return Err(PacketError::Attachments);
                }
                return Ok(());
            }
            map.values().try_for_each(|v| check_placeholders(v, seen))
        }
        _ => Ok(()),
    }
}

/// `Some(n)` for `{"_placeholder": true, "num": n}`.
pub(crate) fn placeholder_num(value: &Value) -> Option<u64> {
    let map = value.as_object()?;
    if map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    map.get("num")?.as_u64()
}

/// The Engine.IO open packet.
pub(crate) fn open_packet(
    sid: &str,
    upgrades: &[&str],
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    max_payload: usize,
) -> String {
    let body = serde_json::json!({
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
        "maxPayload": max_payload,
    });
    format!("0{body}")
}

/// A binary packet waiting for its attachments.
#[derive(Debug)]
pub(crate) struct Partial {
    pub(crate) packet: Packet,
    pub(crate) received: Vec<Bytes>,
}

impl Partial {
    /// Adds one attachment; the packet with all of them once complete.
    pub(crate) fn add(mut self, data: Bytes) -> Result<(Packet, Vec<Bytes>), Self> {
        self.received.push(data);
        if self.received.len() >= self.packet.attachments {
            Ok((self.packet, self.received))
        } else {
            Err(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_kind_of_packet() {
        let p = decode("0/admin,{\"token\":\"x\"}").unwrap();
        assert_eq!((p.kind, p.namespace.as_str()), (Kind::Connect, "/admin"));
        assert_eq!(p.data, json!({"token": "x"}));
        let p = decode("0").unwrap();
        assert_eq!((p.namespace.as_str(), &p.data), ("/", &Value::Null));
        let p = decode("212[\"event\",1]").unwrap();
        assert_eq!((p.kind, p.ack), (Kind::Event, Some(12)));
        let p = decode("3/a,7[\"ok\"]").unwrap();
        assert_eq!(
            (p.kind, p.ack, p.namespace.as_str()),
            (Kind::Ack, Some(7), "/a")
        );
        let p = decode("51-/a,3[\"echo\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.ack),
            (Kind::BinaryEvent, 1, Some(3))
        );
        assert_eq!(decode("1/a,").unwrap().kind, Kind::Disconnect);
        assert_eq!(decode_engine("3").unwrap(), EnginePacket::Pong);
        assert_eq!(
            decode_engine("42[\"a\"]").unwrap(),
            EnginePacket::Message("2[\"a\"]")
        );
    }

    #[test]
    fn refuses_what_lies() {
        for bad in [
            "",
            "9",
            "2",
            "2{}",
            "2[1]",
            "3[\"no id\"]",
            "5[\"e\"]",
            "51-[\"e\"]",
            "52-[\"e\",{\"_placeholder\":true,\"num\":0}]",
            "51-[\"e\",{\"_placeholder\":true,\"num\":1}]",
            "52-[\"e\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":0}]",
            "599-[\"e\"]",
            "2[\"e\"",
            "299999999999999999999999[\"e\"]",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(decode_engine("").is_err());
        assert!(decode_engine("x").is_err());
    }

    #[test]
    fn encodes_what_the_clients_read() {
        let packet = Packet {
            kind: Kind::BinaryAck,
            namespace: "/chat".into(),
            ack: Some(4),
            data: json!([{"_placeholder": true, "num": 0}]),
            attachments: 1,
        };
        let text = packet.encode();
        assert_eq!(text, "461-/chat,4[{\"_placeholder\":true,\"num\":0}]");
        assert_eq!(decode(&text[1..]).unwrap(), packet);
        let connect = Packet {
            kind: Kind::Connect,
            namespace: "/".into(),
            ack: None,
            data: json!({"sid": "1"}),
            attachments: 0,
        };
        assert_eq!(connect.encode(), "40{\"sid\":\"1\"}");
    }

    /// A fuzz loop over the decoder: random bytes and mutations of valid packets must decode or
    /// fail, never panic, and whatever decodes must encode back to something that decodes alike.
    #[test]
    fn the_decoder_never_panics_on_mutated_input() {
        let seeds = [
            "0/admin,{\"token\":\"x\"}",
            "212[\"event\",{\"a\":[1,2,3]}]",
            "52-/a,3[\"e\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}]]",
            "3/a,7[\"ok\",null]",
            "1/x,",
            "4{\"message\":\"no\"}",
        ];
        let alphabet = b"0123456789-/,[]{}\":_placeholdernumtrue \\\xc3\xa9";
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for round in 0..20_000 {
            let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(0..=bytes.len());
                match rng.u8(0..3) {
                    0 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    1 => bytes.insert(at, alphabet[rng.usize(0..alphabet.len())]),
                    _ => bytes.truncate(at),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = decode_engine(&text);
            if let Ok(packet) = decode(&text) {
                let again = decode(&packet.encode()[1..]).expect("an encoded packet decodes");
                assert_eq!(again, packet, "from {text:?}");
            }
        }
    }
}
