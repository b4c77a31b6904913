//! `--deflate`: permessage-deflate (RFC 7692) on the load generator's own frames, with the
//! server's own code (`ws_core::permessage_deflate`). Both directions without context takeover,
//! so each message is compressed once, replayed as is, and each echo inflates on its own.

pub(super) use ws_core::permessage_deflate::MessageInflater as Inflater;

/// The offer sent with `--deflate`: what browsers negotiate with a server that asks for no
/// context takeover either way.
pub(super) const OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// `payload` as a compressed message's payload (raw deflate, sync flush, tail removed).
pub(super) fn compress(payload: &[u8]) -> Vec<u8> {
    ws_core::permessage_deflate::compress_message(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips() {
        let message = b"{\"text\":\"hello hello hello hello hello\"}".repeat(20);
        let compressed = compress(&message);
        assert!(compressed.len() < message.len() / 4);
        let mut inflater = Inflater::default();
        assert_eq!(inflater.inflate(&compressed), Some(&message[..]));
        assert_eq!(inflater.inflate(&compressed), Some(&message[..]));
    }
}
