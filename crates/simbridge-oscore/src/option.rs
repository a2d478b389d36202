//! The OSCORE option value (RFC 8613 §6.1): a flag byte, then the partial IV, the kid context
//! (with its length byte) and the kid, each present or not as the flags say.
//!
//! ```text
//!  0 1 2 3 4 5 6 7
//! +-+-+-+-+-+-+-+-+-----------------+------------+---------------------+-----------+
//! |0 0 0|h|k|  n  | Partial IV (n)  | s (if h)   | kid context (s)     | kid (rest)|
//! +-+-+-+-+-+-+-+-+-----------------+------------+---------------------+-----------+
//! ```
//!
//! Parsing is strict, so that `encode(parse(x)) == x` for every accepted `x`: reserved bits,
//! n = 6 or 7, a one-byte value 0x00 (all-zero flags must be an empty value), a partial IV with
//! a leading zero byte (§6.1 asks for the shortest encoding) and bytes after the partial IV or
//! kid context when no kid follows are refused, each naming its field.

use crate::cose::MAX_PIV_LEN;
use crate::error::{Field, WireError};
use crate::reader::Reader;

/// Reserved flag bits (must be zero).
const RESERVED: u8 = 0b1110_0000;
/// The kid context flag.
const FLAG_H: u8 = 0b0001_0000;
/// The kid flag.
const FLAG_K: u8 = 0b0000_1000;
/// The partial IV length bits.
const MASK_N: u8 = 0b0000_0111;

/// A parsed OSCORE option value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OscoreOption {
    /// The partial IV (1..=5 bytes, shortest encoding), if present.
    pub partial_iv: Option<Vec<u8>>,
    /// The kid context (0..=255 bytes), if present.
    pub kid_context: Option<Vec<u8>>,
    /// The kid (possibly empty), if present.
    pub kid: Option<Vec<u8>>,
}

/// The shortest big-endian encoding of a sequence number as a partial IV (0 is one byte 0x00).
pub fn partial_iv_of(seq: u64) -> Vec<u8> {
    let b = seq.to_be_bytes();
    let skip = b.iter().take(7).take_while(|&&x| x == 0).count();
    b.get(skip..).unwrap_or(&[0]).to_vec()
}

/// The sequence number a partial IV of at most 5 bytes names.
pub fn seq_of(partial_iv: &[u8]) -> u64 {
    partial_iv
        .iter()
        .take(8)
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
}

impl OscoreOption {
    /// Parses an OSCORE option value. Never panics.
    pub fn parse(value: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(value);
        if r.is_empty() {
            return Ok(Self::default());
        }
        let flags = r.u8(Field::Flags)?;
        if flags & RESERVED != 0 || flags == 0 {
            return Err(WireError::Invalid(Field::Flags));
        }
        let n = usize::from(flags & MASK_N);
        if n > MAX_PIV_LEN {
            return Err(WireError::Invalid(Field::PartialIv));
        }
        let partial_iv = if n > 0 {
            let piv = r.take(n, Field::PartialIv)?;
            if n > 1 && piv.first() == Some(&0) {
                return Err(WireError::Invalid(Field::PartialIv));
            }
            Some(piv.to_vec())
        } else {
            None
        };
        let kid_context = if flags & FLAG_H != 0 {
            let s = r.u8(Field::KidContextLength)?;
            Some(r.take(usize::from(s), Field::KidContext)?.to_vec())
        } else {
            None
        };
        let kid = if flags & FLAG_K != 0 {
            Some(r.rest().to_vec())
        } else if !r.is_empty() {
            return Err(WireError::Trailing(Field::OscoreOption));
        } else {
            None
        };
        Ok(Self {
            partial_iv,
            kid_context,
            kid,
        })
    }

