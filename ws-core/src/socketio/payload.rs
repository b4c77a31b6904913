//! What an event carries: JSON arguments and binary attachments, and how handlers read and
//! answer them with serde types.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::packet::placeholder_num;

/// An event's arguments as sent: JSON values in which each binary attachment stands as a
/// `{"_placeholder": true, "num": N}` object, and the attachments themselves.
///
/// Take it as an event's payload to see every argument and the binary parts (the seed's `echo`
/// does), or return it from a handler to acknowledge with binary parts.
///
/// ```
/// use ws_core::socketio::Payload;
/// let payload = Payload::new(vec![serde_json::json!("file.bin")])
///     .with_binary(bytes::Bytes::from_static(b"\x00\x01"));
/// assert_eq!(payload.args().len(), 2);
/// assert_eq!(payload.binary(1).map(|b| b.len()), Some(2));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    args: Vec<Value>,
    attachments: Vec<Bytes>,
}

impl Payload {
    /// JSON arguments, without binary parts.
    pub fn new(args: Vec<Value>) -> Self {
        Self {
            args,
            attachments: Vec::new(),
        }
    }

    pub(crate) fn from_parts(args: Vec<Value>, attachments: Vec<Bytes>) -> Self {
        Self { args, attachments }
    }

    /// Appends a binary argument.
    pub fn with_binary(mut self, data: Bytes) -> Self {
        let num = self.attachments.len();
        self.args
            .push(serde_json::json!({"_placeholder": true, "num": num}));
        self.attachments.push(data);
        self
    }

    /// The arguments, binary ones as placeholders.
    pub fn args(&self) -> &[Value] {
        &self.args
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The binary data of argument `index`, when it is a binary argument.
    pub fn binary(&self, index: usize) -> Option<&Bytes> {
        let num = placeholder_num(self.args.get(index)?)?;
        self.attachments.get(usize::try_from(num).ok()?)
    }

    /// Appends a JSON argument: the offset recovery puts last.
    pub(crate) fn push_arg(&mut self, arg: Value) {
        self.args.push(arg);
    }

    pub(crate) fn into_parts(self) -> (Vec<Value>, Vec<Bytes>) {
        (self.args, self.attachments)
    }
}

/// Why a payload did not become the handler's type; the client gets it on the ack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid payload at `{path}`: {message}")]
pub struct PayloadError {
    /// Where in the payload, e.g. `room` or `.` for the whole value.
    pub path: String,
    /// What serde said.
    pub message: String,
}

/// A type an event handler can take as its payload: any `serde::Deserialize` type (read from
/// the event's first argument), or [`Payload`] for every argument with binary parts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a Socket.IO payload",
    label = "not deserializable",
    note = "derive `serde::Deserialize` for `{Self}`, or take `ws_core::socketio::Payload` for the raw arguments"
)]
pub trait FromPayload: Sized + Send {
    /// Reads the handler's value.
    fn from_payload(payload: Payload) -> Result<Self, PayloadError>;
}

impl<T: DeserializeOwned + Send> FromPayload for T {
    fn from_payload(payload: Payload) -> Result<Self, PayloadError> {
        let first = payload.args.into_iter().next().unwrap_or(Value::Null);
        serde_path_to_error::deserialize(first).map_err(|error| PayloadError {
            path: error.path().to_string(),
            message: error.into_inner().to_string(),
        })
    }
}

impl FromPayload for Payload {
    fn from_payload(payload: Payload) -> Result<Self, PayloadError> {
        Ok(payload)
    }
}

/// What a handler returns becomes the acknowledgement's arguments: a `Serialize` value is one
/// argument (`()` none), a [`Payload`] is sent as is, binary parts included.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot acknowledge a Socket.IO event",
    note = "return a `serde::Serialize` type, `()`, or `ws_core::socketio::Payload`"
)]
pub trait IntoAck {
    /// The acknowledgement's arguments.
    fn into_ack(self) -> Payload;
}

impl<T: Serialize> IntoAck for T {
    fn into_ack(self) -> Payload {
        match serde_json::to_value(self) {
            Ok(Value::Null) => Payload::default(),
            Ok(value) => Payload::new(vec![value]),
            Err(error) => Payload::new(vec![serde_json::json!({ "error": error.to_string() })]),
        }
    }
}

impl IntoAck for Payload {
    fn into_ack(self) -> Payload {
        self
    }
}

impl From<PayloadError> for Payload {
    fn from(error: PayloadError) -> Self {
        Payload::new(vec![serde_json::json!({ "error": error.to_string() })])
    }
}

/// What `on_connect` returns: `()` or `Ok(())` accepts; `Err(message)` refuses the namespace and
/// the client gets `connect_error` with the message.
pub trait IntoConnectResult {
    /// `Err` with the message the client sees.
    fn into_connect_result(self) -> Result<(), String>;
}

impl IntoConnectResult for () {
    fn into_connect_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: std::fmt::Display> IntoConnectResult for Result<(), E> {
    fn into_connect_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Any argument to `emit`: a `Serialize` value is one argument, a [`Payload`] its own arguments.
pub trait IntoPayload {
    /// The arguments; an error when the value does not serialize.
    fn into_payload(self) -> Result<Payload, serde_json::Error>;
}

impl<T: Serialize> IntoPayload for T {
    fn into_payload(self) -> Result<Payload, serde_json::Error> {
        Ok(Payload::new(vec![serde_json::to_value(self)?]))
    }
}

impl IntoPayload for Payload {
    fn into_payload(self) -> Result<Payload, serde_json::Error> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Say {
        #[allow(dead_code)]
        room: String,
    }

    #[test]
    fn a_payload_that_does_not_fit_names_the_field() {
        let error = Say::from_payload(Payload::new(vec![serde_json::json!({"room": 5})]))
            .expect_err("a number is not a room");
        assert_eq!(error.path, "room");
        assert!(error.to_string().starts_with("invalid payload at `room`"));
        let ack = ().into_ack();
        assert!(ack.args().is_empty());
        assert_eq!("x".into_ack().args(), [serde_json::json!("x")]);
    }
}
