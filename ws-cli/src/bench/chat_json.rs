//! `--json`-shaped payloads for `--payload chat`: what a chat app sends, so compression is
//! measured on the text it will meet. A repeating alphanumeric pattern deflates to almost
//! nothing and would flatter every compressor alike.

/// Words the messages are made of, drawn pseudo-randomly: prose-like text with repeats at the
/// distances real chat has.
const WORDS: [&str; 48] = [
    "the",
    "standup",
    "starts",
    "in",
    "five",
    "minutes",
    "see",
    "you",
    "there",
    "thanks",
    "for",
    "review",
    "merged",
    "branch",
    "deploy",
    "tonight",
    "after",
    "lunch",
    "can",
    "someone",
    "check",
    "dashboard",
    "latency",
    "looks",
    "fine",
    "now",
    "ok",
    "sure",
    "meeting",
    "room",
    "moved",
    "tomorrow",
    "morning",
    "ticket",
    "closed",
    "build",
    "green",
    "again",
    "coffee",
    "anyone",
    "release",
    "notes",
    "draft",
    "ready",
    "please",
    "ship",
    "it",
    "today",
];

/// A 64-bit LCG (Knuth's MMIX constants): the same text on every run, no dependency.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

/// Words up to exactly `len` bytes.
fn text(len: usize, state: &mut u64) -> String {
    let mut text = String::with_capacity(len + 16);
    while text.len() < len {
        let word = WORDS[next(state) as usize % WORDS.len()];
        text.push_str(word);
        text.push(' ');
    }
    // ASCII only, so any length is a character boundary.
    text.truncate(len);
    text
}

/// One chat message of JSON with `text_len` bytes of text.
fn message(id: usize, text_len: usize, state: &mut u64) -> String {
    let text = text(text_len, state);
    format!(
        r#"{{"type":"message","id":{id},"room":"lobby","from":"user{:03}","sent_at":"2026-12-06T03:{:02}:{:02}Z","text":"{text}"}}"#,
        next(state) % 1000,
        next(state) % 60,
        next(state) % 60,
    )
}

/// The bytes of `message` without its text.
fn message_overhead(id: usize) -> usize {
    message(id, 0, &mut 0).len()
}

/// A chat-like JSON text of exactly `size` bytes (or the smallest message, ~120 bytes, when
/// `size` is below it), distinct for each `variant`: one message up to 1 KiB, above that a
/// room's history of messages (a 4 KiB JSON document).
pub(super) fn chat_json(size: usize, variant: usize) -> Vec<u8> {
    let mut state = variant as u64 + 1;
    if size <= 1024 {
        let text_len = size.saturating_sub(message_overhead(variant));
        return message(variant, text_len, &mut state).into_bytes();
    }
    let mut doc = String::from(r#"{"type":"history","room":"lobby","messages":["#);
    let end = "]}";
    let mut id = variant * 1000;
    loop {
        let overhead = message_overhead(id);
        let left = size.saturating_sub(doc.len() + end.len());
        // The last message takes what is left; the ones before it are 40-160 bytes of text.
        if left < 2 * (overhead + 160) + 1 {
            doc.push_str(&message(id, left.saturating_sub(overhead), &mut state));
            break;
        }
        let text_len = 40 + next(&mut state) as usize % 120;
        doc.push_str(&message(id, text_len, &mut state));
        doc.push(',');
        id += 1;
    }
    doc.push_str(end);
    doc.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_json_of_the_size_asked_and_distinct() {
        for size in [300, 4096] {
            let first = chat_json(size, 0);
            let second = chat_json(size, 1);
            assert_eq!(first.len(), size);
            assert_eq!(second.len(), size);
            assert_ne!(first, second);
            let parsed: serde_json::Value = serde_json::from_slice(&first).expect("valid JSON");
            assert!(parsed.is_object());
        }
    }
}