    /// Encodes the option value; refuses a partial IV that is empty, longer than 5 bytes or not
    /// in shortest form, and a kid context longer than 255 bytes.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut flags = 0u8;
        let mut out = vec![0u8];
        if let Some(piv) = &self.partial_iv {
            if piv.is_empty() || piv.len() > MAX_PIV_LEN || (piv.len() > 1 && piv[0] == 0) {
                return Err(WireError::Invalid(Field::PartialIv));
            }
            flags |= piv.len() as u8;
            out.extend_from_slice(piv);
        }
        if let Some(ctx) = &self.kid_context {
            let s = u8::try_from(ctx.len()).map_err(|_| WireError::Invalid(Field::KidContext))?;
            flags |= FLAG_H;
            out.push(s);
            out.extend_from_slice(ctx);
        }
        if let Some(kid) = &self.kid {
            flags |= FLAG_K;
            out.extend_from_slice(kid);
        }
        if flags == 0 {
            // §6.1: all flags zero is an empty option value.
            return Ok(Vec::new());
        }
        out[0] = flags;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(hex: &[u8]) -> OscoreOption {
        let o = OscoreOption::parse(hex).unwrap();
        assert_eq!(o.encode().unwrap(), hex);
        o
    }

    #[test]
    fn appendix_c_option_values() {
        // RFC 8613 Appendix C.4, C.5, C.6, C.7, C.8: the OSCORE option values.
        let o = round_trip(&[0x09, 0x14]);
        assert_eq!(o.partial_iv.as_deref(), Some(&[0x14][..]));
        assert_eq!(o.kid.as_deref(), Some(&[][..]));
        let o = round_trip(&[0x09, 0x14, 0x00]);
        assert_eq!(o.kid.as_deref(), Some(&[0x00][..]));
        let o = round_trip(&[
            0x19, 0x14, 0x08, 0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3,
        ]);
        assert_eq!(
            o.kid_context.as_deref(),
            Some(&[0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3][..])
        );
        assert_eq!(round_trip(&[]), OscoreOption::default());
        let o = round_trip(&[0x01, 0x00]);
        assert_eq!(o.partial_iv.as_deref(), Some(&[0][..]));
        assert_eq!(o.kid, None);
    }

    #[test]
    fn malformed_values_name_their_field() {
        let cases: &[(&[u8], WireError)] = &[
            (&[0x00], WireError::Invalid(Field::Flags)),
            (&[0x20, 1], WireError::Invalid(Field::Flags)),
            (&[0x80], WireError::Invalid(Field::Flags)),
            (
                &[0x06, 1, 2, 3, 4, 5, 6],
                WireError::Invalid(Field::PartialIv),
            ),
            (
                &[0x07, 1, 2, 3, 4, 5, 6, 7],
                WireError::Invalid(Field::PartialIv),
            ),
            (&[0x03, 1, 2], WireError::Truncated(Field::PartialIv)),
            (&[0x02, 0, 1], WireError::Invalid(Field::PartialIv)),
            (&[0x11, 1], WireError::Truncated(Field::KidContextLength)),
            (&[0x10, 4, 1, 2], WireError::Truncated(Field::KidContext)),
            (&[0x01, 1, 9], WireError::Trailing(Field::OscoreOption)),
        ];
        for (bytes, want) in cases {
            assert_eq!(OscoreOption::parse(bytes), Err(*want), "{bytes:02x?}");
        }
    }

    #[test]
    fn encode_refuses_unencodable_values() {
        let o = OscoreOption {
            partial_iv: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(o.encode(), Err(WireError::Invalid(Field::PartialIv)));
        let o = OscoreOption {
            kid_context: Some(vec![0; 256]),
            ..Default::default()
        };
        assert_eq!(o.encode(), Err(WireError::Invalid(Field::KidContext)));
    }

    #[test]
    fn partial_iv_numbers() {
        assert_eq!(partial_iv_of(0), [0]);
        assert_eq!(partial_iv_of(20), [0x14]);
        assert_eq!(partial_iv_of(0x0100), [1, 0]);
        assert_eq!(partial_iv_of((1 << 40) - 1), [0xff; 5]);
        assert_eq!(seq_of(&[1, 0]), 256);
        assert_eq!(seq_of(&[]), 0);
    }
}
