//! Command and response APDUs (ISO 7816-4, short lengths only: UICCs do not need extended ones).

use super::sw::StatusWord;

/// A command APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (00 for the basic channel).
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (Lc bytes, at most 255).
    pub data: Vec<u8>,
    /// Expected response length: `None` = no Le, `Some(0)` = up to 256 bytes.
    pub le: Option<u8>,
}

/// Why bytes are not a valid command APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    /// Fewer than the four header bytes.
    #[error("APDU too short: {0} bytes, a header needs 4")]
    TooShort(usize),
    /// Lc does not match the bytes that follow.
    #[error("APDU length mismatch: Lc = {lc} but {rest} bytes follow the header")]
    LengthMismatch {
        /// The Lc byte.
        lc: usize,
        /// Bytes after the 5-byte header.
        rest: usize,
    },
    /// Extended lengths (Lc = 00 followed by two bytes) are not supported.
    #[error("extended-length APDUs are not supported")]
    Extended,
    /// More than 255 data bytes in a short APDU.
    #[error("command data too long: {0} bytes (max 255)")]
    DataTooLong(usize),
}

impl Command {
    /// A command with no data and no Le.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Sets the command data.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets Le.
    pub fn with_le(mut self, le: u8) -> Self {
        self.le = Some(le);
        self
    }

    /// Serializes to bytes; fails when the data does not fit a short APDU.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ApduError> {
        if self.data.len() > 255 {
            return Err(ApduError::DataTooLong(self.data.len()));
        }
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(le);
        }
        Ok(out)
    }

    /// Parses a short command APDU (cases 1 to 4).
    pub fn parse(b: &[u8]) -> Result<Self, ApduError> {
        let (header, rest) = match b {
            [cla, ins, p1, p2, rest @ ..] => ([*cla, *ins, *p1, *p2], rest),
            _ => return Err(ApduError::TooShort(b.len())),
        };
        let [cla, ins, p1, p2] = header;
        let mut cmd = Self::new(cla, ins, p1, p2);
        match rest {
            [] => {}
            [le] => cmd.le = Some(*le),
            [0, _, ..] => return Err(ApduError::Extended),
            [lc, body @ ..] => {
                let lc = usize::from(*lc);
                if body.len() == lc {
                    cmd.data = body.to_vec();
                } else if body.len() == lc + 1 {
                    cmd.data = body[..lc].to_vec();
                    cmd.le = body.last().copied();
                } else {
                    return Err(ApduError::LengthMismatch {
                        lc,
                        rest: body.len(),
                    });
                }
            }
        }
        Ok(cmd)
    }
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// Status word.
    pub sw: StatusWord,
}

impl Response {
    /// Splits raw response bytes into data and SW; `None` when fewer than 2 bytes.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let split = b.len().checked_sub(2)?;
        let (data, sw) = b.split_at(split);
        Some(Self {
            data: data.to_vec(),
            sw: StatusWord::new(sw[0], sw[1]),
        })
    }

    /// A response with data and a status word.
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Self {
        Self { data, sw }
    }

    /// Serializes to bytes (data then SW1 SW2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_four_cases() {
        assert_eq!(Command::parse(&[0, 0xA4, 0, 4]).map(|c| c.le), Ok(None));
        assert_eq!(
            Command::parse(&[0, 0xB0, 0, 0, 9]).map(|c| c.le),
            Ok(Some(9))
        );
        let c3 = Command::parse(&[0, 0xA4, 0, 4, 2, 0x3F, 0x00]).expect("case 3");
        assert_eq!((c3.data.as_slice(), c3.le), (&[0x3F, 0x00][..], None));
        let c4 = Command::parse(&[0, 0xA4, 0, 4, 2, 0x3F, 0x00, 0]).expect("case 4");
        assert_eq!((c4.data.as_slice(), c4.le), (&[0x3F, 0x00][..], Some(0)));
        assert_eq!(c4.to_bytes(), Ok(vec![0, 0xA4, 0, 4, 2, 0x3F, 0x00, 0]));
    }

    #[test]
    fn rejects_bad_lengths() {
        assert_eq!(Command::parse(&[0, 0xA4, 0]), Err(ApduError::TooShort(3)));
        assert_eq!(
            Command::parse(&[0, 0xA4, 0, 4, 3, 1]),
            Err(ApduError::LengthMismatch { lc: 3, rest: 1 })
        );
        assert_eq!(
            Command::parse(&[0, 0xA4, 0, 4, 1, 1, 2, 3]),
            Err(ApduError::LengthMismatch { lc: 1, rest: 3 })
        );
        assert_eq!(
            Command::parse(&[0, 0xA4, 0, 4, 0, 0, 1]),
            Err(ApduError::Extended)
        );
        assert_eq!(
            Command::new(0, 0, 0, 0).with_data(vec![0; 256]).to_bytes(),
            Err(ApduError::DataTooLong(256))
        );
    }

    #[test]
    fn response_split() {
        let r = Response::parse(&[1, 2, 0x90, 0]).expect("response");
        assert_eq!((r.data, r.sw), (vec![1, 2], StatusWord::Ok));
        assert!(Response::parse(&[0x90]).is_none());
    }
}
