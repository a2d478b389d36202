//! A bounds-checked byte reader and small writer helpers. Every read returns a typed error
//! instead of panicking, so parsers built on it never panic on network input.

use super::{Field, WireError};

/// A cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize, what: Field) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated(what))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(WireError::Truncated(what))?;
        self.pos = end;
        Ok(out)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: Field) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self, what: Field) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian 24-bit value.
    pub fn u24(&mut self, what: Field) -> Result<u32, WireError> {
        let b = self.take(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Reads a big-endian 32-bit value.
    pub fn u32(&mut self, what: Field) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian 48-bit value.
    pub fn u48(&mut self, what: Field) -> Result<u64, WireError> {
        let b = self.take(6, what)?;
        Ok(u64::from_be_bytes([
            0, 0, b[0], b[1], b[2], b[3], b[4], b[5],
        ]))
    }

    /// Reads a vector with a one-byte length prefix.
    pub fn vec8(&mut self, what: Field) -> Result<&'a [u8], WireError> {
        let n = self.u8(what)? as usize;
        self.take(n, what)
    }

    /// Reads a vector with a two-byte length prefix.
    pub fn vec16(&mut self, what: Field) -> Result<&'a [u8], WireError> {
        let n = self.u16(what)? as usize;
        self.take(n, what)
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(&self, what: Field) -> Result<(), WireError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(what))
        }
    }
}

/// Appends a big-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends the low 24 bits of `v`, big-endian.
pub fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Appends the low 48 bits of `v`, big-endian.
pub fn put_u48(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

/// Appends a vector with a one-byte length prefix (caller guarantees len <= 255).
pub fn put_vec8(out: &mut Vec<u8>, v: &[u8]) {
    out.push(u8::try_from(v.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(v.get(..usize::from(u8::MAX).min(v.len())).unwrap_or(&[]));
}

/// Appends a vector with a two-byte length prefix (caller guarantees len <= 65535).
pub fn put_vec16(out: &mut Vec<u8>, v: &[u8]) {
    let n = v.len().min(usize::from(u16::MAX));
    put_u16(out, n as u16);
    out.extend_from_slice(v.get(..n).unwrap_or(&[]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(Field::RecordType), Ok(0x0102));
        assert_eq!(
            r.u16(Field::RecordVersion),
            Err(WireError::Truncated(Field::RecordVersion))
        );
        assert_eq!(r.u8(Field::RecordEpoch), Ok(3));
        assert!(r.finish(Field::RecordSeq).is_ok());
        let mut r = Reader::new(&[5, 1]);
        assert_eq!(
            r.vec8(Field::Cookie),
            Err(WireError::Truncated(Field::Cookie))
        );
    }

    #[test]
    fn writers_round_trip() {
        let mut out = Vec::new();
        put_u24(&mut out, 0x0A0B0C);
        put_u48(&mut out, 0x0102_0304_0506);
        put_vec16(&mut out, &[9, 9]);
        let mut r = Reader::new(&out);
        assert_eq!(r.u24(Field::HandshakeLength), Ok(0x0A0B0C));
        assert_eq!(r.u48(Field::RecordSeq), Ok(0x0102_0304_0506));
        assert_eq!(r.vec16(Field::ExtensionData), Ok(&[9u8, 9][..]));
    }
}
