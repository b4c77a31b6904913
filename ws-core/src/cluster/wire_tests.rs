//! The wire format's tests: every command and reply round-trips, garbage is an error.

use super::*;
use crate::ws::message::{CloseCode, CloseFrame};

fn round_trip(frame: Frame) {
    let bytes = encode(&frame).expect("encodes");
    assert_eq!(decode(bytes).expect("decodes"), frame);
}

#[test]
fn every_command_round_trips() {
    let origin = NodeId(513);
    let messages = [
        Message::text("héllo"),
        Message::binary(vec![0u8, 159, 146, 150]),
        Message::text(""),
        Message::binary(Vec::new()),
        Message::Ping(Bytes::from_static(b"p")),
        Message::Pong(Bytes::new()),
        Message::Close(None),
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(4000),
            reason: "bye".into(),
        })),
    ];
    for message in messages {
        round_trip(Frame::Request {
            origin,
            id: 7,
            command: Command::Push {
                fd: Fd(1 << 48 | 9),
                message: message.clone(),
            },
        });
        round_trip(Frame::Cast {
            origin,
            command: Command::Broadcast {
                message: message.clone(),
                except: Some(Fd(3)),
            },
        });
        round_trip(Frame::Cast {
            origin,
            command: Command::RoomPush {
                room: "lobby ☕".into(),
                message,
                except: None,
            },
        });
    }
    round_trip(Frame::Request {
        origin,
        id: u64::MAX,
        command: Command::Disconnect {
            fd: Fd(5),
            code: 1000,
            reason: "done".into(),
        },
    });
    round_trip(Frame::Request {
        origin,
        id: 1,
        command: Command::Exists { fd: Fd(5) },
    });
    round_trip(Frame::Request {
        origin,
        id: 1,
        command: Command::Describe {
            rooms: vec!["a".into(), "b".into()],
            except: vec!["c".into()],
            meta_key: "k".into(),
        },
    });
    round_trip(Frame::Cast {
        origin: NodeId(2),
        command: Command::Notice {
            topic: "presence".into(),
            body: Bytes::from_static(b"{}"),
        },
    });
    round_trip(Frame::Request {
        origin: NodeId(1),
        id: 9,
        command: Command::RoomMembers {
            room: String::new(),
        },
    });
}

#[test]
fn text_and_binary_keep_their_opcode() {
    let text = encode(&Frame::Cast {
        origin: NodeId(1),
        command: Command::Broadcast {
            message: Message::text("ab"),
            except: None,
        },
    })
    .expect("encodes");
    let binary = encode(&Frame::Cast {
        origin: NodeId(1),
        command: Command::Broadcast {
            message: Message::binary(b"ab".to_vec()),
            except: None,
        },
    })
    .expect("encodes");
    assert_ne!(text, binary);
    match decode(binary).expect("decodes") {
        Frame::Cast {
            command:
                Command::Broadcast {
                    message: Message::Binary(b),
                    ..
                },
            ..
        } => assert_eq!(&b[..], b"ab"),
        other => panic!("binary came back as {other:?}"),
    }
}

#[test]
fn every_reply_round_trips() {
    let replies = [
        Reply::Ok,
        Reply::Exists(true),
        Reply::Exists(false),
        Reply::Delivered(12),
        Reply::Members(vec![Fd(1), Fd(u64::MAX)]),
        Reply::Members(Vec::new()),
        Reply::Described(vec![
            MemberInfo {
                fd: Fd(7),
                rooms: vec!["a".into(), "b".into()],
                meta: Some(r#"{"name":"ann"}"#.into()),
            },
            MemberInfo {
                fd: Fd(8),
                rooms: Vec::new(),
                meta: None,
            },
        ]),
        Reply::Described(Vec::new()),
        Reply::Failed(SendError::NotConnected(Fd(4))),
        Reply::Failed(SendError::Backpressure(Fd(4))),
        Reply::Failed(SendError::BrokerUnavailable("down".into())),
        Reply::Failed(SendError::Timeout {
            node: NodeId(2),
            millis: 2000,
        }),
    ];
    for reply in replies {
        round_trip(Frame::Reply {
            origin: NodeId(2),
            id: 99,
            reply,
        });
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let good = encode(&Frame::Request {
        origin: NodeId(1),
        id: 1,
        command: Command::Push {
            fd: Fd(1),
            message: Message::text("hello"),
        },
    })
    .expect("encodes");
    for len in 0..good.len() {
        assert!(
            decode(good.slice(..len)).is_err(),
            "a {len}-byte prefix decoded"
        );
    }
    let mut trailing = good.to_vec();
    trailing.push(0);
    assert_eq!(decode(Bytes::from(trailing)), Err(DecodeError::Trailing(1)));
    assert_eq!(
        decode(Bytes::from_static(&[9, 1])),
        Err(DecodeError::Version(9))
    );
    // A members reply claiming four billion fds in a tiny frame.
    let forged = [
        VERSION, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0xff, 0xff, 0xff, 0xff,
    ];
    assert_eq!(
        decode(Bytes::copy_from_slice(&forged)),
        Err(DecodeError::Truncated)
    );
    // Invalid UTF-8 in a text message.
    let mut bad_text = good.to_vec();
    let n = bad_text.len();
    bad_text[n - 1] = 0xff;
    assert_eq!(decode(Bytes::from(bad_text)), Err(DecodeError::Utf8));
}

#[test]
fn raw_frames_are_refused() {
    let frame = tungstenite::protocol::frame::Frame::ping(Vec::new());
    let result = encode(&Frame::Cast {
        origin: NodeId(1),
        command: Command::Broadcast {
            message: Message::Frame(frame),
            except: None,
        },
    });
    assert_eq!(result, Err(EncodeError::RawFrame));
}
