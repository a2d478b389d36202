//! The few CBOR (RFC 8949) encoders OSCORE needs, written here on purpose.
//!
//! OSCORE encodes exactly three fixed structures in CBOR: the HKDF `info` array (RFC 8613
//! §3.2.1), the `external_aad` array and the COSE `Enc_structure` around it (§5.3, §5.4). All
//! three are built from definite-length arrays, byte strings, text strings, unsigned integers
//! and `nil`, and we only ever *encode* them (nothing CBOR is parsed from the wire: the OSCORE
//! option is not CBOR). A full CBOR crate would add a decoder, a data model and a dependency for
//! five helper functions; these are checked byte-exact against RFC 8613 Appendix C.

/// Appends a CBOR head: major type `major` (0..=7) with argument `v`, in the shortest form
/// (deterministic encoding, as COSE asks).
fn head(out: &mut Vec<u8>, major: u8, v: u64) {
    let m = major << 5;
    if v < 24 {
        out.push(m | v as u8);
    } else if let Ok(b) = u8::try_from(v) {
        out.extend_from_slice(&[m | 24, b]);
    } else if let Ok(s) = u16::try_from(v) {
        out.push(m | 25);
        out.extend_from_slice(&s.to_be_bytes());
    } else if let Ok(w) = u32::try_from(v) {
        out.push(m | 26);
        out.extend_from_slice(&w.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// An unsigned integer (major type 0).
pub(crate) fn uint(out: &mut Vec<u8>, v: u64) {
    head(out, 0, v);
}

/// A byte string (major type 2).
pub(crate) fn bstr(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// A text string (major type 3).
pub(crate) fn tstr(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The head of a definite-length array of `n` items (major type 4); the items follow.
pub(crate) fn array(out: &mut Vec<u8>, n: u64) {
    head(out, 4, n);
}

/// `nil` (simple value 22).
pub(crate) fn nil(out: &mut Vec<u8>) {
    out.push(0xf6);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_use_the_shortest_form() {
        let mut out = Vec::new();
        uint(&mut out, 23);
        uint(&mut out, 24);
        uint(&mut out, 256);
        uint(&mut out, 65536);
        uint(&mut out, 1 << 32);
        assert_eq!(
            out,
            [
                0x17, 0x18, 24, 0x19, 1, 0, 0x1a, 0, 1, 0, 0, 0x1b, 0, 0, 0, 1, 0, 0, 0, 0
            ]
        );
        let mut out = Vec::new();
        array(&mut out, 2);
        bstr(&mut out, &[]);
        tstr(&mut out, "IV");
        nil(&mut out);
        assert_eq!(out, [0x82, 0x40, 0x62, b'I', b'V', 0xf6]);
    }
}
