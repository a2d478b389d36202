//! CLA byte channel coding (TS 102 221 §10.1.1, ISO 7816-4): which logical channel a command
//! goes to. Used by the host for `+CGLA` and `+CSIM` on a logical channel, and by the virtual modem.

/// The logical channel a CLA byte names, and the CLA with the channel bits cleared.
pub fn split_cla(cla: u8) -> (u8, u8) {
    if cla & 0x40 != 0 {
        (4 + (cla & 0x0F), cla & 0xB0)
    } else {
        (cla & 0x03, cla & 0xFC)
    }
}

/// `cla` with channel `ch` (0..=19) encoded.
pub fn with_channel(cla: u8, ch: u8) -> u8 {
    let (_, base) = split_cla(cla);
    if ch < 4 {
        base | ch
    } else {
        base | 0x40 | ((ch - 4) & 0x0F)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cla_channel_bits() {
        assert_eq!(split_cla(0x00), (0, 0x00));
        assert_eq!(split_cla(0x03), (3, 0x00));
        assert_eq!(split_cla(0x81), (1, 0x80));
        assert_eq!(split_cla(0x40), (4, 0x00));
        assert_eq!(split_cla(0x4F), (19, 0x00));
        assert_eq!(split_cla(0xC2), (6, 0x80));
        for ch in 0..=19 {
            assert_eq!(split_cla(with_channel(0x00, ch)), (ch, 0x00));
            assert_eq!(split_cla(with_channel(0x80, ch)), (ch, 0x80));
        }
    }
}
