//! Splits the byte stream from a modem into text lines.
//!
//! Modems end lines with `\r\n`, some with a bare `\r` (V.250 S3/S4 settings) or a bare `\n`;
//! answers arrive split across reads at any byte. Bytes that are not printable ASCII (line noise,
//! NUL padding after a reset, UTF-8 from a confused firmware) are dropped so that a final `OK`
//! glued to garbage is still recognised.

/// Longest line kept; a longer "line" is noise (or a broken modem) and is discarded whole.
/// 64 KiB holds the largest `+CGLA` answer (an extended-length APDU) with room to spare.
pub const MAX_LINE: usize = 65_536;

/// Incremental splitter: feed it bytes, take complete lines out.
#[derive(Debug, Default, Clone)]
pub struct LineSplitter {
    current: String,
    overflow: bool,
}

/// What the splitter produced for one terminated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitLine {
    /// A complete, non-empty line with noise removed and surrounding spaces trimmed.
    Text(String),
    /// A line longer than [`MAX_LINE`] that was dropped.
    Overflow,
}

impl LineSplitter {
    /// A splitter with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; every line they complete is appended to `out`. Empty lines are skipped.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SplitLine>) {
        for &b in bytes {
            match b {
                b'\r' | b'\n' => self.finish(out),
                0x20..=0x7e => {
                    if self.current.len() >= MAX_LINE {
                        self.overflow = true;
                        self.current.clear();
                    }
                    if !self.overflow {
                        self.current.push(char::from(b));
                    }
                }
                // Noise: NUL, XON/XOFF, 8-bit garbage. Dropped, see the module comment.
                _ => {}
            }
        }
    }

    /// The text buffered after the last line end (a prompt such as `> ` never gets one).
    pub fn pending(&self) -> &str {
        &self.current
    }

    /// Forgets any partial line (after a resynchronisation).
    pub fn clear(&mut self) {
        self.current.clear();
        self.overflow = false;
    }

    fn finish(&mut self, out: &mut Vec<SplitLine>) {
        if self.overflow {
            out.push(SplitLine::Overflow);
        } else {
            let t = self.current.trim();
            if !t.is_empty() {
                out.push(SplitLine::Text(t.to_string()));
            }
        }
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<SplitLine> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        out
    }

    fn text(s: &str) -> SplitLine {
        SplitLine::Text(s.into())
    }

    #[test]
    fn crlf_and_bare_cr_and_bare_lf_all_end_lines() {
        let out = split_all(&[b"\r\nA\r\n\r\nB\rC\nD\r\n"]);
        assert_eq!(out, vec![text("A"), text("B"), text("C"), text("D")]);
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        let out = split_all(&[b"\r\n+CSIM: 4,\"90", b"00\"\r", b"\n\r\nO", b"K\r\n"]);
        assert_eq!(out, vec![text("+CSIM: 4,\"9000\""), text("OK")]);
    }

    #[test]
    fn noise_bytes_are_dropped() {
        let out = split_all(&[b"\x00\xff\xfeOK\r\n\x11"]);
        assert_eq!(out, vec![text("OK")]);
    }

    #[test]
    fn overlong_line_is_reported_and_dropped() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(&vec![b'A'; MAX_LINE + 10], &mut out);
        s.push(b"\r\nOK\r\n", &mut out);
        assert_eq!(out, vec![SplitLine::Overflow, text("OK")]);
    }

    #[test]
    fn pending_shows_unterminated_text() {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        s.push(b"\r\n> ", &mut out);
        assert!(out.is_empty());
        assert_eq!(s.pending(), "> ");
    }
}
