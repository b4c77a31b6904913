//! UTF-8 validation of a text message that arrives in pieces.

/// Validates a byte stream piece by piece; a character may be split between pieces.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    /// The start of a character cut off at the end of the last piece.
    carry: [u8; 4],
    carry_len: u8,
}

/// The stream is not UTF-8.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Stream {
    /// Checks the next piece; fails as soon as a byte makes the stream invalid.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            let have = usize::from(self.carry_len);
            let width = char_width(self.carry[0]);
            let take = (width - have).min(piece.len());
            self.carry[have..have + take].copy_from_slice(&piece[..take]);
            piece = &piece[take..];
            let have = have + take;
            match std::str::from_utf8(&self.carry[..have]) {
                Ok(_) => self.carry_len = 0,
                // Still a valid start of a character, waiting for its last bytes.
                Err(e) if e.error_len().is_none() => {
                    // `have < 4`: a complete 4-byte sequence is either valid or an error.
                    self.carry_len = have as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &piece[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                // An incomplete sequence is at most 3 bytes.
                self.carry_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The stream ended: a character still cut off is an error.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.carry_len == 0;
        self.carry_len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

/// The length of the sequence a leading byte announces (1 for bytes that cannot lead one, so
/// the check above reports them at once).
fn char_width(first: u8) -> usize {
    match first {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_pieces(bytes: &[u8], step: usize) -> Result<(), InvalidUtf8> {
        let mut stream = Utf8Stream::default();
        for piece in bytes.chunks(step) {
            stream.feed(piece)?;
        }
        stream.finish()
    }

    #[test]
    fn valid_text_passes_whatever_the_piece_size() {
        let text = "κόσμε €𝄞 hello".as_bytes();
        for step in 1..=text.len() {
            assert_eq!(in_pieces(text, step), Ok(()), "step {step}");
        }
    }

    #[test]
    fn invalid_text_fails_at_the_piece_that_breaks_it() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.feed(&[0xce, 0xba]), Ok(()));
        assert_eq!(stream.feed(&[0xe1]), Ok(()));
        assert_eq!(stream.feed(&[0xbd, 0xb9]), Ok(()));
        assert_eq!(stream.feed(&[0xf4, 0x90]), Err(InvalidUtf8));
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.feed(&[0xed, 0xa0]), Err(InvalidUtf8));
    }

    #[test]
    fn a_cut_off_character_fails_at_the_end() {
        assert_eq!(in_pieces(&[0x61, 0xe2, 0x82], 1), Err(InvalidUtf8));
        assert_eq!(in_pieces(&[0xff], 1), Err(InvalidUtf8));
    }
}
